"""One SQL statement on a pooled connection of its own, in autocommit, when the request's session
has not reached the database yet.

Through the session, one statement costs a BEGIN, the statement and a COMMIT or a ROLLBACK at the
request's end: three round trips and the session's bookkeeping around one. The like (its INSERT or
DELETE) and the state call (its one read of the caller's own facts) are often the only statement
of their request, since the account, the token and the work are remembered (app/auth/
session_cache.py, app/auth/token_cache.py, app/engagement/like_targets.py). There the statement
runs alone: its own transaction, one round trip.

When the session has reached the database (something was read through it) or holds writes (a
caller's own transaction, e.g. the demo's), the statement goes through the session instead: its
BEGIN is paid already, it must see the session's own writes, and a second connection would wait
for that transaction's locks.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from app.extensions import db

_WROTE = "statements_alone:wrote"


def committed(statement: Any, params: dict) -> list[sa.Row]:
    """Run one writing statement, committed (durable when this returns), and its rows. The
    statement checks what it depends on itself."""
    session = db.session()
    if _session_is_busy(session):
        rows = session.execute(statement, params).all()
        session.commit()
        return rows
    return _alone(statement, params)


def read(statement: Any, params: dict | None = None) -> list[sa.Row]:
    """Run one reading statement and return its rows."""
    session = db.session()
    if _session_is_busy(session):
        return session.execute(statement, params or {}).all()
    return _alone(statement, params or {})


def _alone(statement: Any, params: dict) -> list[sa.Row]:
    with db.engine.connect() as conn:
        return conn.execution_options(isolation_level="AUTOCOMMIT").execute(statement, params).all()


def _session_is_busy(session: orm.Session) -> bool:
    pending = session.new or session.dirty or session.deleted or session.info.get(_WROTE)
    return bool(pending or _holds_connection(session))


def _holds_connection(session: orm.Session) -> bool:
    """Whether the session's transaction has reached the database. ``in_transaction()`` says
    True as soon as anything (a ``merge``) begins it, before any connection is taken; the
    connections a transaction holds are only listed in its private ``_connections``."""
    transaction = session.get_transaction()
    return transaction is not None and bool(getattr(transaction, "_connections", True))


@sa.event.listens_for(orm.Session, "after_flush")
def _flushed(session: orm.Session, _context) -> None:
    session.info[_WROTE] = True


@sa.event.listens_for(orm.Session, "after_bulk_update")
@sa.event.listens_for(orm.Session, "after_bulk_delete")
def _bulk_written(state) -> None:
    state.session.info[_WROTE] = True


@sa.event.listens_for(orm.Session, "after_commit")
@sa.event.listens_for(orm.Session, "after_rollback")
def _transaction_ended(session: orm.Session) -> None:
    session.info.pop(_WROTE, None)
