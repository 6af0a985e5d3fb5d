"""Serialising check-then-write changes on SQLite as row and advisory locks do on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db


def sqlite_write_lock(table: str) -> None:
    """On SQLite, open the transaction holding SQLite's one writer lock before anything is read.

    Python's sqlite3 driver runs reads outside any transaction until the first write, so two
    requests could both read the same state and both act on it; ``SELECT … FOR UPDATE`` does
    nothing there. A write that changes nothing starts the transaction and takes the writer lock
    (waiting out the busy timeout), so the reads that follow see every earlier change. Nothing
    on PostgreSQL, where callers lock rows or take advisory locks.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(sa.text(f'UPDATE "{table}" SET id = id WHERE 0'))
