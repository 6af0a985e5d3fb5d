"""The account rules, checked where they live: app/auth/services.py."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.auth import services
from app.auth.services import authenticate, register_user, user_to_dict
from app.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.models import Role, User
from tests.sign_in_support import PASSWORD


def user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def test_register_user_creates_a_viewer_with_a_lower_case_email(app):
    user = register_user("  Li.Ming@Example.COM ", PASSWORD, "  李明 ")
    assert (user.email, user.display_name, user.role) == ("li.ming@example.com", "李明", Role.VIEWER)
    assert user.check_password(PASSWORD)
    assert user.password_hash != PASSWORD


@pytest.mark.parametrize("email", ["li@example.com", "LI@EXAMPLE.COM"])
def test_register_user_refuses_an_email_already_registered_in_any_case(app, email):
    register_user("li@example.com", PASSWORD, "李明")
    with pytest.raises(Conflict) as exc:
        register_user(email, PASSWORD, "另一个李明")
    assert exc.value.code == "email_taken"
    assert exc.value.message == "该邮箱已注册，请直接登录。"
    assert user_count() == 1


def test_a_lost_race_on_the_unique_email_is_refused_the_same_way(app, monkeypatch):
    register_user("li@example.com", PASSWORD, "李明")
    # Both sign-ups passed the pre-check; the unique index decides, and the session stays usable.
    monkeypatch.setattr(services, "_find_by_email", lambda email: None)
    with pytest.raises(Conflict) as exc:
        register_user("li@example.com", PASSWORD, "李明")
    assert exc.value.code == "email_taken"
    assert user_count() == 1


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("abc1234", "至少需要 8 个字符"),
        ("abcdefghij", "同时包含字母和数字"),
        ("1234567890", "同时包含字母和数字"),
        ("wangfang2026", "邮箱用户名"),
        ("xwangfangx9", "邮箱用户名"),
        ("Password1", "太常见"),
        ("woaini1314", "太常见"),
        ("1qaz2wsx", "太常见"),
    ],
)
def test_register_user_refuses_a_weak_password_and_says_why(app, password, reason):
    with pytest.raises(ValidationFailed) as exc:
        register_user("wangfang@example.com", password, "王芳")
    assert exc.value.code == "weak_password"
    assert reason in exc.value.fields["password"]
    assert user_count() == 0


def test_a_password_equal_to_the_email_name_is_refused_whatever_its_case(app):
    with pytest.raises(ValidationFailed) as exc:
        register_user("zhang2026@example.com", "Zhang2026", "张")
    assert exc.value.code == "weak_password"


def test_a_short_email_name_inside_the_password_is_fine(app):
    assert register_user("li@example.com", "lively2026", "李")


def test_a_very_long_password_is_refused_before_it_is_hashed(app):
    with pytest.raises(ValidationFailed) as exc:
        register_user("li@example.com", "a1" * 65, "李明")
    assert exc.value.code == "password_too_long"


@pytest.mark.parametrize("email", ["", "not-an-email", "li@", "li@localhost", "li ming@example.com"])
def test_register_user_refuses_an_invalid_email(app, email):
    with pytest.raises(ValidationFailed) as exc:
        register_user(email, PASSWORD, "李明")
    assert exc.value.code == "invalid_email"
    assert "email" in exc.value.fields
    assert user_count() == 0


@pytest.mark.parametrize("name", ["", "   ", "长" * 33])
def test_register_user_needs_a_display_name_of_1_to_32_characters(app, name):
    with pytest.raises(ValidationFailed) as exc:
        register_user("li@example.com", PASSWORD, name)
    assert exc.value.code == "invalid_display_name"
    assert user_count() == 0


def test_a_32_character_display_name_with_spaces_around_is_kept_stripped(app):
    user = register_user("li@example.com", PASSWORD, f"  {'长' * 32}  ")
    assert user.display_name == "长" * 32


def test_every_bad_field_is_reported_at_once(app):
    with pytest.raises(ValidationFailed) as exc:
        register_user("nope", "short", "")
    assert set(exc.value.fields) == {"email", "display_name", "password"}


def test_authenticate_returns_the_user_and_records_the_login_time(app, make_user):
    user = make_user(email="li@example.com")
    assert user.last_login_at is None
    assert authenticate(" LI@example.com", PASSWORD) is user
    assert user.last_login_at is not None


@pytest.mark.parametrize(
    ("email", "password"),
    [("li@example.com", "wrong-password-1"), ("nobody@example.com", PASSWORD), ("garbage", PASSWORD)],
)
def test_authenticate_returns_none_for_wrong_credentials(app, make_user, email, password):
    make_user(email="li@example.com")
    assert authenticate(email, password) is None


def test_an_unknown_email_still_costs_one_password_check(app, monkeypatch):
    checked = []
    real_check = services.check_password_hash
    monkeypatch.setattr(services, "check_password_hash", lambda h, p: checked.append(h) or real_check(h, p))
    assert authenticate("nobody@example.com", PASSWORD) is None
    assert len(checked) == 1


def test_a_banned_user_with_the_right_password_is_told_the_account_is_suspended(app, make_user):
    user = make_user(email="li@example.com")
    user.banned = True
    db.session.commit()
    with pytest.raises(Forbidden) as exc:
        authenticate("li@example.com", PASSWORD)
    assert exc.value.code == "account_banned"
    assert "停用" in exc.value.message


def test_a_banned_user_with_a_wrong_password_learns_nothing_about_the_ban(app, make_user):
    user = make_user(email="li@example.com")
    user.banned = True
    db.session.commit()
    assert authenticate("li@example.com", "wrong-password-1") is None


def test_user_to_dict_shows_role_collective_and_province(app, make_user, make_collective):
    collective = make_collective()
    member = make_user(Role.COLLECTIVE, collective=collective)
    moderator = make_user(Role.MODERATOR, province="广东")
    assert user_to_dict(member) == {
        "id": member.id,
        "email": member.email,
        "display_name": member.display_name,
        "role": "collective",
        "collective": {"id": collective.id, "name": collective.name},
        "province": None,
    }
    assert user_to_dict(moderator)["province"] == "广东"
    assert user_to_dict(moderator)["collective"] is None
