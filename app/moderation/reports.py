"""Reports (举报): any signed-in account reports a work or a comment; moderators answer them.

- The target must exist and be visible to the reporter (else 404, as for a missing one: nobody
  learns about drafts or hidden comments by reporting them).
- The reason is required, trimmed, at most 500 characters (422).
- Reporting the same target again while one's earlier report is still open returns that report:
  the queue counts people, not clicks. The reporter's row is locked while checking
  (``app.sql_locks``), so two simultaneous reports by one person make one row; a reported
  comment's row too, so no report stays open on a comment hidden at the same moment.
- Moderators see and answer the open reports of their province (the province of the work, or of
  the reported comment's work); national moderators and admins every province. Outside one's
  scope a report answers 404. Each answer writes one audit event; resolving a comment report
  with ``hide=True`` hides the comment (``comment_review.hide_comment``: its one ``comment_hide``
  event, and every open report on that comment resolved with it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.engagement import comments
from app.errors import Conflict, NotFound, ServiceError, ValidationFailed
from app.extensions import db
from app.ids import parse_id
from app.models import Collective, Comment, CommentStatus, Report, ReportStatus, ReportTarget, User, Work
from app.moderation import audit, comment_review
from app.paging import decode_id_cursor, encode_id_cursor, page_size
from app.policy import can_view_work, in_scope, province_of, require_moderator
from app.sql_locks import lock

TARGET_TYPES = tuple(target.value for target in ReportTarget)
OUTCOMES = {"resolved": ReportStatus.RESOLVED, "dismissed": ReportStatus.DISMISSED}


def _target_gone(target_type: str) -> NotFound:
    if target_type == "comment":
        return NotFound(_("评论不存在或已被删除。"))
    return NotFound(_("您要找的作品不存在或已被删除。"))


def _check_target(user: Any, target_type: Any, target_id: Any) -> tuple[str, int]:
    if target_type not in TARGET_TYPES:
        message = _("只能举报作品或评论。")
        raise ValidationFailed(message, code="invalid_target_type", fields={"target_type": message})
    tid = parse_id(target_id)
    if tid is None:
        raise _target_gone(target_type)
    if target_type == "work":
        work = db.session.get(Work, tid)
        if work is None or not can_view_work(user, work):
            raise _target_gone(target_type)
    else:
        comments.get_comment(tid, user)
    return target_type, tid


def clean_report_reason(reason: Any) -> str:
    return audit.clean_reason(reason, required=True, missing=_("请写明举报理由。"))


def create_report(user: Any, target_type: Any, target_id: Any, reason: Any) -> Report:
    """Report a work or a comment; the reporter's open report on it if there is one already."""
    if not getattr(user, "is_authenticated", False):
        raise ServiceError(_("请先登录。"), code="unauthorized", status=401)
    kind, tid = _check_target(user, target_type, target_id)
    text = clean_report_reason(reason)
    # One open report per reporter and target, also when the same report is sent twice at once.
    lock(sa.select(User.id).where(User.id == user.id))
    if kind == "comment":
        # Hiding a comment resolves the open reports on it: one that was checked visible just
        # before it was hidden must not land after, open on a hidden comment. Its row, held,
        # is checked again.
        lock(sa.select(Comment).where(Comment.id == tid), shared=True)
        try:
            _check_target(user, kind, tid)
        except ServiceError:
            db.session.rollback()
            raise
    existing = db.session.scalar(
        sa.select(Report).where(
            Report.reporter_id == user.id,
            Report.target_type == kind,
            Report.target_id == tid,
            Report.status == ReportStatus.OPEN,
        )
    )
    if existing is not None:
        db.session.rollback()
        return existing
    report = Report(reporter_id=user.id, target_type=kind, target_id=tid, reason=text)
    db.session.add(report)
    db.session.commit()
    return report


def report_to_dict(report: Report) -> dict[str, Any]:
    """What the reporter sees of their report (the API's answer)."""
    return {
        "id": report.id,
        "target_type": report.target_type,
        "target_id": report.target_id,
        "reason": report.reason,
        "status": str(report.status),
        "created_at": report.created_at.isoformat(),
    }


# --------------------------------------------------------------------------------------------
# Moderators.


def _reported_work_id() -> sa.ColumnElement[int]:
    return sa.case((Report.target_type == "work", Report.target_id), else_=Comment.work_id)


def _with_targets(query: sa.Select) -> sa.Select:
    """Join each report to its comment (if any), its work and the work's collective."""
    return (
        query.outerjoin(Comment, sa.and_(Report.target_type == "comment", Comment.id == Report.target_id))
        .outerjoin(Work, Work.id == _reported_work_id())
        .outerjoin(Collective, Collective.id == Work.collective_id)
    )


def open_reports(moderator: Any, cursor: str | None = None, limit: Any = 20) -> tuple[list[dict], str | None]:
    """Open reports in the moderator's scope, oldest first, as JSON-ready dicts; and the cursor
    of the next page (None at the end)."""
    require_moderator(moderator)
    size = page_size(limit)
    after = decode_id_cursor(cursor)
    author = so.aliased(User)
    query = _with_targets(
        sa.select(Report, User, Work.id, Work.title, Comment, author).join(
            User, User.id == Report.reporter_id
        )
    ).outerjoin(author, author.id == Comment.user_id)
    query = query.where(Report.status == ReportStatus.OPEN).order_by(Report.id).limit(size + 1)
    province = province_of(moderator)
    if province is not None:
        query = query.where(Collective.province == province)
    if after is not None:
        query = query.where(Report.id > after)
    rows = db.session.execute(query).tuples().all()
    page = rows[:size]
    items = [
        {
            "id": report.id,
            "target_type": report.target_type,
            "target_id": report.target_id,
            "work_id": work_id,
            "work_title": title,
            "comment_body": comment.body if comment is not None else None,
            "comment_status": str(comment.status) if comment is not None else None,
            "comment_author_id": comment.user_id if comment is not None else None,
            "comment_author_name": commenter.display_name if commenter is not None else None,
            "reason": report.reason,
            "reporter_id": reporter.id,
            "reporter_name": reporter.display_name,
            "created_at": report.created_at.isoformat(),
        }
        for report, reporter, work_id, title, comment, commenter in page
    ]
    next_cursor = encode_id_cursor(page[-1][0].id) if len(rows) > size else None
    return items, next_cursor


def _report_in_scope(actor: Any, report_id: Any) -> tuple[Report, Comment | None, Work | None]:
    require_moderator(actor)
    rid = parse_id(report_id)
    row = None
    if rid is not None:
        query = _with_targets(sa.select(Report, Comment, Work)).where(Report.id == rid)
        row = db.session.execute(query).tuples().first()
    # A report whose work is gone belongs to no province: national scope only.
    if row is None or not in_scope(actor, row[2].collective.province if row[2] is not None else None):
        raise NotFound(_("举报不存在或已处理。"))
    return row


def resolve_report(
    actor: Any, report_id: Any, outcome: Any, *, hide: bool = False, reason: Any = ""
) -> Report:
    """Answer an open report: ``resolved`` (acted on) or ``dismissed`` (nothing wrong)."""
    report, comment, work = _report_in_scope(actor, report_id)
    status = OUTCOMES.get(outcome) if isinstance(outcome, str) else None
    if status is None:
        message = _("处理结果只能是“已处理”或“驳回”。")
        raise ValidationFailed(message, code="invalid_outcome", fields={"outcome": message})
    text = audit.clean_reason(reason, required=False)
    if report.status != ReportStatus.OPEN:
        raise Conflict(_("这条举报已经处理过了。"), code="already_resolved")
    if hide:
        if status != ReportStatus.RESOLVED or comment is None:
            message = _("只有成立的评论举报可以同时隐藏评论。")
            raise ValidationFailed(message, code="invalid_action", fields={"hide": message})
        if comment.status != CommentStatus.HIDDEN and work is not None:
            try:
                comment_review.hide_in_fence(actor, comment, work, text or report.reason)
            except Conflict as exc:
                if exc.code != "already_moderated":
                    raise
                # Hidden since it was read (its author deleted it, say): answered below, as a
                # report on a comment found hidden is.
            else:
                db.session.refresh(report)
                return report
    answered = comment_review.close_reports(Report.id == report.id, actor, status)
    if not answered:  # answered by someone else since we read it
        db.session.rollback()
        raise Conflict(_("这条举报已经处理过了。"), code="already_resolved")
    audit.record(actor, f"report_{status.value}", "report", report.id, text)
    db.session.commit()
    db.session.refresh(report)
    return report
