"""Helpers shared by the engagement tests: works and voters written straight to SQL, the
test's own Redis keys, and a Redis that does not answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import redis
import sqlalchemy as sa
from flask import current_app

from app.engagement import counters
from app.extensions import db, redis_client
from app.models import Collective, Level, Like, Role, User, Work, WorkKind, WorkStatus, utcnow

DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


def make_work(collective, campaign, *, title="作品", status=WorkStatus.PUBLISHED, published_at=None) -> Work:
    status = WorkStatus(status)
    work = Work(
        collective_id=collective.id,
        campaign_id=campaign.id,
        kind=WorkKind.STORY,
        title=title,
        status=status,
        published_at=published_at or (utcnow() if status == WorkStatus.PUBLISHED else None),
    )
    db.session.add(work)
    db.session.commit()
    return work


def make_collective(name: str, industry: str = "交通运输", province: str = "北京") -> Collective:
    collective = Collective(name=name, industry=industry, province=province, level=Level.PROVINCIAL)
    db.session.add(collective)
    db.session.commit()
    return collective


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


def like_rows(work_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Like).where(Like.work_id == work_id))


def liked_pairs() -> set[tuple[int, int]]:
    return set(db.session.execute(sa.select(Like.user_id, Like.work_id)).tuples())


def own_keys() -> list[bytes]:
    prefix = current_app.config["REDIS_KEY_PREFIX"]
    return list(redis_client.client.scan_iter(match=f"{prefix}*", count=1000))


def flush_test_keys() -> int:
    """Delete this test's keys only (its prefix): other suites share the server."""
    keys = own_keys()
    for key in keys:
        redis_client.client.delete(key)
    return len(keys)


def kill_redis() -> None:
    """Point the app at a port where nothing listens, as if Redis were down."""
    redis_client._client = redis.Redis.from_url(DEAD_REDIS_URL, socket_connect_timeout=0.2)


def revive_redis() -> None:
    redis_client._client = redis.Redis.from_url(
        current_app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=2
    )


def zscore(ranking: counters.Ranking, work_id: int) -> float | None:
    return redis_client.client.zscore(ranking.key(), counters.member(work_id))


def ranking_ids(ranking: counters.Ranking) -> list[int]:
    return [int(m) for m in redis_client.client.zrevrange(ranking.key(), 0, -1)]


def in_threads(app, jobs, worker, threads: int = 8) -> list[Exception]:
    """Run worker(job) for every job on a thread pool, each in its own app context; the errors."""
    errors: list[Exception] = []

    def run(job):
        with app.app_context():
            try:
                worker(job)
            except Exception as exc:  # collected, and asserted on by the test
                errors.append(exc)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, jobs))
    return errors
