"""Likes, counters and rankings: what pages, the API and other services call.

A like is acknowledged only once its row is committed (an insert that ignores the duplicate on
the unique (user_id, work_id) key); only if a row was really inserted (or deleted, for an unlike)
do the counters move, in Redis, right after the commit. Nothing here ever updates a counter
column in SQL.

Redis down: ``like_work``/``unlike_work`` (and anything using ``counting``) refuse with 503 before
writing SQL, so nothing is half-written. If Redis fails *after* the commit, the like stands (it
is durable) and the answer is counted from SQL; the periodic reconcile repairs the counter.
Reads (``counts_for``, ``top_works``) fall back to SQL. The rankings reader lives in
app/engagement/rankings.py; ``top_works`` and its page types are re-exported here, the one door
pages and other capabilities use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import redis
import sqlalchemy as sa
from flask_babel import gettext as _

from app import statements_alone
from app.auth.services import token_still_live
from app.auth.sessions import session_still_live
from app.auth.verification import ensure_may_engage
from app.catalog.campaigns import ensure_voting_open
from app.engagement import counters, like_targets, measure, rankings, reconcile, scoring
from app.engagement.counters import Flight, FlightResult, WorkCounts
from app.engagement.rankings import RankedWork, RankingPage, top_works  # noqa: F401 - the facade
from app.engagement.scoring import Ranking
from app.errors import RateLimited, ServiceError
from app.extensions import db
from app.models import ApiToken, Like, LoginSession, User, Work, WorkStatus, utcnow
from app.observability import metrics
from app.rate_limits import HIT_WINDOWS, account_and_ip_hits
from app.works.services import get_visible_work

log = logging.getLogger(__name__)


def _unavailable() -> ServiceError:
    return ServiceError(_("点赞服务暂时繁忙，请稍后再试。"), code="counters_unavailable", status=503)


def ensure_can_vote(work: Work, *, unlike: bool = False, now: datetime | None = None) -> None:
    """Likes (and unlikes) count only on published works, inside the campaign's voting window."""
    if work.status != WorkStatus.PUBLISHED:
        action = _("取消点赞") if unlike else _("点赞")
        raise ServiceError(
            _("作品尚未发布，暂时不能%(action)s。", action=action), code="work_not_published", status=409
        )
    ensure_voting_open(work.campaign, now)


def work_rankings(work: Work) -> tuple[Ranking, ...]:
    return scoring.rankings_for(work.campaign_id, work.collective.industry, work.collective.province)


# --------------------------------------------------------------------------------------------
# Writes that move counters.


@contextmanager
def counting(
    work: Work, rankings: Iterable[Ranking] = (), *, flight: Flight | None = None
) -> Iterator[Flight]:
    """Wrap an SQL write that moves the work's counters.

    Registers the write in Redis first (503, nothing written, if Redis is down), unless it comes
    with the ``flight`` it registered already (``like_gate``); the block commits, then sets
    ``flight.likes`` / ``flight.comments`` to what the commit changed; on leaving, the counters
    move. Afterwards ``flight.result`` holds the work's exact counts, or is None when Redis
    failed after the commit (the write stands; reconcile repairs Redis).
    """
    if flight is None:
        try:
            flight = counters.begin_flight(work.id, rankings)
        except (redis.RedisError, counters.CountersBusy) as exc:
            log.warning("counters unavailable for work %s: %s", work.id, exc)
            raise _unavailable() from exc
    else:
        flight.rankings = tuple(rankings)
    try:
        yield flight
    except Exception:
        db.session.rollback()
        flight.abandon()
        raise
    _finish(flight)


def _finish(flight: Flight) -> None:
    try:
        result = flight.finish()
        if result.status != "ok":
            # The counts hash is gone (Redis flushed or restarted) or the fence lost this write:
            # never answer from an increment on an empty hash; recount this work from SQL.
            counts = reconcile.recount_works([flight.work_id]).counts[flight.work_id]
            flight.result = FlightResult("ok", counts.likes, counts.comments)
        elif result.rankings_missing:
            counters.mark_for_repair([flight.work_id])
    except redis.RedisError:
        log.warning("counters of work %s not updated after commit; reconcile repairs", flight.work_id)
        flight.result = None


# The work is still published, checked in the statement that writes: a like or unlike whose
# request read the work just before a moderator took it down changes nothing (a row lock here
# would queue every like of a hot work behind one another).
_STILL_PUBLISHED = (
    f'EXISTS (SELECT 1 FROM "{Work.__table__.name}" '
    f"WHERE id = :work_id AND status = '{WorkStatus.PUBLISHED.value}')"
)


def _like_insert(condition: str = "", *params: sa.BindParameter) -> sa.TextClause:
    """INSERT … ON CONFLICT DO NOTHING RETURNING, in the syntax PostgreSQL and SQLite (3.35+)
    share; ``condition``: what else the statement checks before it writes.

    Written as text because SQLAlchemy never caches the dialects' own INSERT constructs (their
    on_conflict clauses): built that way, the hottest statement was compiled again on every like.
    RETURNING says whether this statement made the row (psycopg reports no row count here)."""
    checks = f"{_STILL_PUBLISHED} AND {condition}" if condition else _STILL_PUBLISHED
    return sa.text(
        f'INSERT INTO "{Like.__table__.name}" (user_id, work_id, ip, created_at) '
        f"SELECT :user_id, :work_id, :ip, :created_at WHERE {checks} "
        "ON CONFLICT (user_id, work_id) DO NOTHING RETURNING id"
    ).bindparams(
        sa.bindparam("user_id", type_=sa.Integer),
        sa.bindparam("work_id", type_=sa.Integer),
        sa.bindparam("ip", type_=Like.__table__.c.ip.type),
        sa.bindparam("created_at", type_=Like.__table__.c.created_at.type),
        *params,
    )


_INSERT_LIKE = _like_insert()


def _still_signed_in_sql(table: sa.Table, credential_param: str) -> str:
    """An API token's or a login session's row (``:<credential_param>``) still opens the account
    and the account is not banned, as SQL text for the INSERTs (``_still_signed_in`` builds the
    same for the unlike's DELETE)."""
    return (
        f'EXISTS (SELECT 1 FROM "{table.name}" c JOIN "{User.__table__.name}" u '
        f"ON u.id = c.user_id WHERE c.id = :{credential_param} AND c.user_id = :user_id "
        "AND c.expires_at > :created_at AND u.banned = false)"
    )


# A like or unlike sent with an API token also checks, in its writing statement, that the token
# is still live and its account not banned: web processes remember a token's account for a few
# seconds (app/auth/token_cache.py), and a revoked token or a banned account must still write
# nothing, at once, on every process.
_INSERT_LIKE_BY_TOKEN = _like_insert(
    _still_signed_in_sql(ApiToken.__table__, "token_id"), sa.bindparam("token_id", type_=sa.Integer)
)

# A like or unlike sent with a session cookie checks its login session the same way: web processes
# take the account from the session cache (app/auth/session_cache.py), and a browser signed out
# or banned must write nothing, at once, on every process, even when Redis failed to hear of it.
# (A password change ends every login session: the reset by e-mail is the only way to make one.)
_INSERT_LIKE_BY_SESSION = _like_insert(
    _still_signed_in_sql(LoginSession.__table__, "session_hash"),
    sa.bindparam("session_hash", type_=LoginSession.__table__.c.id.type),
)


def _committed_alone(statement, params: dict) -> int:
    """Run the like's writing statement, committed, and count the rows it returned: alone in
    autocommit when nothing else of the request reached the database (app/statements_alone.py)."""
    return len(statements_alone.committed(statement, params))


def _insert_like(
    user_id: int,
    work_id: int,
    ip: str | None,
    token_id: int | None = None,
    session: str | None = None,
) -> int:
    """INSERT … ON CONFLICT DO NOTHING, committed: 1 if this call created the like, else 0."""
    params = {"user_id": user_id, "work_id": work_id, "ip": (ip or None) and ip[:45], "created_at": utcnow()}
    if token_id is not None:
        return _committed_alone(_INSERT_LIKE_BY_TOKEN, {**params, "token_id": token_id})
    if session is not None:
        return _committed_alone(_INSERT_LIKE_BY_SESSION, {**params, "session_hash": session})
    return _committed_alone(_INSERT_LIKE, params)


def _still_signed_in(credential: type[ApiToken | LoginSession], credential_id: Any, user_id: int) -> Any:
    """The unlike's check of its API token or login session, as the INSERTs' text has it."""
    return sa.exists().where(
        credential.id == credential_id,
        credential.user_id == user_id,
        credential.expires_at > utcnow(),
        User.id == credential.user_id,
        User.banned.is_(False),
    )


def _delete_like(user_id: int, work_id: int, token_id: int | None = None, session: str | None = None) -> int:
    table = Like.__table__
    conditions = [
        table.c.user_id == user_id,
        table.c.work_id == work_id,
        sa.exists().where(Work.id == work_id, Work.status == WorkStatus.PUBLISHED),
    ]
    if token_id is not None:
        conditions.append(_still_signed_in(ApiToken, token_id, user_id))
    if session is not None:
        conditions.append(_still_signed_in(LoginSession, session, user_id))
    return _committed_alone(sa.delete(table).where(*conditions).returning(table.c.id), {})


def _likes_now(flight: Flight) -> int:
    if flight.result is not None and flight.result.likes is not None:
        return flight.result.likes
    return measure.like_counts([flight.work_id]).get(flight.work_id, 0)


def _rate_limited(seconds: int) -> RateLimited:
    return RateLimited(_("点赞太频繁了，请稍后再试。"), retry_after=seconds)


@contextmanager
def like_gate(work_id: int) -> Iterator[Flight]:
    """The like's rate limits and its fence, in one Redis round trip: 429 (``LIKE_RATE_LIMIT`` per
    account, ``LIKE_IP_RATE_LIMIT`` per IP, likes and unlikes sharing both) or 503 before anything
    else, then the flight to pass to ``like_work`` / ``unlike_work`` inside the block. The flight
    leaves the fence if the block ends without using it (the work is 404, 409, …)."""
    account, per_ip = account_and_ip_hits(
        "like", account_setting="LIKE_RATE_LIMIT", ip_setting="LIKE_IP_RATE_LIMIT"
    )
    try:
        flight, waits = counters.begin_flight_with(
            work_id, [(HIT_WINDOWS, account.keys, account.args), (HIT_WINDOWS, per_ip.keys, per_ip.args)]
        )
        refused = max(int(wait) for wait in waits)
        if refused:
            if flight is not None:
                flight.abandon()
            raise _rate_limited(refused)
        if flight is None:  # a measurer holds the gate: wait for it as every write does
            flight = counters.begin_flight(work_id)
    except (redis.RedisError, counters.CountersBusy) as exc:
        log.warning("counters unavailable for work %s: %s", work_id, exc)
        raise _unavailable() from exc
    try:
        yield flight
    finally:
        flight.abandon()  # nothing when the like finished it


def like_work(
    user: Any,
    work: Work,
    ip: str | None = None,
    *,
    flight: Flight | None = None,
    bearer: tuple[str, int] | None = None,
    session: str | None = None,
) -> tuple[bool, int]:
    """Like a work: (True, likes). Repeating it changes nothing. ``flight``: from ``like_gate``;
    ``bearer``: (token, token id) when the caller signed in with an API token; ``session``:
    the login session's hash when with a cookie (``sessions.signed_in_session``)."""
    ensure_may_engage(user)
    ensure_can_vote(work)
    with counting(work, work_rankings(work), flight=flight) as flight:
        flight.likes = _insert_like(user.id, work.id, ip, bearer[1] if bearer else None, session)
    if flight.likes:
        metrics.LIKES.inc()
    else:
        _ensure_still_allowed(user, work, bearer, session)
    return True, _likes_now(flight)


def unlike_work(
    user: Any,
    work: Work,
    *,
    flight: Flight | None = None,
    bearer: tuple[str, int] | None = None,
    session: str | None = None,
) -> tuple[bool, int]:
    """Take a like back: (False, likes). Repeating it changes nothing. As ``like_work``."""
    ensure_can_vote(work, unlike=True)
    with counting(work, work_rankings(work), flight=flight) as flight:
        flight.likes = -_delete_like(user.id, work.id, bearer[1] if bearer else None, session)
    if flight.likes:
        metrics.UNLIKES.inc()
    else:
        _ensure_still_allowed(user, work, bearer, session, unlike=True)
    return False, _likes_now(flight)


def _ensure_still_allowed(
    user: Any,
    work: Work,
    bearer: tuple[str, int] | None,
    session: str | None,
    *,
    unlike: bool = False,
) -> None:
    """After a like or unlike that changed nothing: a repeat (fine), the token was revoked, the
    browser signed out or the account banned (401), or the work was taken down since the request
    read it (or since this process remembered it, app/engagement/like_targets.py): answered as a
    fresh read answers, 404 to whom may not see it now, else 409."""
    if bearer is not None and not token_still_live(*bearer):
        raise ServiceError(_("令牌无效、已过期或已撤销，请重新获取。"), code="invalid_token", status=401)
    if session is not None and not session_still_live(user.id, session):
        raise ServiceError(_("请先登录。"), code="unauthorized", status=401)
    if isinstance(work, Work):
        _ensure_still_published(work, unlike=unlike)
        return
    status = db.session.scalar(sa.select(Work.status).where(Work.id == work.id))
    if status != WorkStatus.PUBLISHED:
        like_targets.forget(work.id)
        ensure_can_vote(get_visible_work(work.id, user, media=False), unlike=unlike)


def _ensure_still_published(work: Work, *, unlike: bool = False) -> None:
    """After a like or unlike that changed nothing: a repeat (fine), or the work was taken down
    since the request read it, which answers as if the request had come a moment later."""
    db.session.refresh(work, ["status"])
    ensure_can_vote(work, unlike=unlike)


def comment_added(work: Work, visible: bool, *, flight: Flight | None = None) -> None:
    """A comment was committed (or a pending one approved): visible ones count.

    Pass the flight of ``counting(work)`` wrapped around the comment's commit for an exact
    counter; without one the counter moves best effort and the work is queued for a recount.
    """
    if visible:
        _move_comments(work, +1, flight)


def comment_removed(work: Work, was_visible: bool, *, flight: Flight | None = None) -> None:
    """A comment was deleted or hidden; only a visible one was counted."""
    if was_visible:
        _move_comments(work, -1, flight)


def _move_comments(work: Work, delta: int, flight: Flight | None) -> None:
    if flight is not None:
        flight.comments += delta
        return
    try:
        late = counters.begin_flight(work.id, wait=0.5)
        late.comments = delta
        late.finish()
        # Begun after the commit, this write was invisible to any measurement in between.
        counters.mark_for_repair([work.id])
    except (redis.RedisError, counters.CountersBusy):
        log.warning("comment counter of work %s not updated; reconcile repairs", work.id)


# --------------------------------------------------------------------------------------------
# Publication.


def work_published(work: Work) -> None:
    """Call after the work's publication is committed: it enters every ranking it belongs to,
    with its exact like count."""
    try:
        reconcile.recount_works([work.id])
    except redis.RedisError:
        log.warning("work %s published while Redis is away; reconcile ranks it", work.id)


def work_unpublished(work: Work) -> None:
    """Call after a work is withdrawn, rejected or hidden: it leaves every ranking."""
    try:
        rankings.remove_from_rankings(work.id, work_rankings(work))
    except redis.RedisError:
        log.warning("work %s unpublished while Redis is away; reconcile unranks it", work.id)


def recount(work_ids: Iterable[int]) -> None:
    """Recount works whose likes or comments changed in bulk in SQL (e.g. an account's likes
    voided by moderators): counters and rankings become exact again."""
    try:
        reconcile.recount_works(work_ids, wait=False)
    except redis.RedisError:
        log.warning("recount postponed, Redis is away; reconcile repairs")


# --------------------------------------------------------------------------------------------
# Reads.


def counts_for(work_ids: Iterable[int]) -> dict[int, WorkCounts]:
    """Likes, visible comments and views of each work: from Redis, else from SQL."""
    ids = sorted({int(i) for i in work_ids})
    if not ids:
        return {}
    try:
        found = counters.read_counts(ids)
        missing = [i for i, counts in found.items() if counts is None]
        if missing:
            found.update(reconcile.recount_works(missing, wait=False).counts)
        return found  # type: ignore[return-value]
    except redis.RedisError:
        log.info("counts from SQL, Redis is away")
        return measure.sql_counts(ids)


def liked_by(user: Any, work_ids: Iterable[int]) -> set[int]:
    """Which of these works the user likes (from SQL, the truth)."""
    ids = sorted({int(i) for i in work_ids})
    if user is None or not getattr(user, "is_authenticated", False) or not ids:
        return set()
    liked: set[int] = set()
    for start in range(0, len(ids), measure.IN_CHUNK):
        chunk = ids[start : start + measure.IN_CHUNK]
        query = sa.select(Like.work_id).where(Like.user_id == user.id, Like.work_id.in_(chunk))
        liked.update(db.session.scalars(query))
    return liked
