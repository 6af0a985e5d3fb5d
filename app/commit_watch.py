"""Caches of rows, told when a transaction of this process changed those rows.

A web process that remembers rows (app/auth/token_cache.py and app/engagement/like_targets.py
for a few seconds in the process; app/auth/session_cache.py in Redis, for every process) must
forget them at once when it changes them itself. An ORM flush or a bulk UPDATE/DELETE (ORM or
Core, through the session) on a watched table marks the session, and when its outermost
transaction ends, the cache's ``forget`` is called. Only the outermost: a savepoint released is
not committed yet, and one rolled back must not drop what the rest of the transaction changed.
After a rollback the cache forgets all the same: a needless miss, never a stale entry. Other
processes see the change as each cache bounds and documents.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

# A change that did not say which rows: forget everything.
EVERYTHING = None


def forget_on_commit(
    models: tuple[type, ...],
    forget: Callable[..., None],
    *,
    new_rows: bool = False,
    key: Callable[[Any], Hashable] | None = None,
    named_by: str | None = None,
) -> None:
    """Call ``forget`` after every outermost transaction of this process that changed a row of
    ``models`` (inserted ones too with ``new_rows``).

    Without ``key``, ``forget()`` takes no argument. With it, ``forget(keys)`` gets the keys of
    the changed rows (``key(row)``), or ``EVERYTHING`` after a bulk statement that did not name
    them in its execution option ``named_by`` (a list of keys; an empty one changes nothing the
    cache keeps)."""
    mark = f"commit_watch:{id(forget)}"
    tables = {model.__table__ for model in models}

    def note(session: orm.Session, keys: set | None) -> None:
        if mark in session.info and session.info[mark] is EVERYTHING:
            return
        if keys is EVERYTHING or key is None:
            session.info[mark] = EVERYTHING
        else:
            session.info.setdefault(mark, set()).update(keys)

    def flushed(session: orm.Session, _context: Any) -> None:
        rows = [
            item
            for item in (*session.dirty, *session.deleted, *(session.new if new_rows else ()))
            if isinstance(item, models)
        ]
        if rows:
            note(session, {key(row) for row in rows} if key else EVERYTHING)

    def bulk_statement(state: orm.ORMExecuteState) -> None:
        if not (state.is_update or state.is_delete) or getattr(state.statement, "table", None) not in tables:
            return
        named = state.execution_options.get(named_by) if named_by else None
        if named is None:
            note(state.session, EVERYTHING)
        elif named:
            note(state.session, set(named))

    def ended(session: orm.Session, transaction: orm.SessionTransaction) -> None:
        if transaction.parent is not None or mark not in session.info:
            return
        keys = session.info.pop(mark)
        if key is None:
            forget()
        else:
            forget(keys)

    sa.event.listen(orm.Session, "after_flush", flushed)
    sa.event.listen(orm.Session, "do_orm_execute", bulk_statement)
    sa.event.listen(orm.Session, "after_transaction_end", ended)
