"""The comment queue: comments held by the word filter and visible comments people reported.

Moderators of the work's province (national moderators and admins: every province) approve or
hide them. Approving and hiding run inside the same counter fence as posting and deleting
(``comments.counting_comments``), so the work's Redis comment counter moves by exactly what the commit
changed, even while a recount runs (docs/counters.md, "The fence"). Each call writes one audit
event in the transaction of its change.

- Approving a pending comment makes it visible (counted) and dismisses open reports on it;
  approving a reported visible comment keeps it and dismisses the reports ("nothing wrong").
- Hiding takes a top-level comment's replies with it, as deleting does (no counted reply under a
  hidden comment), and resolves the open reports on what it hid.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.engagement import comments, services
from app.errors import Conflict, NotFound
from app.extensions import db
from app.ids import parse_id
from app.models import Collective, Comment, CommentStatus, Report, ReportStatus, User, Work, utcnow
from app.moderation import audit
from app.notifications import services as notifications
from app.paging import decode_id_cursor, encode_id_cursor, page_size
from app.policy import in_scope, province_of, require_moderator
from app.signals import announce, comment_approved, comments_hidden

# Reasons shown per comment in the queue; the count says how many there are in all.
REASONS_SHOWN = 5


def _not_found() -> NotFound:
    return NotFound(_("评论不存在或已被删除。"))


def _reviewable(actor: Any, comment_id: Any) -> tuple[Comment, Work]:
    """The comment and its work if ``actor`` moderates the work's province; otherwise 404, so a
    provincial moderator learns nothing about other provinces."""
    require_moderator(actor)
    cid = parse_id(comment_id)
    comment = db.session.get(Comment, cid) if cid is not None else None
    work = db.session.get(Work, comment.work_id) if comment is not None else None
    if comment is None or work is None or not in_scope(actor, work.collective.province):
        raise _not_found()
    return comment, work


def _open_reports_on(comment_ids: sa.ColumnElement[bool] | Any) -> sa.ColumnElement[bool]:
    return sa.and_(
        Report.target_type == "comment", Report.target_id.in_(comment_ids), Report.status == ReportStatus.OPEN
    )


def close_reports(where: sa.ColumnElement[bool], actor: Any, outcome: ReportStatus) -> int:
    """Answer the open reports ``where`` selects (in the caller's transaction)."""
    result = db.session.execute(
        sa.update(Report)
        .where(where, Report.status == ReportStatus.OPEN)
        .values(status=outcome, resolved_by_id=actor.id, resolved_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _already_reviewed() -> Conflict:
    return Conflict(_("这条评论已经处理过了。"), code="already_moderated")


def approve_comment(actor: Any, comment_id: Any) -> Comment:
    """Pending → visible (counted); a reported visible comment stays, its reports dismissed."""
    comment, work = _reviewable(actor, comment_id)
    reported = db.session.scalar(sa.select(sa.func.count()).where(_open_reports_on([comment.id])))
    if comment.status == CommentStatus.HIDDEN or (comment.status == CommentStatus.VISIBLE and not reported):
        raise _already_reviewed()
    with comments.counting_comments(work) as flight:
        # A reply made public under a hidden thread would be counted but never shown.
        parent_id = comment.parent_id
        if (
            parent_id is not None
            and comments.lock_thread_root(parent_id, shared=True) != CommentStatus.VISIBLE
        ):
            raise Conflict(_("所回复的评论已被删除，这条回复不能再公开。"), code="parent_hidden")
        # Only a row this statement turned visible is counted, so two approvals count once.
        approved = db.session.execute(
            sa.update(Comment)
            .where(Comment.id == comment.id, Comment.status == CommentStatus.PENDING)
            .values(status=CommentStatus.VISIBLE)
            .returning(Comment.id)
            .execution_options(synchronize_session=False)
        ).all()
        if comment.status == CommentStatus.PENDING and not approved:
            # Another moderator approved (or hid) it a moment ago: their action stands alone.
            raise _already_reviewed()
        close_reports(_open_reports_on([comment.id]), actor, ReportStatus.DISMISSED)
        audit.record(actor, "comment_approve", "comment", comment.id)
        notifications.comment_approved(comment, approved)
        db.session.commit()
        if approved:
            services.comment_added(work, True, flight=flight)
    if approved:
        announce(comment_approved, work=work, comment=comment)
    db.session.refresh(comment)
    return comment


def hide_comment(actor: Any, comment_id: Any, reason: Any = "") -> int:
    """Visible or pending → hidden, with its replies for a top-level comment. Returns how many
    visible comments went away; the work's counter drops by exactly as many."""
    text = audit.clean_reason(reason, required=False)
    comment, work = _reviewable(actor, comment_id)
    if comment.status == CommentStatus.HIDDEN:
        raise _already_reviewed()
    return hide_in_fence(actor, comment, work, text)


def hide_in_fence(actor: Any, comment: Comment, work: Work, reason: str) -> int:
    """Hide ``comment`` (already scope-checked) with one ``comment_hide`` event. 409 when another
    moderator hid it since the caller read it: their action stands alone, with its one event."""
    with comments.counting_comments(work) as flight:
        hidden = comments.hide_thread(work, comment)
        if not hidden.hid_comment:
            raise _already_reviewed()
        gone = hidden.uncounted
        thread = sa.or_(Comment.id == comment.id, Comment.parent_id == comment.id)
        close_reports(
            _open_reports_on(sa.select(Comment.id).where(Comment.work_id == work.id, thread)),
            actor,
            ReportStatus.RESOLVED,
        )
        audit.record(actor, "comment_hide", "comment", comment.id, reason)
        db.session.commit()
        for _row in gone:
            services.comment_removed(work, True, flight=flight)
    announce(comments_hidden, work=work, comment_ids=gone)
    return len(gone)


def comment_queue(
    moderator: Any, cursor: str | None = None, limit: int = 20
) -> tuple[list[dict], str | None]:
    """Pending comments and visible comments with open reports in the moderator's scope, oldest
    first, as JSON-ready dicts; and the cursor of the next page (None at the end)."""
    require_moderator(moderator)
    size = page_size(limit)
    after = decode_id_cursor(cursor)
    reports = (
        sa.select(Report.target_id.label("comment_id"), sa.func.count().label("n"))
        .where(Report.target_type == "comment", Report.status == ReportStatus.OPEN)
        .group_by(Report.target_id)
        .subquery()
    )
    query = (
        sa.select(Comment, User, Work.title, sa.func.coalesce(reports.c.n, 0))
        .join(Work, Work.id == Comment.work_id)
        .join(Collective, Collective.id == Work.collective_id)
        .join(User, User.id == Comment.user_id)
        .outerjoin(reports, reports.c.comment_id == Comment.id)
        .where(
            sa.or_(
                Comment.status == CommentStatus.PENDING,
                sa.and_(Comment.status == CommentStatus.VISIBLE, reports.c.n > 0),
            )
        )
        .order_by(Comment.id)
        .limit(size + 1)
    )
    province = province_of(moderator)
    if province is not None:
        query = query.where(Collective.province == province)
    if after is not None:
        query = query.where(Comment.id > after)
    rows = db.session.execute(query).tuples().all()
    page = rows[:size]
    reasons = _reasons([comment.id for comment, *_rest in page])
    items = [
        {
            "id": comment.id,
            "work_id": comment.work_id,
            "work_title": title,
            "parent_id": comment.parent_id,
            "author_id": author.id,
            "author_name": author.display_name,
            "author_banned": author.banned,
            "body": comment.body,
            "status": str(comment.status),
            "created_at": comment.created_at.isoformat(),
            "report_count": int(count),
            "reasons": reasons.get(comment.id, []),
        }
        for comment, author, title, count in page
    ]
    next_cursor = encode_id_cursor(page[-1][0].id) if len(rows) > size else None
    return items, next_cursor


def _reasons(comment_ids: list[int]) -> dict[int, list[str]]:
    if not comment_ids:
        return {}
    found: dict[int, list[str]] = {}
    rows = db.session.execute(
        sa.select(Report.target_id, Report.reason).where(_open_reports_on(comment_ids)).order_by(Report.id)
    )
    for comment_id, reason in rows:
        shown = found.setdefault(comment_id, [])
        if len(shown) < REASONS_SHOWN:
            shown.append(reason)
    return found
