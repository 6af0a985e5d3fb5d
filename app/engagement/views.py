"""Views: one per viewer per work per day, counted in Redis and flushed to SQL in batches.

``record_view`` adds the viewer to the work's set for the day (a SET per work-day, so the count is
exact, not estimated) and, for a new viewer, increments both the work's pending-views buffer and
its live ``views`` counter in one script, so pages show the view at once. ``flush_views`` (the
periodic job) takes each buffer with GETDEL and adds it to ``work.view_count`` (and to the day's
``view_day`` row, for the dashboard) in one SQL transaction per batch; a failed transaction puts
the views back.

Bounded loss. Views live only in Redis until flushed, so what can be lost is: on a Redis crash
without persistence, the views recorded since the last flush (at most one flush interval, 60 s
by default; with appendfsync everysec, about one second); if the flushing process dies between
GETDEL and its commit, the views of that one batch. The day's viewer sets go with a Redis crash
too, so someone may be counted twice that day: views can be over- or under-counted by at most
one interval's worth, never more. Likes and comments are never at risk this way: their truth is
their SQL rows.

The buffer's Redis operations are here with the rest of views (key names: app/redis_keys.py); the
one script that touches the work's counts hash keeps to the counters' rule: it only moves a
``views`` field that exists, never creates it (app/engagement/counters.py repopulates a lost hash).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime
from typing import Any

import redis
import sqlalchemy as sa
from flask import current_app, request

from app import clock
from app.clients import address_block, client_ip
from app.engagement import counters, visitors
from app.engagement.like_targets import like_target
from app.extensions import db, redis_client
from app.models import ViewDay, Work, WorkStatus
from app.redis_keys import counts_key, pending_views_key, seen_key, views_dirty_key

log = logging.getLogger(__name__)

FLUSH_BATCH = 500
# Viewer sets live two days: long enough to cover the day they count, whatever the time zone.
SEEN_TTL_SECONDS = 2 * 24 * 3600

# KEYS: viewers of the day, counts, pending views. ARGV: viewer, ttl seconds.
# 0 = this viewer was already counted today; else the pending count after this view.
_RECORD_VIEW = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local pending = redis.call('INCR', KEYS[3])
if redis.call('HEXISTS', KEYS[2], 'views') == 1 then redis.call('HINCRBY', KEYS[2], 'views', 1) end
return pending
"""


# Views per work per day for the dashboard, added up in SQL (the syntax PostgreSQL and SQLite share).
_ADD_VIEW_DAY = sa.text(
    f'INSERT INTO "{ViewDay.__tablename__}" (work_id, day, views) VALUES (:work_id, :day, :views) '
    "ON CONFLICT (work_id, day) DO UPDATE SET views = view_day.views + excluded.views"
).bindparams(sa.bindparam("day", type_=sa.Date()))


def viewer_key(user: Any, ip: str | None, user_agent: str | None, visitor: str | None = None) -> str:
    """Who is viewing: the account when signed in, else the visitor id of the browser's cookie
    (app/engagement/visitors.py), else, for a client that returns no cookie, its address and
    User-Agent.

    That fallback is a keyed hash (no raw address in Redis, meaningless outside this site) of the
    address, plus one of COOKIELESS_VIEWERS_PER_IP buckets picked by the User-Agent: the same
    client is one viewer, and inventing User-Agents adds at most that many viewers per address."""
    if user is not None and getattr(user, "is_authenticated", False):
        return f"u{user.id}"
    if visitor:
        return f"v{visitor}"
    secret = current_app.config["SECRET_KEY"].encode()
    # An IPv6 client is its /64: it can take a new address of it for every request.
    block = address_block(ip) if ip else ""
    address = hmac.new(secret, f"ip\n{block}".encode(), hashlib.sha256).hexdigest()[:24]
    agent = hmac.new(secret, f"ua\n{user_agent or ''}".encode(), hashlib.sha256).digest()
    bucket = int.from_bytes(agent[:4], "big") % max(1, current_app.config["COOKIELESS_VIEWERS_PER_IP"])
    return f"a{address}.{bucket}"


def view_day(now: datetime | None = None) -> str:
    """The viewing day, in the campaign's time zone (a day starts at local midnight)."""
    return clock.local_day_key(now)


def record_view(work: Work, viewer: str, *, now: datetime | None = None) -> bool:
    """Count a view of a published work, once per viewer per day. True if it counted.

    Never raises for Redis: a page must render even when the view cannot be counted.
    """
    if work.status != WorkStatus.PUBLISHED:
        return False
    try:
        return add_view(work.id, view_day(now), viewer)
    except redis.RedisError:
        log.info("view of work %s not counted, Redis is away", work.id)
        return False


def count_page_view(work_id: int, user: Any) -> bool:
    """Count the caller's view of a work page (its view beacon, or a signed-in reader's state
    call): once per viewer per day (``viewer_key`` from the request), published works only. True
    if it counted. Publication is read from what this process remembers of published works for a
    moment (app/engagement/like_targets.py), not from SQL on every view: a view of a work taken
    down within that moment counts like one a moment earlier. A work ``user`` may not see raises
    ServiceError (404), as its page does."""
    viewer = viewer_key(user, client_ip(), request.user_agent.string, visitors.visitor_id())
    return record_view(like_target(work_id, user), viewer)  # type: ignore[arg-type]


def flush_views(*, batch_size: int = FLUSH_BATCH, lock_wait: float = 60.0) -> int:
    """Move buffered views into ``work.view_count``; returns how many views were flushed.

    Runs under the counters job lock, so a reconcile never measures views mid-flush.
    """
    flushed = 0
    with counters.job_lock(wait=lock_wait):
        table = Work.__table__
        statement = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("work_id"))
            # updated_at says when the work's content changed; a view count is not that.
            .values(view_count=table.c.view_count + sa.bindparam("views"), updated_at=table.c.updated_at)
        )
        while True:
            pending = take_pending_views(batch_size)
            if not pending:
                break
            rows = [{"work_id": work_id, "views": n} for work_id, n in pending.items() if n > 0]
            if rows:
                try:
                    db.session.execute(statement, rows)
                    # The day the views reach SQL stands for the day they happened: off by at
                    # most one flush interval around midnight.
                    day = clock.parse_day_key(view_day())
                    db.session.execute(_ADD_VIEW_DAY, [{**row, "day": day} for row in rows])
                    db.session.commit()
                except Exception:
                    db.session.rollback()
                    restore_pending_views(pending)
                    raise
            flushed += sum(row["views"] for row in rows)
    return flushed


# --------------------------------------------------------------------------------------------
# The buffer in Redis.


def add_view(work_id: int, day: str, viewer: str) -> bool:
    """Count a view unless this viewer was counted for this work on ``day``."""
    client = redis_client.client
    pending = client.eval(
        _RECORD_VIEW,
        3,
        seen_key(work_id, day),
        counts_key(work_id),
        pending_views_key(work_id),
        viewer,
        SEEN_TTL_SECONDS,
    )
    if pending == 1:
        # The first pending view since the last flush: tell the flusher about this work. (Later
        # ones find it listed; a flush that races this SADD leaves it listed for the next one.)
        client.sadd(views_dirty_key(), work_id)
    return bool(pending)


def take_pending_views(limit: int) -> dict[int, int]:
    """Pop up to ``limit`` works with pending views and take their counts (GETDEL)."""
    client = redis_client.client
    ids = [int(raw) for raw in client.spop(views_dirty_key(), limit) or []]
    if not ids:
        return {}
    pipe = client.pipeline(transaction=False)
    for work_id in ids:
        pipe.getdel(pending_views_key(work_id))
    return {work_id: int(n or 0) for work_id, n in zip(ids, pipe.execute(), strict=True)}


def restore_pending_views(pending: dict[int, int]) -> None:
    """Put taken views back after the SQL write failed."""
    client = redis_client.client
    pipe = client.pipeline(transaction=False)
    for work_id, n in pending.items():
        if n:
            pipe.incrby(pending_views_key(work_id), n)
    if pending:
        pipe.sadd(views_dirty_key(), *pending)
    pipe.execute()


def pending_views(work_id: int) -> int:
    return int(redis_client.client.get(pending_views_key(work_id)) or 0)
