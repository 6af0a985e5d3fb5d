"""Listing works in SQL: the filters every listing shares and the newest-first page.

Orders that read the Redis rankings (``sort=likes|hot``) are engagement's
(app/engagement/work_lists.py); this module knows nothing of likes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.catalog.lists import INDUSTRIES, PROVINCES
from app.extensions import db
from app.ids import ID_MAX, invalid_parameter, parse_int, query_id
from app.models import Collective, Work, WorkKind, WorkStatus
from app.paging import invalid_cursor
from app.policy import can_manage_collective

PAGE_SIZE = 20
PAGE_SIZE_MAX = 50
SORTS = ("new", "likes", "hot")


def work_query() -> sa.Select:
    """Works with their collective, media assets and captions, loaded in the same round trips."""
    return sa.select(Work).options(
        so.joinedload(Work.collective), so.selectinload(Work.assets), so.selectinload(Work.captions)
    )


@dataclass(frozen=True)
class WorkFilters:
    kind: WorkKind | None = None
    industry: str | None = None
    province: str | None = None
    campaign_id: int | None = None


def parse_work_filters(args: Mapping[str, Any]) -> tuple[WorkFilters, str]:
    """Filters and sort from query parameters; unknown values are 400 ``invalid_parameter``."""
    kind = args.get("kind") or None
    if kind is not None and kind not in {k.value for k in WorkKind}:
        raise invalid_parameter("kind", kind)
    industry = args.get("industry") or None
    if industry is not None and industry not in INDUSTRIES:
        raise invalid_parameter("industry", industry)
    province = args.get("province") or None
    if province is not None and province not in PROVINCES:
        raise invalid_parameter("province", province)
    campaign_id = query_id("campaign_id", args)
    sort = args.get("sort") or "new"
    if sort not in SORTS:
        raise invalid_parameter("sort", sort)
    filters = WorkFilters(
        kind=WorkKind(kind) if kind else None, industry=industry, province=province, campaign_id=campaign_id
    )
    return filters, sort


def apply_work_filters(
    query: sa.Select, filters: WorkFilters, *, collective_joined: bool = False
) -> sa.Select:
    """``query`` (of works) narrowed to the filters: the one place every listing, the wall, the
    search and the review queues apply kind, campaign, industry and province. The collective is
    joined only when a filter needs it, unless the query has joined it already."""
    if filters.kind:
        query = query.where(Work.kind == filters.kind)
    if filters.campaign_id:
        query = query.where(Work.campaign_id == filters.campaign_id)
    if filters.industry or filters.province:
        if not collective_joined:
            query = query.join(Collective, Work.collective_id == Collective.id)
        if filters.industry:
            query = query.where(Collective.industry == filters.industry)
        if filters.province:
            query = query.where(Collective.province == filters.province)
    return query


def published_works(filters: WorkFilters) -> sa.Select:
    """Every published work matching the filters, unordered."""
    query = work_query().where(Work.status == WorkStatus.PUBLISHED, Work.published_at.is_not(None))
    return apply_work_filters(query, filters)


def newest_works(
    query: sa.Select, after: Mapping[str, Any] | None, limit: int
) -> tuple[list[Work], dict[str, Any] | None]:
    """One page of ``query`` ordered by (published_at, id) descending, a stable keyset, and the
    position after it (None on the last page)."""
    if after is not None:
        try:
            at = datetime.fromisoformat(after["t"])
            last_id = parse_int(after["i"], minimum=-ID_MAX, maximum=ID_MAX)
        except (KeyError, TypeError, ValueError):
            raise invalid_cursor() from None
        if last_id is None:
            raise invalid_cursor()
        query = query.where(
            sa.or_(Work.published_at < at, sa.and_(Work.published_at == at, Work.id < last_id))
        )
    query = query.order_by(Work.published_at.desc(), Work.id.desc())
    rows = list(db.session.scalars(query.limit(limit + 1)))
    works = rows[:limit]
    if len(rows) <= limit:
        return works, None
    last = works[-1]
    return works, {"s": "new", "t": last.published_at.isoformat(), "i": last.id}


def collective_works(collective: Collective, viewer: Any, limit: int = 60) -> list[Work]:
    """Published works of a collective; its own members also see their unpublished ones."""
    query = work_query().where(Work.collective_id == collective.id)
    if not can_manage_collective(viewer, collective):
        query = query.where(Work.status == WorkStatus.PUBLISHED)
    query = query.order_by(Work.published_at.desc().nulls_last(), Work.id.desc()).limit(limit)
    return list(db.session.scalars(query))
