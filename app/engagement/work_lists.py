"""Works with their engagement: listings in the rankings' order and works with their counts.

``sort=new`` is a plain SQL keyset (app/works/listing.py); ``likes`` and ``hot`` read the Redis
rankings (SQL computes the same order when Redis is away). Likes, comments and views come through
:func:`engagement_counts`, the single function pages and the API read them from: Redis counters,
with SQL as the fallback when Redis is down.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from app.engagement import services as engagement
from app.engagement.counters import WorkCounts
from app.engagement.scoring import Ranking
from app.extensions import db
from app.models import Work
from app.paging import invalid_cursor
from app.works.listing import PAGE_SIZE, PAGE_SIZE_MAX, WorkFilters, newest_works, published_works
from app.works.serialise import work_to_dict

# The counts pages and the API show: likes, visible comments, views.
EngagementCounts = WorkCounts


def ranking_for(filters: WorkFilters, sort: str) -> Ranking:
    """The Redis ranking a ``likes``/``hot`` listing reads: the one for its filter when it has
    one, else the narrowest that holds every match (a province, then an industry, then a
    campaign, else the overall one), post-filtered by :func:`list_published_works`."""
    if filters.province:
        return Ranking.of(sort, province=filters.province)
    if filters.industry:
        return Ranking.of(sort, industry=filters.industry)
    if filters.campaign_id:
        return Ranking.of(sort, campaign_id=filters.campaign_id)
    return Ranking.of(sort)


def list_published_works(
    filters: WorkFilters | None = None,
    *,
    sort: str = "new",
    after: Mapping[str, Any] | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[Work], dict[str, Any] | None]:
    """One page of published works and the position after it (None on the last page).

    ``new`` orders by (published_at, id) descending in SQL, a stable keyset.

    ``likes`` and ``hot`` read the Redis rankings. A ranking exists per campaign, industry and
    province, so a request with one of those filters reads its own ranking. With several
    filters, or ``kind`` (no ranking per kind), it reads the narrowest ranking that holds every
    match and keeps the works matching all the filters (one SQL query per batch, at most
    ``rankings.SCAN_LIMIT`` ranked works per page): the order is still the live ranking's and
    no like is ever counted in SQL to sort. A page may then be shorter than ``limit`` with more
    to come; only a missing next position means the end. Counts move between two pages, so a
    work may appear twice or be skipped; the cursor (the last work's score and id) never loops.
    """
    filters = filters or WorkFilters()
    limit = max(1, min(limit, PAGE_SIZE_MAX))
    query = published_works(filters)
    if after is not None and after.get("s") != sort:
        raise invalid_cursor()
    if sort != "new":
        return _ranked_works(query, ranking_for(filters, sort), after, limit)
    return newest_works(query, after, limit)


def _ranked_works(
    query: sa.Select, ranking: Ranking, after: Mapping[str, Any] | None, limit: int
) -> tuple[list[Work], dict[str, Any] | None]:
    cursor = None
    if after is not None:
        cursor = after.get("r")
        if not isinstance(cursor, str):
            raise invalid_cursor()
    loaded: dict[int, Work] = {}

    def keep(work_ids: list[int]) -> Container[int]:
        # Also drops a work unpublished since it was ranked (reconcile removes it from Redis).
        if work_ids:
            loaded.update((work.id, work) for work in db.session.scalars(query.where(Work.id.in_(work_ids))))
        return loaded

    page = engagement.top_works(ranking, cursor=cursor, limit=limit, keep=keep)
    works = [loaded[work_id] for work_id in page.work_ids]
    return works, ({"s": ranking.metric, "r": page.next_cursor} if page.next_cursor else None)


def engagement_counts(work_ids: Iterable[int]) -> dict[int, EngagementCounts]:
    """Likes, visible comments and views per work: the one place pages and the API get them.

    Redis counters (exact, see docs/counters.md), or SQL when Redis is down (views then count
    the flushed ones only).
    """
    return engagement.counts_for(work_ids)


def liked_work_ids(viewer: Any, work_ids: Iterable[int]) -> set[int]:
    """Which of these works the viewer likes (SQL, the truth)."""
    return engagement.liked_by(viewer, work_ids)


def work_dict(work: Work, viewer: Any) -> dict[str, Any]:
    """The API v1 representation of one work, with its counts and whether ``viewer`` likes it."""
    counts = engagement_counts([work.id]).get(work.id, EngagementCounts())
    return work_to_dict(work, counts=counts, liked=work.id in liked_work_ids(viewer, [work.id]))


def works_to_dicts(works: list[Work], viewer: Any) -> list[dict[str, Any]]:
    """Serialise a page of works with two bulk queries instead of two per work."""
    ids = [work.id for work in works]
    counts = engagement_counts(ids)
    liked = liked_work_ids(viewer, ids)
    return [
        work_to_dict(work, counts=counts.get(work.id, EngagementCounts()), liked=work.id in liked)
        for work in works
    ]
