"""Locking the rows a check-then-write reads, the same way on PostgreSQL and SQLite.

A change that first checks a row (a thread's root is still visible, a work is still editable,
an upload is still open) and then writes must hold that row from the check to the commit, or a
concurrent change slips in between. :func:`lock` is the one way to do it here:

* PostgreSQL: ``SELECT … FOR NO KEY UPDATE`` (``shared=True``: ``FOR SHARE``), held to the end
  of the transaction. ``NO KEY`` because inserts of child rows (likes, comments) only take a
  key-share lock on their parent for the foreign key, and must not queue behind a curator.
  ``FOR SHARE`` lets many writers that only need the row to stay as it is (replies to one
  thread) run side by side, while the change they guard against (hiding the thread) waits.
* SQLite: ``FOR UPDATE`` is ignored, and Python's sqlite3 driver runs reads outside any
  transaction until the first write, so a check would read state that another connection can
  change before our write. A write that changes nothing first opens the transaction and takes
  SQLite's one writer lock (waiting out the busy timeout); the read that follows then sees every
  earlier commit, and nobody else writes until our commit.

Where the check fits in the write's own WHERE (a status that must still hold), :func:`transition`
makes them one statement instead, and needs no lock.

The rows come back refreshed (``populate_existing``), so objects the session loaded before the
lock show what the lock protects. Where there is no row to lock (the first slot of an empty
wall), callers add a PostgreSQL advisory lock of their own.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.extensions import db


def lock(statement: sa.Select, *, shared: bool = False) -> list[Any]:
    """Run ``statement`` with its rows locked until the commit (see the module docstring); the
    first column (or entity) of every row, read and refreshed now."""
    if db.session.get_bind().dialect.name == "sqlite":
        _sqlite_writer_lock(statement)
    locked = statement.with_for_update(read=shared, key_share=not shared)
    return list(db.session.scalars(locked.execution_options(populate_existing=True)))


def _sqlite_writer_lock(statement: sa.Select) -> None:
    # Any table takes the lock (it is the whole database's); the statement's own is at hand.
    table = sa.sql.util.find_tables(statement.get_final_froms()[0])[0]
    db.session.execute(sa.text(f'UPDATE "{table.name}" SET rowid = rowid WHERE 0'))


def transition(row: Any, *conditions: Any, **values: Any) -> bool:
    """Change ``row`` only while ``conditions`` still hold, the other way to guard a
    check-then-write: the check and the write are one statement, so when two people change one
    row at once (two moderators deciding one work or one flag) exactly one of them succeeds, and
    only that one writes its audit event. True when the row changed. The caller commits; the
    session's copy of the row is stale until then (it reloads after the commit)."""
    model = type(row)
    changed = db.session.execute(
        sa.update(model)
        .where(model.id == row.id, *conditions)
        .values(**values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    ).first()
    return changed is not None
