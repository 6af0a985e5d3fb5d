"""One builder per entity, each writing its rows straight to SQL through the models: a campaign,
a collective, an account (one at a time, or many voters in one statement) and a work.

conftest.py wraps the common ones in fixtures (``open_campaign``, ``make_collective``,
``make_user``); a test that needs another shape calls the builder with its arguments. What must
also reach Redis or other services is not built here: a work counted in the rankings goes
through ``app.engagement.services.work_published`` (the counters are a cache of what the
service writes, not a row), comments through ``comments.post_comment``, moderation through its
services, so that tests see what those services keep in step.
"""

from __future__ import annotations

import functools
from datetime import timedelta

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from app.engagement import services
from app.extensions import db
from app.models import Campaign, Collective, Level, Role, User, Work, WorkKind, WorkStatus, utcnow
from config import TestingConfig
from tests.sign_in_support import PASSWORD


def make_campaign(*, submission_days=(-10, 30), voting_days=(-10, 60), title="测试活动") -> Campaign:
    """A campaign whose windows are given in days relative to now."""
    now = utcnow()
    campaign = Campaign(
        title=title,
        submission_opens=now + timedelta(days=submission_days[0]),
        submission_closes=now + timedelta(days=submission_days[1]),
        voting_opens=now + timedelta(days=voting_days[0]),
        voting_closes=now + timedelta(days=voting_days[1]),
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def make_collective(
    name: str = "北京地铁青年文明号", industry: str = "交通运输", province: str = "北京"
) -> Collective:
    collective = Collective(name=name, industry=industry, province=province, level=Level.PROVINCIAL)
    db.session.add(collective)
    db.session.commit()
    return collective


def make_user(n: int, role: Role | str = Role.VIEWER, *, collective=None, province=None, email=None) -> User:
    """Account number `n` of a test (user<n>@example.com, 用户<n>), with PASSWORD."""
    user = User(
        email=email or f"user{n}@example.com",
        display_name=f"用户{n}",
        role=Role(role),
        collective_id=collective.id if collective else None,
        province=province,
    )
    # One real hash of PASSWORD for every account, made once. Log-in still checks it the real way.
    user.password_hash = password_hash()
    db.session.add(user)
    db.session.commit()
    return user


@functools.cache
def password_hash() -> str:
    return generate_password_hash(PASSWORD, method=TestingConfig.PASSWORD_HASH_METHOD)


def make_voters(count: int, start: int = 0) -> list[int]:
    """Accounts inserted in one statement (hashing 200 passwords would take half a minute)."""
    rows = [
        {
            "email": f"voter{start + n}@example.com",
            "display_name": f"投票者{start + n}",
            "password_hash": "not-a-usable-hash",
            "role": Role.VIEWER,
            "banned": False,
            "created_at": utcnow(),
        }
        for n in range(count)
    ]
    db.session.execute(sa.insert(User), rows)
    db.session.commit()
    emails = [row["email"] for row in rows]
    return list(db.session.scalars(sa.select(User.id).where(User.email.in_(emails)).order_by(User.id)))


def make_work(
    collective,
    campaign,
    *,
    title="作品",
    kind="story",
    status="published",
    published_at=None,
    summary=None,
    body=None,
    body_html=None,
) -> Work:
    """A work row written directly (for listing tests that need many of them quickly). Not in
    the rankings: a test that needs its counters calls work_published (see above). The summary
    and the body default to texts made from the title; `body_html` is the body as rendered."""
    status = WorkStatus(status)
    body = f"{title}的正文" if body is None else body
    work = Work(
        collective_id=collective.id,
        campaign_id=campaign.id,
        kind=WorkKind(kind),
        title=title,
        summary=f"{title}的简介" if summary is None else summary,
        body=body,
        body_html=f"<p>{body}</p>" if body_html is None else body_html,
        status=status,
        published_at=published_at or (utcnow() if status == WorkStatus.PUBLISHED else None),
    )
    db.session.add(work)
    db.session.commit()
    return work


def make_published_story(campaign: Campaign) -> Work:
    """A published story of a Beijing collective, ranked and counted as publication leaves it."""
    work = make_work(make_collective("北京地铁青年文明号"), campaign, title="站台上的守候")
    services.work_published(work)
    return work


def view_count(work: Work) -> int:
    """The work's views as the counters give them (Redis, buffered views included)."""
    return services.counts_for([work.id])[work.id].views
