"""The vote-integrity detector: scored evidence for moderators, never an automatic verdict."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.errors import Forbidden, NotFound
from app.extensions import db
from app.models import Comment, FlagStatus, Like, ModerationEvent, Role, User, VoteFlag, utcnow
from app.moderation import integrity
from tests.conftest import PASSWORD
from tests.works_helpers import make_work, page_csrf_token, sign_in


@pytest.fixture
def world(make_collective, open_campaign):
    beijing = make_collective("北京地铁青年文明号", "交通运输", "北京")
    other = make_collective("上海银行青年文明号", "金融", "上海")
    work = make_work(beijing, open_campaign, title="站台上的温暖守候")
    elsewhere = make_work(other, open_campaign, title="柜台前的微笑")
    return {"work": work, "elsewhere": elsewhere, "now": utcnow()}


def accounts(n: int, *, created, prefix: str) -> list[User]:
    users = [
        User(
            email=f"{prefix}{i}@example.com",
            display_name=f"{prefix}{i}",
            password_hash=PASSWORD,
            created_at=created,
        )
        for i in range(n)
    ]
    db.session.add_all(users)
    db.session.commit()
    return users


def like(users, work, *, at, ip) -> None:
    """Likes written straight into SQL with their time and address: what the detector reads."""
    db.session.add_all(
        Like(
            user_id=u.id,
            work_id=work.id,
            ip=ip(i) if callable(ip) else ip,
            created_at=at(i) if callable(at) else at,
        )
        for i, u in enumerate(users)
    )
    db.session.commit()


def test_a_burst_from_one_subnet_of_fresh_accounts_is_flagged(world):
    now, work = world["now"], world["work"]
    fresh = accounts(60, created=now - timedelta(minutes=10), prefix="fresh")
    like(fresh, work, at=now - timedelta(minutes=5), ip=lambda i: f"203.0.113.{i % 200 + 1}")
    flags = integrity.detect(now=now)
    assert [f.work_id for f in flags] == [work.id]
    evidence = flags[0].evidence
    assert flags[0].score >= integrity.THRESHOLD
    assert '"top_subnet": "203.0.113.0/24"' in evidence
    assert sorted(integrity.suspect_ids(flags[0])) == sorted(u.id for u in fresh)


def test_an_ordinary_steady_stream_from_many_old_accounts_is_not_flagged(world):
    now, work = world["now"], world["work"]
    old = accounts(200, created=now - timedelta(days=90), prefix="old")
    # They use the site: each has liked another collective's work and commented before.
    like(old, world["elsewhere"], at=now - timedelta(days=30), ip="198.51.100.7")
    db.session.add_all(Comment(work_id=world["elsewhere"].id, user_id=u.id, body="好") for u in old[:50])
    db.session.commit()
    # 200 likes spread over the last 25 hours, from addresses all over: about 2 per window.
    like(
        old,
        work,
        at=lambda i: now - timedelta(minutes=7.5 * i + 1),
        ip=lambda i: f"10.{i % 250}.{(i * 7) % 250}.{i % 200 + 1}",
    )
    assert integrity.detect(now=now) == []


def test_an_office_mobilising_its_long_standing_staff_is_not_flagged(world):
    now, work = world["now"], world["work"]
    staff = accounts(80, created=now - timedelta(days=200), prefix="staff")
    like(staff, work, at=now - timedelta(minutes=3), ip="192.0.2.10")  # one office NAT, one burst
    assert integrity.detect(now=now) == []


def test_a_few_likes_are_never_a_burst(world):
    now = world["now"]
    fresh = accounts(integrity.MIN_LIKES - 1, created=now - timedelta(minutes=2), prefix="few")
    like(fresh, world["work"], at=now - timedelta(minutes=1), ip="203.0.113.9")
    assert integrity.detect(now=now) == []


def test_running_again_updates_the_open_flag_instead_of_adding_one(world):
    now, work = world["now"], world["work"]
    first = accounts(40, created=now - timedelta(minutes=10), prefix="a")
    like(first, work, at=now - timedelta(minutes=6), ip="203.0.113.5")
    integrity.detect(now=now)
    later = accounts(40, created=now - timedelta(minutes=8), prefix="b")
    like(later, work, at=now - timedelta(minutes=2), ip="203.0.113.6")
    integrity.detect(now=now + timedelta(minutes=1))
    flags = list(db.session.scalars(sa.select(VoteFlag)))
    assert len(flags) == 1
    assert set(integrity.suspect_ids(flags[0])) == {u.id for u in first + later}


def test_subnets_group_ipv4_by_24_and_ipv6_by_48():
    assert integrity.subnet_of("203.0.113.77") == "203.0.113.0/24"
    assert integrity.subnet_of("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert integrity.subnet_of("not an address") is None and integrity.subnet_of(None) is None


# --- moderators -----------------------------------------------------------------------------------


@pytest.fixture
def flagged(world):
    now, work = world["now"], world["work"]
    fresh = accounts(30, created=now - timedelta(minutes=10), prefix="bot")
    like(fresh, work, at=now - timedelta(minutes=4), ip="203.0.113.50")
    (flag,) = integrity.detect(now=now)
    return flag, fresh


def test_the_flags_page_shows_the_evidence_to_the_provinces_moderator(client, make_user, flagged):
    flag, _ = flagged
    sign_in(client, make_user(Role.MODERATOR, province="北京"))
    page = client.get("/moderation/flags").get_data(as_text=True)
    assert "站台上的温暖守候" in page and "203.0.113.0/24" in page and "新注册账号" in page


def test_a_moderator_of_another_province_does_not_see_the_flag(client, make_user, flagged):
    flag, _ = flagged
    moderator = make_user(Role.MODERATOR, province="上海")
    assert integrity.open_flags(moderator) == []
    with pytest.raises(NotFound):
        integrity.dismiss_flag(moderator, flag.id)


def test_dismissing_a_flag_writes_one_audit_event(make_user, flagged):
    flag, _ = flagged
    moderator = make_user(Role.MODERATOR, province="北京")
    integrity.dismiss_flag(moderator, flag.id, "单位组织职工集中点赞")
    assert flag.status == FlagStatus.DISMISSED
    assert [(e.action, e.target_id) for e in db.session.scalars(sa.select(ModerationEvent))] == [
        ("flag_dismiss", flag.work_id)
    ]


def test_voiding_a_flag_removes_the_suspects_likes(client, make_user, flagged):
    flag, fresh = flagged
    sign_in(client, make_user(Role.ADMIN))
    response = client.post(
        f"/moderation/flags/{flag.id}/void",
        data={"csrf_token": page_csrf_token(client), "reason": "新账号刷票"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(VoteFlag, flag.id).status == FlagStatus.VOIDED
    remaining = db.session.scalar(
        sa.select(sa.func.count()).select_from(Like).where(Like.work_id == flag.work_id)
    )
    assert remaining == 0


def test_only_national_moderators_void(make_user, flagged):
    flag, _ = flagged
    with pytest.raises(Forbidden):
        integrity.void_flag(make_user(Role.MODERATOR, province="北京"), flag.id, "刷票")


def test_the_cli_runs_the_detector(runner, flagged):
    result = runner.invoke(args=["moderation", "detect"])
    assert result.exit_code == 0 and "检测完成" in result.output
