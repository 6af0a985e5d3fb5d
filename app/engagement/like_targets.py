"""What a like needs to know about a published work, remembered by each web process for a moment.

A like read its work with its campaign and collective in one SQL query, a fifth of the like's
SQL round trips; during a spike thousands of likes a second read the same row. Each process now
keeps, for ``LIKE_TARGET_CACHE_SECONDS`` (default 2; 0 turns it off), the few facts of a
*published* work a like uses: its status, its campaign's voting window and the rankings it
belongs to. Works in any other state are read from SQL on every like (their visibility depends on
who asks).

Nothing gets through that should not: the like's INSERT (and the unlike's DELETE) checks in SQL
that the work is still published, so a work taken down a moment ago is refused at once on every
process, with the answer a fresh read gives (404 to those who may not see it, else 409). What
the moment delays: a change of the campaign's voting window, or of the collective's industry or
province, reaches the like path within ``LIKE_TARGET_CACHE_SECONDS`` on the other processes; on
the process that committed it, at once (its commit empties this process's memory).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app

from app.commit_watch import forget_on_commit
from app.models import Campaign, Collective, Work, WorkStatus
from app.works.services import get_visible_work

MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Window:
    voting_opens: datetime | None
    voting_closes: datetime | None


@dataclass(frozen=True, slots=True)
class Place:
    industry: str
    province: str


@dataclass(frozen=True, slots=True)
class LikeTarget:
    """A published work as the like path reads it: the attributes of ``Work`` it uses."""

    id: int
    status: WorkStatus
    campaign_id: int
    campaign: Window
    collective: Place


_entries: dict[int, tuple[LikeTarget, float]] = {}
_lock = threading.Lock()


def like_target(work_id: int, viewer: Any) -> LikeTarget | Work:
    """The work a like or unlike is about: remembered when published, else read (404 as
    ``get_visible_work`` when the viewer may not see it)."""
    entry = _entries.get(work_id)
    if entry is not None:
        target, until = entry
        if time.monotonic() < until:
            return target
        _entries.pop(work_id, None)
    work = get_visible_work(work_id, viewer, media=False)
    seconds = current_app.config.get("LIKE_TARGET_CACHE_SECONDS", 0)
    if seconds > 0 and work.status == WorkStatus.PUBLISHED:
        target = LikeTarget(
            id=work.id,
            status=work.status,
            campaign_id=work.campaign_id,
            campaign=Window(work.campaign.voting_opens, work.campaign.voting_closes),
            collective=Place(work.collective.industry, work.collective.province),
        )
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[work_id] = (target, time.monotonic() + seconds)
    return work


def forget(work_id: int) -> None:
    _entries.pop(work_id, None)


def forget_all() -> None:
    with _lock:
        _entries.clear()


# In-process invalidation: a commit here that touched a work, a campaign or a collective; new
# rows too, as a new work may take the id of one deleted behind this process's back.
forget_on_commit((Work, Campaign, Collective), forget_all, new_rows=True)
