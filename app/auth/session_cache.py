"""The account behind a signed-in browser, remembered in Redis for reads and likes.

Every request signed in with a cookie asked SQL for its account, joined to the login session its
cookie names (app/auth/sessions.py). For a page view's state call and for a like, that was a
BEGIN, the SELECT and a ROLLBACK around what the call is for; the campaign bench's profile
(docs/performance.md) put the account's load at 6 % of gunicorn's CPU and the state call at 18 %.

**What uses it.** Reads (GET and HEAD), and the endpoints that check the login session again in
the statement that writes (``sessions.rechecks_in_sql``: the like and the unlike). Every other
write (forms, comments, uploads, moderation, log-out) reads the account from SQL, as before.

**Entries.** One hash per account, ``P{sess:<id>}`` (app/redis_keys.py):

- a field per remembered browser (the SHA-256 of its login session's token, as in SQL), holding
  the *generations* seen before the account was read from SQL, the login session's expiry and the
  account's columns;
- ``g``, the account's generation: a random token, replaced after every commit that changes the
  account (its role, password, ban, name…) or ends one of its login sessions (log-out, "log out
  everywhere", a password reset).

And ``P{sess}:g``, every account's generation, replaced after a commit that changes accounts or
login sessions in bulk without naming them. An entry counts only while both generations are the
ones it was filled under, so a change is seen at once by every process. A fill that raced a
change (read from SQL before the change committed, written after) is never used, since it
carries the generation from before. Random tokens rather than counters, so that a generation
never comes back after its hash expired; a fill more than ``FILL_WITHIN_SECONDS`` after its read
is dropped for the same reason. The hash expires ``SESSION_CACHE_SECONDS`` (default 60; 0 turns
the cache off) after its last fill, and no entry outlives its login session.

**When Redis fails.** A lookup that fails reads SQL, and this process skips the cache for
``RETRY_SECONDS``. A generation that cannot be replaced after a commit (the commit stands) leaves
other processes' entries for at most ``SESSION_CACHE_SECONDS``: within that bound, a browser
signed out elsewhere may still read its own pages. Its likes are refused at once even then: their
statement checks the login session, the ban and the password in SQL (app/engagement/services.py).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import datetime
from enum import Enum
from typing import Any

import redis
import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import orm

from app import redis_keys
from app.extensions import db, redis_client
from app.models import LoginSession, User

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
# A fill later than this after its read is not written: its generations could have come back.
FILL_WITHIN_SECONDS = 5.0
GENERATION = "g"
# The execution option a bulk statement on accounts or login sessions names its accounts with:
# their generations are replaced, not every account's.
ACCOUNTS_OPTION = "session_cache_accounts"

_COLUMNS = tuple(attr.key for attr in orm.class_mapper(User).column_attrs)


def _column_type(key: str) -> Any:
    column_type = User.__table__.c[key].type
    return getattr(column_type, "impl", column_type)  # a TypeDecorator's underlying type


_DATETIME_COLUMNS = {key for key in _COLUMNS if isinstance(_column_type(key), sa.DateTime)}
_ENUM_COLUMNS = {
    key: _column_type(key).enum_class
    for key in _COLUMNS
    if isinstance(_column_type(key), sa.Enum) and _column_type(key).enum_class
}
_PENDING_ACCOUNTS = "session_cache:accounts"
_PENDING_EVERYONE = "session_cache:everyone"


def _state() -> dict[str, float]:
    """This app's note of a recent failure (per app, so that each test's app starts afresh)."""
    return current_app.extensions.setdefault("session_cache", {"down_until": 0.0})


class Ticket:
    """What a lookup saw, so that the fill after the SQL read can say what it was read under."""

    __slots__ = ("generations", "read_at", "session_hash", "user_id")

    def __init__(self, user_id: int, session_hash: str, generations: list[str]) -> None:
        self.user_id, self.session_hash, self.generations = user_id, session_hash, generations
        self.read_at = time.monotonic()


def _seconds() -> int:
    if not has_app_context():  # a session used outside the app (a script's own engine)
        return 0
    return int(current_app.config.get("SESSION_CACHE_SECONDS", 0))


def _failed(exc: Exception, what: str) -> None:
    _state()["down_until"] = time.monotonic() + RETRY_SECONDS
    log.warning("session cache: %s failed: %s", what, exc)


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def lookup(user_id: int, session_hash: str) -> tuple[User | None, Ticket | None]:
    """(the remembered account, merged into this request's session, or None; the ticket for
    ``remember`` after a read from SQL, or None when the cache is off or failing)."""
    if _seconds() <= 0 or time.monotonic() < _state()["down_until"]:
        return None, None
    try:
        pipe = redis_client.client.pipeline(transaction=False)
        pipe.get(redis_keys.session_cache_everyone_key())
        pipe.hmget(redis_keys.session_cache_key(user_id), [GENERATION, session_hash])
        everyone, (account, raw) = pipe.execute()
    except redis.RedisError as exc:
        _failed(exc, "lookup")
        return None, None
    ticket = Ticket(user_id, session_hash, [_text(everyone), _text(account)])
    if raw is None:
        return None, ticket
    try:
        entry = json.loads(raw)
        if entry["gen"] != ticket.generations or entry["until"] <= time.time():
            return None, ticket
        user = _account(entry["account"])
    except (ValueError, KeyError, TypeError):
        return None, ticket
    return db.session.merge(user, load=False), ticket


def remember(ticket: Ticket | None, user: User, expires_at: datetime) -> None:
    """Keep the account read from SQL under the generations its ticket saw before the read."""
    seconds = _seconds()
    if ticket is None or seconds <= 0 or time.monotonic() - ticket.read_at > FILL_WITHIN_SECONDS:
        return
    value = json.dumps(
        {"gen": ticket.generations, "until": expires_at.timestamp(), "account": _columns(user)},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    key = redis_keys.session_cache_key(ticket.user_id)
    try:
        redis_client.client.pipeline(transaction=False).hset(key, ticket.session_hash, value).expire(
            key, seconds
        ).execute()
    except redis.RedisError as exc:
        _failed(exc, "fill")


def forget_accounts(user_ids: set[int] | list[int]) -> None:
    """Every remembered browser of these accounts stops counting, on every process."""
    if not user_ids or _seconds() <= 0:
        return
    try:
        pipe = redis_client.client.pipeline(transaction=False)
        for user_id in sorted(set(user_ids)):
            key = redis_keys.session_cache_key(user_id)
            pipe.hset(key, GENERATION, secrets.token_hex(8))
            pipe.expire(key, _seconds())
        pipe.execute()
    except redis.RedisError as exc:
        _failed(exc, "forgetting accounts")


def forget_everyone() -> None:
    if _seconds() <= 0:
        return
    try:
        redis_client.client.set(redis_keys.session_cache_everyone_key(), secrets.token_hex(8))
    except redis.RedisError as exc:
        _failed(exc, "forgetting every account")


# --- the columns, as JSON -------------------------------------------------------------------


def _columns(user: User) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in _COLUMNS:
        value = getattr(user, key)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Enum):
            value = value.value
        values[key] = value
    return values


def _account(values: dict[str, Any]) -> User:
    fields = dict(values)
    for key in _DATETIME_COLUMNS:
        if fields.get(key) is not None:
            fields[key] = datetime.fromisoformat(fields[key])
    for key, enum_class in _ENUM_COLUMNS.items():
        if fields.get(key) is not None:
            fields[key] = enum_class(fields[key])
    if set(fields) != set(_COLUMNS):
        raise KeyError("columns changed")  # an entry from another version of the code
    user = User(**fields)
    orm.make_transient_to_detached(user)
    return user


# --- after commits that change accounts or login sessions -----------------------------------


@sa.event.listens_for(orm.Session, "after_flush")
def _flushed(session: orm.Session, _context: Any) -> None:
    accounts = {
        item.id if isinstance(item, User) else item.user_id
        for item in (*session.dirty, *session.deleted)
        if isinstance(item, (User, LoginSession))
    }
    if accounts:
        session.info.setdefault(_PENDING_ACCOUNTS, set()).update(accounts)


_WATCHED_TABLES = (User.__table__, LoginSession.__table__)


@sa.event.listens_for(orm.Session, "do_orm_execute")
def _bulk_statement(state: orm.ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    if getattr(state.statement, "table", None) not in _WATCHED_TABLES:
        return
    named = state.execution_options.get(ACCOUNTS_OPTION)
    if named is None:
        state.session.info[_PENDING_EVERYONE] = True
    else:
        state.session.info.setdefault(_PENDING_ACCOUNTS, set()).update(named)


@sa.event.listens_for(orm.Session, "after_commit")
def _committed(session: orm.Session) -> None:
    accounts = session.info.pop(_PENDING_ACCOUNTS, None)
    everyone = session.info.pop(_PENDING_EVERYONE, False)
    if everyone:
        forget_everyone()
    elif accounts:
        forget_accounts(accounts)


@sa.event.listens_for(orm.Session, "after_rollback")
def _rolled_back(session: orm.Session) -> None:
    session.info.pop(_PENDING_ACCOUNTS, None)
    session.info.pop(_PENDING_EVERYONE, None)
