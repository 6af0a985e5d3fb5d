"""What SQL says the counters are: the source of truth every Redis number is checked against.

Only reads. Likes are counted from ``like`` rows, comments from visible ``comment`` rows, views are
``work.view_count`` (flushed) — nothing is ever read from a denormalised counter column.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.engagement.counters import WorkCounts
from app.engagement.scoring import Ranking, rankings_for
from app.extensions import db
from app.models import Collective, Comment, CommentStatus, Like, Work, WorkStatus

# Large enough to make round trips rare, small enough for any database's parameter limit.
IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class WorkFacts:
    """What decides which rankings a work is in, and where."""

    id: int
    published: bool
    published_at: datetime | None
    campaign_id: int
    industry: str
    province: str
    view_count: int

    @property
    def rankings(self) -> tuple[Ranking, ...]:
        return rankings_for(self.campaign_id, self.industry, self.province)


def _chunks(ids: Sequence[int], size: int = IN_CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def work_facts(work_ids: Iterable[int]) -> dict[int, WorkFacts]:
    """Facts of the works that exist; missing ids are simply absent."""
    facts: dict[int, WorkFacts] = {}
    for chunk in _chunks(sorted(set(work_ids))):
        rows = db.session.execute(
            sa.select(
                Work.id,
                Work.status,
                Work.published_at,
                Work.campaign_id,
                Collective.industry,
                Collective.province,
                Work.view_count,
            )
            .join(Collective, Work.collective_id == Collective.id)
            .where(Work.id.in_(chunk))
        )
        for row in rows:
            facts[row.id] = WorkFacts(
                id=row.id,
                published=row.status == WorkStatus.PUBLISHED,
                published_at=row.published_at,
                campaign_id=row.campaign_id,
                industry=row.industry,
                province=row.province,
                view_count=row.view_count or 0,
            )
    return facts


def _grouped_count(column, filters, work_ids: Iterable[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for chunk in _chunks(sorted(set(work_ids))):
        query = sa.select(column, sa.func.count()).where(column.in_(chunk), *filters).group_by(column)
        counts.update({work_id: n for work_id, n in db.session.execute(query)})
    return counts


def like_counts(work_ids: Iterable[int]) -> dict[int, int]:
    return _grouped_count(Like.work_id, (), work_ids)


def visible_comment_counts(work_ids: Iterable[int]) -> dict[int, int]:
    return _grouped_count(Comment.work_id, (Comment.status == CommentStatus.VISIBLE,), work_ids)


def sql_counts(work_ids: Iterable[int]) -> dict[int, WorkCounts]:
    """Counts straight from SQL (views: flushed ones only), zeros for works without any."""
    ids = sorted(set(work_ids))
    likes, comments = like_counts(ids), visible_comment_counts(ids)
    views: dict[int, int] = {}
    for chunk in _chunks(ids):
        views.update(db.session.execute(sa.select(Work.id, Work.view_count).where(Work.id.in_(chunk))).all())
    return {i: WorkCounts(likes.get(i, 0), comments.get(i, 0), views.get(i) or 0) for i in ids}


def work_id_batches(*, published_only: bool, batch_size: int) -> Iterator[list[int]]:
    """Every work id (or every published one), in ascending batches (keyset pagination)."""
    last = 0
    while True:
        query = sa.select(Work.id).where(Work.id > last).order_by(Work.id).limit(batch_size)
        if published_only:
            query = query.where(Work.status == WorkStatus.PUBLISHED)
        ids = list(db.session.scalars(query))
        if not ids:
            return
        yield ids
        last = ids[-1]


def published_in_scope(ranking: Ranking) -> list[tuple[int, int, datetime | None]]:
    """(work id, likes, published_at) of every published work in the ranking's scope."""
    likes = sa.select(Like.work_id, sa.func.count().label("n")).group_by(Like.work_id).subquery()
    query = (
        sa.select(Work.id, sa.func.coalesce(likes.c.n, 0), Work.published_at)
        .join(Collective, Work.collective_id == Collective.id)
        .outerjoin(likes, likes.c.work_id == Work.id)
        .where(Work.status == WorkStatus.PUBLISHED)
    )
    if ranking.scope == "campaign":
        query = query.where(Work.campaign_id == int(ranking.value))
    elif ranking.scope == "industry":
        query = query.where(Collective.industry == ranking.value)
    elif ranking.scope == "province":
        query = query.where(Collective.province == ranking.value)
    return [(work_id, n, published_at) for work_id, n, published_at in db.session.execute(query)]
