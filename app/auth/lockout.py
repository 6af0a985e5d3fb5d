"""Account lock-out: LOGIN_LOCKOUT_FAILURES wrong passwords within LOGIN_LOCKOUT_MINUTES lock
the account for LOGIN_LOCKOUT_MINUTES, on the log-in page and the API alike.

The count lives in the ``user`` row and changes only through one ``UPDATE`` statement each time,
evaluated by the database against the row as it is then, so guesses arriving together are all
counted (a read-then-write in Python would lose some). Locking is per account, never per IP:
an office NAT where one person mistypes does not lock their colleagues out, and the per-IP rate
limits already slow a scan across many accounts. A correct password during the lock is refused
too; a password reset lifts it. docs/security.md.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.auth import session_cache
from app.errors import ServiceError
from app.extensions import db
from app.models import User, utcnow


class AccountLocked(ServiceError):
    def __init__(self, until: datetime) -> None:
        minutes = max(1, math.ceil((until - utcnow()).total_seconds() / 60))
        super().__init__(
            _(
                "密码错误次数过多，账号已临时锁定，请 %(n)d 分钟后再试，或通过“忘记密码”重设密码。",
                n=minutes,
            ),
            code="account_locked",
            status=423,
        )
        self.until = until


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])


def ensure_not_locked(user: User) -> None:
    if user.locked_until is not None and user.locked_until > utcnow():
        raise AccountLocked(user.locked_until)


def record_failure(user_id: int) -> datetime | None:
    """Count one wrong password; returns the end of the lock when this one locked the account."""
    now = utcnow()
    window = _window()
    limit = current_app.config["LOGIN_LOCKOUT_FAILURES"]
    table = User.__table__
    stamp = table.c.failed_since.type

    def at(value: datetime) -> sa.ColumnElement:
        return sa.literal(value, stamp)

    # Every SET expression reads the row's values from before this UPDATE, on both databases.
    fresh_window = sa.or_(table.c.failed_since.is_(None), table.c.failed_since <= at(now - window))
    count = sa.case((fresh_window, 1), else_=table.c.failed_logins + 1)
    statement = (
        sa.update(table)
        .where(table.c.id == user_id)
        .values(
            failed_logins=count,
            failed_since=sa.case((fresh_window, at(now)), else_=table.c.failed_since),
            locked_until=sa.case((count >= limit, at(now + window)), else_=table.c.locked_until),
        )
        .returning(table.c.failed_logins, table.c.locked_until)
    )
    # The lock-out columns are not in the session cache: nothing to forget (and a stranger typing
    # wrong passwords must not keep the account's entries out of it).
    row = db.session.execute(statement, execution_options={session_cache.ACCOUNTS_OPTION: []}).one()
    db.session.commit()
    failures, locked_until = row
    if failures >= limit and locked_until is not None:
        return locked_until
    return None


def clear_failures(user_id: int) -> None:
    """After a log-in or a password reset: the count starts again and any lock ends.

    Part of the caller's transaction (it commits)."""
    table = User.__table__
    db.session.execute(
        sa.update(table)
        .where(table.c.id == user_id, sa.or_(table.c.failed_logins != 0, table.c.locked_until.is_not(None)))
        .values(failed_logins=0, failed_since=None, locked_until=None),
        execution_options={session_cache.ACCOUNTS_OPTION: []},
    )
