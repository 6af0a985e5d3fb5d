"""Reads from a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``, docs/scaling.md), for the
renders that tolerate a second or two of lag and are most of the reads: the page cache's shared
renders (public pages, lists, the wall, search, the public API reads; app/page_cache.py).

Everything else reads the primary: every write and what follows it in its request, everything
personal (the state call, a person's own pages, moderation), and these cases of a shared render:

- **the replica is behind**: each process measures the replica's lag every
  ``REPLICA_CHECK_SECONDS`` (its replay position against the primary's WAL position; when it is
  behind, the age of its last replayed transaction) and reads the primary while the lag exceeds
  ``REPLICA_MAX_LAG_SECONDS``, or while the replica does not answer (never an error);
- **the body was just changed**: a purge (a take-down, an edit, a comment hidden or approved,
  the wall) marks its group as recently purged for ``fresh_after_purge_seconds`` (the lag bound plus one check
  interval plus a second), and the group's renders read the primary meanwhile: a render from the
  replica never brings back what a purge removed. Lists that are not purged expire within their
  own bound anyway (``PAGE_CACHE_LIST_SECONDS``);
- **the caller just wrote**: a request that committed a change sets the ``rw`` cookie for
  ``READ_YOUR_WRITES_SECONDS``; while it lasts, that browser's requests read the primary, even
  for a render everyone will share.

Without ``DATABASE_REPLICA_URL`` (and on SQLite) nothing here runs: one engine, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context, has_request_context, request
from flask_sqlalchemy.session import Session as FlaskSession

log = logging.getLogger(__name__)

READ_YOUR_WRITES_COOKIE = "rw"


@dataclass
class _Replica:
    engine: sa.Engine
    lock: threading.Lock = field(default_factory=threading.Lock)
    checked_at: float = float("-inf")
    usable: bool = False
    lag: float | None = None


def init_replica(app: Flask) -> None:
    url = app.config.get("DATABASE_REPLICA_URL")
    primary = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if not url or not primary.drivername.startswith("postgresql"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    replica = sa.engine.make_url(url)
    if replica.drivername == "postgresql":
        replica = replica.set(drivername=primary.drivername)  # the primary's driver (psycopg 3)
    app.extensions["db_replica"] = _Replica(sa.create_engine(replica, **options))
    with app.app_context():
        sa.event.listen(app.extensions["sqlalchemy"].engine, "after_cursor_execute", _note_write)
    app.after_request(_remember_writes)


def configured() -> bool:
    return has_app_context() and "db_replica" in current_app.extensions


def fresh_after_purge_seconds() -> float:
    """How long a purged group's renders keep to the primary (see the module's docstring)."""
    config = current_app.config
    return float(config["REPLICA_MAX_LAG_SECONDS"]) + float(config["REPLICA_CHECK_SECONDS"]) + 1.0


class reads_from_replica:
    """Within it, the request's SELECTs may go to the replica, if it is fresh and this browser
    has not just written (``RoutingSession``)."""

    def __enter__(self) -> None:
        self._before = g.get("replica_reads", False)
        g.replica_reads = not _wrote_recently()

    def __exit__(self, *exc: object) -> None:
        g.replica_reads = self._before


def _wrote_recently() -> bool:
    if not has_request_context():
        return False
    raw = request.cookies.get(READ_YOUR_WRITES_COOKIE, "")
    return raw.isdigit() and int(raw) > time.time()


def replica_engine() -> sa.Engine | None:
    """The replica's engine for this statement, or None for the primary."""
    if not (has_app_context() and g.get("replica_reads")):
        return None
    replica = current_app.extensions.get("db_replica")
    if replica is None or not _usable(replica):
        return None
    return replica.engine


def replica_lag() -> float | None:
    """The lag last measured by this process (seconds; None: not measured or no answer)."""
    replica = current_app.extensions.get("db_replica")
    return None if replica is None else replica.lag


def _usable(replica: _Replica) -> bool:
    now = time.monotonic()
    if now - replica.checked_at < float(current_app.config["REPLICA_CHECK_SECONDS"]):
        return replica.usable
    if not replica.lock.acquire(blocking=False):
        return replica.usable  # another thread is measuring: its last answer stands meanwhile
    try:
        replica.lag = _measure_lag(replica)
        bound = float(current_app.config["REPLICA_MAX_LAG_SECONDS"])
        replica.usable = replica.lag is not None and replica.lag <= bound
        replica.checked_at = time.monotonic()
    finally:
        replica.lock.release()
    return replica.usable


def _measure_lag(replica: _Replica) -> float | None:
    try:
        with current_app.extensions["sqlalchemy"].engine.connect() as primary:
            written = _lsn(primary.scalar(sa.text("SELECT pg_current_wal_lsn()::text")))
        with replica.engine.connect() as standby:
            replayed, age = standby.execute(
                sa.text(
                    "SELECT pg_last_wal_replay_lsn()::text,"
                    " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
                )
            ).one()
    except sa.exc.DBAPIError as exc:
        log.warning("replica unavailable, reading the primary: %s", exc.orig)
        return None
    if replayed is None:
        log.warning("DATABASE_REPLICA_URL is not a replica in recovery: reading the primary")
        return None
    if _lsn(replayed) >= written:
        return 0.0
    return float(age) if age is not None else None


def _lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


class RoutingSession(FlaskSession):
    """Flask-SQLAlchemy's session, sending SELECTs to the replica inside ``reads_from_replica``
    while nothing of this session waits to be written."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kwargs: Any) -> Any:
        # Every SELECT of every request passes here (a like's too): the flag in ``g`` first, so
        # outside a shared render nothing else is looked at.
        if bind is None and has_app_context() and g.get("replica_reads"):
            if getattr(clause, "is_select", False) and not (self.new or self.dirty or self.deleted):
                engine = replica_engine()
                if engine is not None:
                    return engine
        return super().get_bind(mapper, clause=clause, bind=bind, **kwargs)


_WRITES = ("INSERT", "UPDATE", "DELETE", "WITH")


def _note_write(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
    # On the primary's engine, every way a statement is sent (the session, or the like's own
    # autocommit connection; text() statements too): a request that wrote anything is remembered.
    if has_request_context() and statement.lstrip()[:6].upper().startswith(_WRITES):
        g.wrote_to_database = True


def _remember_writes(response: Any) -> Any:
    """After a request that wrote: this browser reads the primary for a while. Only a person's
    writes count (POST, PUT, PATCH, DELETE): a GET that records something on the way must keep
    its public body cacheable, which a cookie would prevent."""
    if g.get("wrote_to_database") and request.method not in ("GET", "HEAD", "OPTIONS"):
        seconds = int(current_app.config["READ_YOUR_WRITES_SECONDS"])
        response.set_cookie(
            READ_YOUR_WRITES_COOKIE,
            str(int(time.time()) + seconds),
            max_age=seconds,
            path="/",
            secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
            httponly=True,
            samesite="Lax",
        )
    return response
