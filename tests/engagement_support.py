"""Helpers shared by the engagement tests: likes read straight from SQL, the test's own Redis
keys, a Redis that does not answer, and requests run at the same moment."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import redis
import sqlalchemy as sa
from flask import current_app

from app import redis_keys
from app.engagement import counters
from app.extensions import db, redis_client
from app.models import Like

DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


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
    return redis_client.client.zscore(ranking.key(), redis_keys.member(work_id))


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


def all_at_once(app, jobs: Sequence[Callable[[], object]]) -> list[Exception]:
    """Run each job on a thread of its own (its own app context and session), all released
    together by a barrier; the errors they raised."""
    start = threading.Barrier(len(jobs))
    errors: list[Exception] = []

    def run(job):
        with app.app_context():
            try:
                start.wait()
                job()
            except Exception as exc:  # collected, and asserted on by the test
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


_pausing = threading.local()


def pause_here() -> None:
    """Mark the calling thread as one that :func:`widened_window` pauses."""
    _pausing.on = True


@contextmanager
def widened_window(pattern: str, seconds: float = 0.02) -> Iterator[None]:
    """Threads that called :func:`pause_here` stop ``seconds`` after each SQL statement matching
    ``pattern``: it widens the window between a check and the write that follows it, so that a
    race test finds a missing lock in most rounds rather than now and then. Where the lock is
    held, the pause only makes the others wait for it."""
    regex = re.compile(pattern, re.DOTALL)

    def after(conn, cursor, statement, parameters, context, executemany):
        if getattr(_pausing, "on", False) and regex.search(statement):
            time.sleep(seconds)

    sa.event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", after)


@contextmanager
def another_request() -> Iterator[None]:
    """Run the block as another request would, in a session of its own (committed or not,
    the caller's session keeps the objects it had loaded, as a request in flight does)."""
    with current_app.app_context():
        try:
            yield
        finally:
            db.session.remove()
