"""Process-local caches of rows, emptied when this process commits a change to those rows.

A web process that remembers rows for a few seconds (app/auth/token_cache.py,
app/engagement/like_targets.py) must forget them at once when it changes them itself: an ORM
flush or a bulk UPDATE/DELETE on a watched model marks the session, and its commit calls the
cache's ``forget``; a rollback drops the mark. Other processes see the change when their entries
expire, which each cache bounds and documents.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import orm


def forget_on_commit(models: tuple[type, ...], forget: Callable[[], None], *, new_rows: bool = False) -> None:
    """Call ``forget`` after every commit of this process that changed a row of ``models``
    (inserted ones too with ``new_rows``)."""
    mark = f"commit_watch:{id(forget)}"

    def flushed(session: orm.Session, _context) -> None:
        rows = (*session.dirty, *session.deleted, *(session.new if new_rows else ()))
        if any(isinstance(item, models) for item in rows):
            session.info[mark] = True

    def bulk_statement(state: orm.ORMExecuteState) -> None:
        if (state.is_update or state.is_delete) and state.bind_mapper is not None:
            if state.bind_mapper.class_ in models:
                state.session.info[mark] = True

    def committed(session: orm.Session) -> None:
        if session.info.pop(mark, False):
            forget()

    def rolled_back(session: orm.Session) -> None:
        session.info.pop(mark, None)

    sa.event.listen(orm.Session, "after_flush", flushed)
    sa.event.listen(orm.Session, "do_orm_execute", bulk_statement)
    sa.event.listen(orm.Session, "after_commit", committed)
    sa.event.listen(orm.Session, "after_rollback", rolled_back)
