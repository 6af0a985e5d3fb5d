"""Reviewing works: the queues, approve (publish), reject with a reason, recommend (推报).

Provincial moderators act on their own province's works only; national moderators and admins on
every province. A work outside the moderator's scope answers 404 when the moderator may not even
see it (unpublished), 403 when it is public. Each action commits together with exactly one audit
event (``app.moderation.audit``); repeating an action that changes nothing (recommending a work
already recommended) writes no event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app import signals
from app.engagement import services as engagement
from app.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed
from app.extensions import db
from app.field_limits import BULK_MAX
from app.ids import parse_id
from app.models import (
    Collective,
    Comment,
    CommentStatus,
    Report,
    ReportStatus,
    Work,
    WorkStatus,
    utcnow,
)
from app.moderation import audit
from app.moderation.queues import ACTIONS, QUEUES
from app.notifications import services as notifications
from app.policy import in_scope, is_national, province_of, require_moderator
from app.signals import announce
from app.sql_locks import transition
from app.works.listing import WorkFilters, apply_work_filters
from app.works.services import get_work

PAGE_SIZE = 20
PAGE_SIZE_MAX = 100

_QUEUE_STATUS = {
    "pending": WorkStatus.PENDING_REVIEW,
    "recommended": WorkStatus.PUBLISHED,
    "published": WorkStatus.PUBLISHED,
    "rejected": WorkStatus.REJECTED,
}


def _not_found() -> NotFound:
    return NotFound(_("您要找的作品不存在或已被删除。"))


def _scoped(query: sa.Select, moderator: Any) -> sa.Select:
    province = province_of(moderator)
    if province is not None:
        query = query.where(Collective.province == province)
    return query


def _filtered(query: sa.Select, filters: WorkFilters) -> sa.Select:
    # The review queries always join the collective (the scope is a province).
    return apply_work_filters(query, filters, collective_joined=True)


def _queue_query(moderator: Any, queue: str, filters: WorkFilters) -> sa.Select:
    query = (
        sa.select(Work)
        .join(Collective, Work.collective_id == Collective.id)
        .where(Work.status == _QUEUE_STATUS[queue])
    )
    if queue == "recommended":
        query = query.where(Work.recommended.is_(True))
    return _filtered(_scoped(query, moderator), filters)


@dataclass
class QueuePage:
    works: list[Work]
    next_cursor: int | None


def review_queue(
    moderator: Any,
    queue: str = "pending",
    filters: WorkFilters | None = None,
    *,
    after_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> QueuePage:
    """One page of a queue in the moderator's scope. Pending works come oldest first (first
    submitted, first reviewed); the others newest first. Keyset on the id, so a page never
    shifts while the moderator clears the one before it."""
    require_moderator(moderator)
    if queue not in QUEUES:
        raise ServiceError(_("未知的审核队列：%(queue)s", queue=queue), code="invalid_parameter")
    if queue == "recommended" and not is_national(moderator):
        raise Forbidden(_("只有全国组委会的管理员可以查看推报作品。"))
    limit = max(1, min(int(limit), PAGE_SIZE_MAX))
    oldest_first = queue == "pending"
    query = _queue_query(moderator, queue, filters or WorkFilters()).options(
        so.joinedload(Work.collective),
        so.joinedload(Work.campaign),
        so.selectinload(Work.assets),
        so.selectinload(Work.captions),
    )
    if after_id is not None:
        query = query.where(Work.id > after_id if oldest_first else Work.id < after_id)
    query = query.order_by(Work.id.asc() if oldest_first else Work.id.desc()).limit(limit + 1)
    works = list(db.session.scalars(query).unique())
    if len(works) > limit:
        return QueuePage(works[:limit], works[limit - 1].id)
    return QueuePage(works, None)


def queue_counts(moderator: Any, filters: WorkFilters | None = None) -> dict[str, int]:
    """How many works wait in each queue of the moderator's scope, plus the comments waiting
    and the open reports: one grouped query for the works, two counts for the rest."""
    require_moderator(moderator)
    filters = filters or WorkFilters()
    base = _filtered(
        _scoped(sa.select(Work.status, Work.recommended, sa.func.count()), moderator).join(
            Collective, Work.collective_id == Collective.id
        ),
        filters,
    ).group_by(Work.status, Work.recommended)
    counts = dict.fromkeys(QUEUES, 0)
    for status, recommended, n in db.session.execute(base):
        if status == WorkStatus.PENDING_REVIEW:
            counts["pending"] += n
        elif status == WorkStatus.PUBLISHED:
            counts["published"] += n
            if recommended:
                counts["recommended"] += n
        elif status == WorkStatus.REJECTED:
            counts["rejected"] += n
    comment_query = (
        sa.select(sa.func.count())
        .select_from(Comment)
        .join(Work, Comment.work_id == Work.id)
        .join(Collective, Work.collective_id == Collective.id)
        .where(Comment.status == CommentStatus.PENDING)
    )
    counts["comments"] = db.session.scalar(_scoped(comment_query, moderator)) or 0
    counts["reports"] = _open_report_count(moderator)
    if not is_national(moderator):
        del counts["recommended"]
    return counts


def _open_report_count(moderator: Any) -> int:
    """Open reports on works and on comments of works in the moderator's scope."""
    on_work = (
        sa.select(sa.func.count())
        .select_from(Report)
        .join(Work, sa.and_(Report.target_type == "work", Report.target_id == Work.id))
        .join(Collective, Work.collective_id == Collective.id)
        .where(Report.status == ReportStatus.OPEN)
    )
    on_comment = (
        sa.select(sa.func.count())
        .select_from(Report)
        .join(Comment, sa.and_(Report.target_type == "comment", Report.target_id == Comment.id))
        .join(Work, Comment.work_id == Work.id)
        .join(Collective, Work.collective_id == Collective.id)
        .where(Report.status == ReportStatus.OPEN)
    )
    return sum(db.session.scalar(_scoped(q, moderator)) or 0 for q in (on_work, on_comment))


def get_work_for_review(moderator: Any, work_id: int) -> Work:
    """The work if it is in the moderator's scope. Outside it: 404 for an unpublished work
    (its existence does not leak), 403 for a public one."""
    require_moderator(moderator)
    work = get_work(work_id, media=False)
    if not in_scope(moderator, work.collective.province):
        if work.status == WorkStatus.PUBLISHED:
            raise Forbidden(_("这件作品不属于您负责的省份。"))
        raise _not_found()
    return work


def _clean_reason(reason: Any, *, required: bool) -> str:
    return audit.clean_reason(
        reason, required=required, missing=_("请填写不通过的原因，集体会在作品页面看到它。")
    )


def approve_work(moderator: Any, work_id: int) -> Work:
    """pending_review → published: it becomes public and enters every ranking."""
    work = get_work_for_review(moderator, work_id)
    published = transition(
        work,
        Work.status == WorkStatus.PENDING_REVIEW,
        status=WorkStatus.PUBLISHED,
        published_at=utcnow(),
        reject_reason=None,
    )
    if not published:
        db.session.rollback()
        raise Conflict(_("只有待审核的作品可以审核通过。"), code="not_pending")
    audit.record(moderator, "approve", "work", work.id)
    notifications.work_approved(moderator, work)
    db.session.commit()
    engagement.work_published(work)
    announce(signals.work_published, work=work)
    return work


def reject_work(moderator: Any, work_id: int, reason: Any) -> Work:
    """pending_review (or published: taken down) → rejected, with a reason the collective reads
    on its work. The collective may edit and submit it again."""
    text = _clean_reason(reason, required=True)
    work = get_work_for_review(moderator, work_id)
    was_published = work.status == WorkStatus.PUBLISHED
    rejected = transition(
        work,
        Work.status == work.status,
        Work.status.in_([WorkStatus.PENDING_REVIEW, WorkStatus.PUBLISHED]),
        status=WorkStatus.REJECTED,
        reject_reason=text,
        recommended=False,
    )
    if not rejected:
        db.session.rollback()
        raise Conflict(_("只有待审核或已发布的作品可以设为不通过。"), code="not_reviewable")
    audit.record(moderator, "reject", "work", work.id, text)
    notifications.work_rejected(moderator, work, text)
    db.session.commit()
    if was_published:
        # Engagement subscribes: the work leaves the rankings (app/engagement/subscribers.py).
        announce(signals.work_unpublished, work=work)
    return work


def _not_published() -> Conflict:
    return Conflict(_("作品审核通过并发布后才能推报。"), code="not_published")


def recommend_work(moderator: Any, work_id: int, note: Any = "") -> Work:
    """推报: a provincial moderator puts a published work of their province forward to the
    national committee. Recommending again changes nothing (and writes no event)."""
    text = _clean_reason(note, required=False)
    work = get_work_for_review(moderator, work_id)
    if work.status != WorkStatus.PUBLISHED:
        raise _not_published()
    if transition(
        work,
        Work.status == WorkStatus.PUBLISHED,
        Work.recommended.is_(False),
        recommended=True,
        recommended_by_id=moderator.id,
        recommended_at=utcnow(),
    ):
        audit.record(moderator, "recommend", "work", work.id, text)
        notifications.work_recommended(moderator, work)
        db.session.commit()
        return work
    # Nothing changed: recommended already, or taken down since it was read (the work reloads).
    db.session.rollback()
    if work.status != WorkStatus.PUBLISHED:
        raise _not_published()
    return work


def unrecommend_work(moderator: Any, work_id: int) -> Work:
    work = get_work_for_review(moderator, work_id)
    if transition(
        work, Work.recommended.is_(True), recommended=False, recommended_by_id=None, recommended_at=None
    ):
        audit.record(moderator, "unrecommend", "work", work.id)
    db.session.commit()
    return work


def act(moderator: Any, action: str, work_id: int, reason: Any = "") -> Work:
    """One review action by name: what the pages' buttons and the bulk form call."""
    if action == "approve":
        return approve_work(moderator, work_id)
    if action == "reject":
        return reject_work(moderator, work_id, reason)
    if action == "recommend":
        return recommend_work(moderator, work_id, reason)
    if action == "unrecommend":
        return unrecommend_work(moderator, work_id)
    raise ServiceError(_("未知的审核操作：%(action)s", action=action), code="invalid_parameter")


@dataclass
class BulkResult:
    done: list[int]
    failed: dict[int, str]


def bulk_act(moderator: Any, action: str, work_ids: Iterable[Any], reason: Any = "") -> BulkResult:
    """The same action on many works, each on its own (one refusal does not stop the rest);
    every success writes its own audit event."""
    require_moderator(moderator)
    if action not in ACTIONS:
        raise ServiceError(_("未知的审核操作：%(action)s", action=action), code="invalid_parameter")
    if action == "reject":
        _clean_reason(reason, required=True)  # refuse the whole batch before touching any work
    ids: list[int] = []
    for value in work_ids:
        work_id = parse_id(value)
        if work_id is None:
            message = _("作品编号无效：%(value)s", value=str(value)[:40])
            raise ValidationFailed(message, code="invalid_work_id")
        if work_id not in ids:
            ids.append(work_id)
    if not ids:
        raise ValidationFailed(_("请先选择作品。"))
    if len(ids) > BULK_MAX:
        raise ValidationFailed(_("一次最多处理 %(n)s 件作品。", n=BULK_MAX))
    result = BulkResult([], {})
    for work_id in ids:
        try:
            act(moderator, action, work_id, reason)
        except ServiceError as exc:
            db.session.rollback()
            result.failed[work_id] = exc.message
        else:
            result.done.append(work_id)
    return result
