"""Time: the one clock, the campaign's local time, and time windows.

Everything is stored and compared in UTC (``utcnow``); people see the campaign's zone
(``BABEL_DEFAULT_TIMEZONE``, Beijing time: the campaign is national and has one calendar, so a
"day" - of views, of the dashboard, of a window's message - starts at local midnight for
everyone, wherever the server runs). One module so that the zone, the display format and the
half-open window rule are decided once: pages, messages, view days and the dashboard agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

DISPLAY_FORMAT = "%Y-%m-%d %H:%M"
DAY_KEY_FORMAT = "%Y%m%d"

# How far ``utcnow`` is from the real clock in this thread or task: always zero, except inside
# ``clock_at`` (the demo replaying a campaign's past days through the real services).
_clock_offset: ContextVar[timedelta] = ContextVar("clock_offset", default=timedelta(0))


def utcnow() -> datetime:
    """Now, in UTC: the one clock every timestamp the app writes is read from."""
    return datetime.now(UTC) + _clock_offset.get()


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Inside the block, in this thread or task only, ``utcnow()`` runs on from ``moment``.

    For writing the past through the real services (``flask demo load`` replays two weeks of a
    campaign), so that each row and each counter says when its event happened and everything
    derived from time (publication order, hot scores, the day a view counts for) agrees with
    what a reconcile recomputes later. Requests never run inside it.
    """
    token = _clock_offset.set(moment - datetime.now(UTC))
    try:
        yield
    finally:
        _clock_offset.reset(token)


def zone() -> ZoneInfo:
    """The campaign's time zone."""
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))


def to_local(value: datetime) -> datetime:
    """``value`` in the campaign's zone (a naive value is taken as UTC, as the database stores it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone())


def format_local(value: datetime | None, fmt: str = DISPLAY_FORMAT) -> str:
    """``value`` as people read it, in the campaign's zone; "" for no value."""
    return "" if value is None else to_local(value).strftime(fmt)


def local_today(now: datetime | None = None) -> date:
    return to_local(now or utcnow()).date()


def local_day_key(now: datetime | None = None) -> str:
    """The local day of ``now`` (default: now) as ``yyyymmdd``."""
    return to_local(now or utcnow()).strftime(DAY_KEY_FORMAT)


def parse_day_key(key: str) -> date:
    return datetime.strptime(key, DAY_KEY_FORMAT).date()


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the campaign's zone, as an aware datetime."""
    return datetime.combine(day, datetime.min.time(), zone())


def utc_offset(now: datetime | None = None) -> timedelta:
    """The campaign zone's offset from UTC at ``now`` (default: now)."""
    return to_local(now or utcnow()).utcoffset() or timedelta()


def in_window(opens: datetime, closes: datetime, now: datetime | None = None) -> bool:
    """Whether ``now`` is inside [opens, closes): a window includes its opening instant, not its
    closing one, so two windows that meet never overlap."""
    now = now or utcnow()
    return opens <= now < closes
