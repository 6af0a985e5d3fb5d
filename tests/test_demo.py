"""`flask demo load`: the content a fresh `make run` shows, made through the real services."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import AssetRole, Campaign, Collective, MediaAsset, Role, User, Work, WorkKind, WorkStatus
from app.storage import get_storage
from app.works import services as svc


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_demo_load_builds_the_promised_content(runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output

    (campaign,) = db.session.scalars(sa.select(Campaign))
    assert svc.submission_is_open(campaign) and svc.voting_is_open(campaign)

    collectives = list(db.session.scalars(sa.select(Collective)))
    assert len(collectives) == 6
    assert len({c.industry for c in collectives}) == 6 and len({c.province for c in collectives}) == 6
    assert all(c.promise and c.supervision_channel and c.badge_key for c in collectives)
    assert all(get_storage().exists(c.badge_key) for c in collectives)

    assert _count(User, User.role == Role.ADMIN) == 1
    assert _count(User, User.role == Role.MODERATOR, User.province.is_(None)) == 1
    for collective in collectives:
        assert _count(User, User.role == Role.COLLECTIVE, User.collective_id == collective.id) == 1

    stories = list(db.session.scalars(sa.select(Work)))
    assert len(stories) == 10
    assert all(w.kind == WorkKind.STORY and w.status == WorkStatus.PUBLISHED for w in stories)
    for work in stories:
        images = _count(MediaAsset, MediaAsset.work_id == work.id, MediaAsset.role == AssetRole.IMAGE)
        assert 1 <= images <= 3
        assert "<img" in work.body_html


def test_demo_load_prints_each_password_once_labelled_and_working(runner):
    output = runner.invoke(args=["demo", "load"]).output
    accounts = re.findall(r"email: (\S+)\s+password: (\S+)", output)
    assert len(accounts) == 8
    assert "管理员" in output and "审核员" in output and "集体成员" in output
    for email, password in accounts:
        assert output.count(password) == 1
        assert db.session.scalar(sa.select(User).where(User.email == email)).check_password(password)


def test_if_empty_does_nothing_when_accounts_exist(runner, make_user):
    make_user()
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0
    assert _count(Collective) == 0 and _count(Work) == 0


def test_if_empty_loads_into_an_empty_database(runner):
    assert runner.invoke(args=["demo", "load", "--if-empty"]).exit_code == 0
    assert _count(Work) == 10
