"""The account behind a signed-in browser, remembered in Redis for reads and likes.

Every request signed in with a cookie asked SQL for its account, joined to the login session its
cookie names (app/auth/sessions.py). For a page view's state call and for a like, that was a
BEGIN, the SELECT and a ROLLBACK around what the call is for; the campaign bench's profile
(docs/performance.md) put the account's load at 6 % of gunicorn's CPU and the state call at 18 %.

**What uses it.** Requests that read (GET and HEAD: pages, the state call, the API's reads), and
the endpoints that check the login session again in the statement that writes
(``sessions.rechecks_in_sql``: the like and the unlike). Every other write (forms, comments,
uploads, moderation, log-out) reads the account from SQL, as before.

**What is kept.** Only what the state call and the pages ask of every signed-in request: the
account's id, name, role, collective, province, ban and e-mail confirmation (``CACHED_COLUMNS``),
and keyed fingerprints of the password hash (``models.password_fingerprints``, one under each
accepted key) to check the cookie against. Never the password hash, the e-mail address or the
lock-out state: the instance merged into the request's session leaves them unloaded, and a page
that reads one of them loads it from SQL.

**Entries.** One hash per account, ``P{sess:<id>}`` (app/redis_keys.py):

- a field per remembered browser (the SHA-256 of its login session's token, as in SQL), holding
  the *generations* seen before the account was read from SQL, when it was filled, the login
  session's expiry and the columns;
- ``g``, the account's generation, a random token.

And ``P{sess}:g``, every account's generation. A commit that changes an account (its role, ban,
name…) or ends one of its login sessions (log-out, "log out everywhere", a password reset, which
ends them all) deletes the account's hash once the transaction has ended, on whichever process
commits; one that changes accounts or login sessions in bulk without naming them replaces the
global generation. An entry counts only while both generations are the ones it was filled under,
so a change is seen at once by every process, and a fill that raced a change (read from SQL
before the change committed, written after it) never counts: it carries a generation that the
deletion took with it. A lookup that finds no generation sets a new random one first (``HSETNX``,
``SET NX``), so no generation is ever empty and none ever comes back, whatever Redis expired or
evicted. An entry counts for ``SESSION_CACHE_SECONDS`` (default 60; 0 turns the cache off for
this process's lookups) after it was filled, and never past its login session.

**When Redis fails.** A lookup that fails reads SQL, and the process skips the cache for
``RETRY_SECONDS``. A deletion that fails after a commit (the commit stands) leaves other
processes' entries for at most ``SESSION_CACHE_SECONDS``: within that bound, a copy of a cookie
signed out elsewhere may still be answered reads as that account (its pages, the moderation
queues of a demoted moderator, the notifications page's marking as read). Its likes are refused
at once even then: their statement checks the login session and the ban in SQL
(app/engagement/services.py). Processes whose cache is off still delete, so switching it off and
on again revives nothing.
"""

from __future__ import annotations

import hmac
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

from app import redis_connections, redis_keys, secret_keys
from app.commit_watch import EVERYTHING, forget_on_commit
from app.extensions import db, redis_client
from app.models import LoginSession, User, password_fingerprints

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
# The execution option a bulk statement on accounts or login sessions names its accounts with:
# those accounts are forgotten, not every account ([] for a statement that changes nothing kept).
ACCOUNTS_OPTION = "session_cache_accounts"

CACHED_COLUMNS = ("id", "display_name", "role", "collective_id", "province", "banned", "email_verified_at")


def _column_type(key: str) -> Any:
    column_type = User.__table__.c[key].type
    return getattr(column_type, "impl", column_type)  # a TypeDecorator's underlying type


_DATETIME_COLUMNS = {key for key in CACHED_COLUMNS if isinstance(_column_type(key), sa.DateTime)}
_ENUM_COLUMNS = {
    key: _column_type(key).enum_class
    for key in CACHED_COLUMNS
    if isinstance(_column_type(key), sa.Enum) and _column_type(key).enum_class
}


# The account's side of a lookup in one command: its generation, made first if it has none, the
# hash kept alive while it is read, and the browser's entry.
_ACCOUNT_LOOKUP = """
redis.call('HSETNX', KEYS[1], 'g', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('HMGET', KEYS[1], 'g', ARGV[3])
"""


class Ticket:
    """What a lookup saw, so that the fill after the SQL read can say what it was read under."""

    __slots__ = ("generations", "session_hash", "user_id")

    def __init__(self, user_id: int, session_hash: str, generations: list[str]) -> None:
        self.user_id, self.session_hash, self.generations = user_id, session_hash, generations


def _seconds() -> int:
    if not has_app_context():  # a session used outside the app (a script's own engine)
        return 0
    return int(current_app.config.get("SESSION_CACHE_SECONDS", 0))


def _state() -> dict[str, float]:
    """This app's note of a recent failure (per app, so that each test's app starts afresh)."""
    return current_app.extensions.setdefault("session_cache", {"down_until": 0.0})


def _failed(exc: Exception, what: str) -> None:
    _state()["down_until"] = time.monotonic() + RETRY_SECONDS
    log.warning("session cache: %s failed: %s", what, exc)


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def lookup(user_id: int, session_hash: str, fingerprint: str) -> tuple[User | None, Ticket | None]:
    """(the remembered account, merged into this request's session, when the cookie's password
    ``fingerprint`` is the one remembered, else None; the ticket for ``remember`` after a read
    from SQL, or None when the cache is off or failing)."""
    seconds = _seconds()
    if seconds <= 0 or time.monotonic() < _state()["down_until"]:
        return None, None
    created = secrets.token_hex(8)
    key = redis_keys.session_cache_key(user_id)
    try:
        pipe = redis_client.client.pipeline(transaction=False)
        # SET NX GET: the generation there was, or none when this one was just set.
        pipe.set(redis_keys.session_cache_everyone_key(), created, nx=True, get=True)
        arguments = [secrets.token_hex(8), seconds, session_hash]  # the generation, if none yet
        redis_connections.run_script(pipe, _ACCOUNT_LOOKUP, [key], arguments)
        everyone, (account, raw) = pipe.execute()
    except redis.RedisError as exc:
        _failed(exc, "lookup")
        return None, None
    ticket = Ticket(user_id, session_hash, [_text(everyone) or created, _text(account)])
    if raw is None:
        return None, ticket
    try:
        entry = json.loads(raw)
        now = time.time()
        if entry["gen"] != ticket.generations or entry["until"] <= now or now - entry["filled"] > seconds:
            return None, ticket
        # Under any key still accepted: a login made before a rotation carries a retired one,
        # and a key dropped since (a leak) must end it here as in SQL.
        kept = entry["fingerprint_by_key"]
        accepted = secret_keys.accepted_key_tags()
        if not any(hmac.compare_digest(kept.get(tag, ""), fingerprint) for tag in accepted):
            return None, ticket
        user = _account(entry["account"])
    except (ValueError, KeyError, TypeError, AttributeError):  # an entry of another shape
        return None, ticket
    return db.session.merge(user, load=False), ticket


def remember(ticket: Ticket | None, user: User, expires_at: datetime) -> None:
    """Keep the account read from SQL under the generations its ticket saw before the read."""
    seconds = _seconds()
    if ticket is None or seconds <= 0:
        return
    entry = {
        "gen": ticket.generations,
        "filled": time.time(),
        "until": expires_at.timestamp(),
        "fingerprint_by_key": password_fingerprints(user.password_hash),
        "account": _columns(user),
    }
    key = redis_keys.session_cache_key(ticket.user_id)
    value = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    try:
        pipe = redis_client.client.pipeline(transaction=False)
        pipe.hset(key, ticket.session_hash, value).expire(key, seconds).execute()
    except redis.RedisError as exc:
        _failed(exc, "fill")


def forget_accounts(user_ids: set[int] | list[int]) -> None:
    """Every remembered browser of these accounts stops counting, on every process. Done whether
    or not this process's lookups use the cache."""
    if not user_ids or not has_app_context():
        return
    try:
        pipe = redis_client.client.pipeline(transaction=False)
        for user_id in sorted(set(user_ids)):  # a DEL each: on a cluster, each its own slot
            pipe.delete(redis_keys.session_cache_key(user_id))
        pipe.execute()
    except redis.RedisError as exc:
        _failed(exc, "forgetting accounts")


def forget_everyone() -> None:
    if not has_app_context():
        return
    try:
        redis_client.client.set(redis_keys.session_cache_everyone_key(), secrets.token_hex(8))
    except redis.RedisError as exc:
        _failed(exc, "forgetting every account")


# --- the columns, as JSON -------------------------------------------------------------------


def _columns(user: User) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in CACHED_COLUMNS:
        value = getattr(user, key)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Enum):
            value = value.value
        values[key] = value
    return values


def _account(values: dict[str, Any]) -> User:
    fields = dict(values)
    if set(fields) != set(CACHED_COLUMNS):
        raise KeyError("columns changed")  # an entry from another version of the code
    for key in _DATETIME_COLUMNS:
        if fields[key] is not None:
            fields[key] = datetime.fromisoformat(fields[key])
    for key, enum_class in _ENUM_COLUMNS.items():
        if fields[key] is not None:
            fields[key] = enum_class(fields[key])
    # The columns not kept stay unloaded: reading one loads it from SQL.
    user = User(**fields)
    orm.make_transient_to_detached(user)
    return user


# --- after transactions that change accounts or login sessions ------------------------------


def _account_of(row: User | LoginSession) -> int:
    return row.id if isinstance(row, User) else row.user_id


def _forgotten(accounts: set[int] | None) -> None:
    if accounts is EVERYTHING:
        forget_everyone()
    else:
        forget_accounts(accounts)


forget_on_commit((User, LoginSession), _forgotten, key=_account_of, named_by=ACCOUNTS_OPTION)
