"""`flask users create …` exactly as DESIGN.md "Running it" gives it, and `flask users list`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Collective, Level, Role, User
from tests.sign_in_support import PASSWORD


def create(runner, email="someone@example.com", role="viewer", *extra):
    return runner.invoke(
        args=["users", "create", "--email", email, "--password", PASSWORD, "--role", role, *extra]
    )


def user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def collectives() -> list[Collective]:
    return list(db.session.scalars(sa.select(Collective)))


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_create_makes_an_account_of_the_role_and_says_so(runner, role):
    result = create(runner, f"{role}@example.com", role)
    assert result.exit_code == 0, result.output
    created = user(f"{role}@example.com")
    assert created.role == Role(role)
    assert created.check_password(PASSWORD)
    assert f"{role}@example.com" in result.output
    assert f"角色 {role}" in result.output


def test_create_normalises_the_email_and_can_set_a_display_name(runner):
    result = create(runner, "Admin@Example.COM", "admin", "--display-name", "活动管理员")
    assert result.exit_code == 0, result.output
    assert user("admin@example.com").display_name == "活动管理员"


def test_a_moderator_with_a_province_is_provincial(runner):
    result = create(runner, "gd@example.com", "moderator", "--province", "广东")
    assert result.exit_code == 0, result.output
    moderator = user("gd@example.com")
    assert (moderator.role, moderator.province, moderator.is_national) == (Role.MODERATOR, "广东", False)
    assert "负责省份 广东" in result.output


def test_a_moderator_without_a_province_is_national(runner):
    result = create(runner, "national@example.com", "moderator")
    assert result.exit_code == 0, result.output
    moderator = user("national@example.com")
    assert moderator.province is None and moderator.is_national
    assert "全国审核员" in result.output


def test_a_collective_member_creates_the_named_collective_when_absent(runner):
    result = create(
        runner,
        "metro@example.com",
        "collective",
        "--collective",
        "北京地铁青年文明号",
        "--industry",
        "交通运输",
        "--province",
        "北京",
    )
    assert result.exit_code == 0, result.output
    [collective] = collectives()
    assert (collective.name, collective.industry, collective.province, collective.level) == (
        "北京地铁青年文明号",
        "交通运输",
        "北京",
        Level.PROVINCIAL,
    )
    member = user("metro@example.com")
    assert (member.role, member.collective_id, member.province) == (Role.COLLECTIVE, collective.id, None)
    assert "已创建集体" in result.output


def test_a_collective_member_joins_an_existing_collective(runner, make_collective):
    existing = make_collective(name="北京地铁青年文明号")
    result = create(runner, "metro2@example.com", "collective", "--collective", "北京地铁青年文明号")
    assert result.exit_code == 0, result.output
    assert [c.id for c in collectives()] == [existing.id]
    assert user("metro2@example.com").collective_id == existing.id
    assert "使用已有集体" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "必须用 --collective"),
        (["--collective", "新集体"], "需要同时给出 --industry 和 --province"),
        (["--collective", "新集体", "--industry", "挖矿", "--province", "北京"], "未知的行业"),
        (["--collective", "新集体", "--industry", "金融", "--province", "火星"], "未知的省份"),
    ],
)
def test_a_collective_member_needs_a_valid_collective_and_nothing_is_stored_otherwise(runner, extra, message):
    result = create(runner, "metro@example.com", "collective", *extra)
    assert result.exit_code != 0
    assert message in result.output
    assert user("metro@example.com") is None
    assert collectives() == []


@pytest.mark.parametrize(
    ("role", "extra", "message"),
    [
        ("moderator", ["--province", "火星"], "未知的省份"),
        ("viewer", ["--collective", "北京地铁青年文明号"], "只有角色为 collective"),
        ("admin", ["--province", "北京"], "--province 只用于"),
    ],
)
def test_options_that_do_not_fit_the_role_are_refused(runner, role, extra, message):
    result = create(runner, "x@example.com", role, *extra)
    assert result.exit_code != 0
    assert message in result.output
    assert user("x@example.com") is None


def test_create_refuses_a_registered_email_clearly(runner, make_user):
    make_user(email="taken@example.com")
    result = create(runner, "TAKEN@example.com", "admin")
    assert result.exit_code == 1
    assert "该邮箱已有账号" in result.output
    assert user("taken@example.com").role == Role.VIEWER


def test_create_refuses_a_weak_password(runner):
    result = runner.invoke(
        args=["users", "create", "--email", "a@example.com", "--password", "12345678", "--role", "admin"]
    )
    assert result.exit_code == 1
    assert "字母和数字" in result.output
    assert user("a@example.com") is None


def test_create_refuses_an_unknown_role(runner):
    result = create(runner, "a@example.com", "superuser")
    assert result.exit_code == 2
    assert user("a@example.com") is None


def test_list_shows_every_account_with_role_and_scope(runner, make_user, make_collective):
    make_user(Role.MODERATOR, province="广东", email="gd@example.com")
    make_user(Role.COLLECTIVE, collective=make_collective(name="深圳供电青年文明号"), email="sz@example.com")
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0, result.output
    assert "gd@example.com\tmoderator\t广东" in result.output
    assert "sz@example.com\tcollective\t-\t深圳供电青年文明号" in result.output
