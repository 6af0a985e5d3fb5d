"""The account behind an API token, remembered by each web process for a few seconds.

Every bearer call looked its token up in SQL (a join of the token and its account); a like spent
a quarter of its SQL round trips on it. Each process now keeps what that query returned for
``TOKEN_CACHE_SECONDS`` (default 5, 0 turns it off), never past the token's own expiry.

How soon a token stops working (revoked, signed out, expired) or an account stops (banned):

- likes and unlikes: at once, on every process. Their statement re-checks the token and the
  account in the same SQL statement that writes (app/engagement/services.py), and a refused one
  drops the entry and answers 401.
- anything else, on the process that made the change: at once. A commit that touched an API
  token or an account (ORM flush or bulk UPDATE/DELETE) empties this process's cache.
- anything else, on the other processes: within ``TOKEN_CACHE_SECONDS``.

An entry holds a detached copy of the account's row; each request gets its own copy merged into
its session without a query (``merge(load=False)``), so no two requests share an instance.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from flask import current_app
from sqlalchemy import orm

from app.commit_watch import forget_on_commit
from app.extensions import db
from app.models import ApiToken, User

# Past this many entries the cache starts again empty: a bound on memory whatever callers send.
MAX_ENTRIES = 50_000

_entries: dict[str, tuple[User, int, float]] = {}
_lock = threading.Lock()


def lookup(token_hash: str) -> tuple[User, int] | None:
    """(the account merged into this request's session, token id), or None when not remembered."""
    entry = _entries.get(token_hash)
    if entry is None:
        return None
    user, token_id, until = entry
    if time.monotonic() >= until:
        _entries.pop(token_hash, None)
        return None
    return db.session.merge(user, load=False), token_id


def remember(token_hash: str, user: User, token_id: int, expires_at: datetime, now: datetime) -> None:
    seconds = current_app.config.get("TOKEN_CACHE_SECONDS", 0)
    if seconds <= 0:
        return
    seconds = min(seconds, (expires_at - now).total_seconds())
    if seconds <= 0:
        return
    # A copy of the loaded row, detached: the request's own instance stays in its session, and the
    # copy never expires with a commit (it has no session to expire it).
    copy = User(**{column.key: getattr(user, column.key) for column in orm.class_mapper(User).column_attrs})
    orm.make_transient_to_detached(copy)
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[token_hash] = (copy, token_id, time.monotonic() + seconds)


def forget(token_hash: str) -> None:
    _entries.pop(token_hash, None)


def forget_all() -> None:
    with _lock:
        _entries.clear()


# In-process invalidation: a commit here that touched an API token or an account.
forget_on_commit((ApiToken, User), forget_all)
