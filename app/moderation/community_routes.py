"""Community moderation pages: the comment queue, open reports, bans; and the report form.

Views stay thin: parse, call a service (comment_review, reports, accounts), flash, redirect.
A refusal about the action itself (already handled, a missing reason) is flashed on the page the
form came from; 401/403/404 stay whole-page answers, so nobody learns what lies out of scope.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth.routes import safe_next_url
from app.engagement import comments as comment_service
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.ids import parse_id
from app.moderation import accounts, bp, comment_review
from app.moderation import reports as report_service
from app.moderation.report_limits import report_limits
from app.policy import is_national, require_moderator
from app.works import services as works

_FLASHED = (Conflict, ValidationFailed)


def _back(default_endpoint: str) -> str:
    """The form's `next` field when it is a path on this site, else the given page."""
    return safe_next_url(request.form.get("next")) or url_for(default_endpoint)


@bp.get("/moderation/comments")
@login_required
def comments():
    require_moderator(current_user)
    items, next_cursor = comment_review.comment_queue(current_user, request.args.get("cursor"))
    more_url = url_for("moderation.comments", cursor=next_cursor) if next_cursor else None
    return render_template(
        "moderation/comments.html",
        items=items,
        more_url=more_url,
        can_ban=is_national(current_user),
        here=request.full_path.rstrip("?"),
    )


@bp.post("/moderation/comments/<int:comment_id>/approve")
@login_required
def approve_comment(comment_id: int):
    try:
        comment_review.approve_comment(current_user, comment_id)
        flash(_("评论已通过，公开显示。"), "success")
    except _FLASHED as exc:
        flash(exc.message, "error")
    return redirect(_back("moderation.comments"))


@bp.post("/moderation/comments/<int:comment_id>/hide")
@login_required
def hide_comment(comment_id: int):
    try:
        comment_review.hide_comment(current_user, comment_id, request.form.get("reason", ""))
        flash(_("评论已隐藏。"), "success")
    except _FLASHED as exc:
        flash(exc.message, "error")
    return redirect(_back("moderation.comments"))


@bp.get("/moderation/reports")
@login_required
def reports():
    require_moderator(current_user)
    items, next_cursor = report_service.open_reports(current_user, request.args.get("cursor"))
    more_url = url_for("moderation.reports", cursor=next_cursor) if next_cursor else None
    return render_template(
        "moderation/reports.html",
        items=items,
        more_url=more_url,
        can_ban=is_national(current_user),
        here=request.full_path.rstrip("?"),
    )


@bp.post("/moderation/reports/<int:report_id>/resolve")
@login_required
def resolve_report(report_id: int):
    outcome = request.form.get("outcome", "")
    try:
        report_service.resolve_report(
            current_user,
            report_id,
            outcome,
            hide=request.form.get("hide") == "1",
            reason=request.form.get("reason", ""),
        )
        flash(_("举报已驳回。") if outcome == "dismissed" else _("举报已处理。"), "success")
    except _FLASHED as exc:
        flash(exc.message, "error")
    return redirect(_back("moderation.reports"))


@bp.post("/moderation/users/<int:user_id>/ban")
@login_required
def ban_user(user_id: int):
    try:
        outcome = accounts.ban_user(
            current_user,
            user_id,
            request.form.get("reason", ""),
            void_likes=request.form.get("void_likes") == "1",
        )
        flash(
            _(
                "账号已封禁：隐藏 %(comments)d 条评论，作废 %(likes)d 个点赞。",
                comments=outcome.hidden_comments,
                likes=outcome.voided_likes,
            ),
            "success",
        )
    except _FLASHED as exc:
        flash(exc.message, "error")
    return redirect(_back("moderation.comments"))


@bp.post("/reports")
@report_limits
@login_required
def create_report():
    target_type = request.form.get("target_type", "")
    target_id = request.form.get("target_id", "")
    work_id, anchor = _work_of(target_type, target_id)
    try:
        report_service.create_report(current_user, target_type, target_id, request.form.get("reason", ""))
        flash(_("举报已收到，审核管理员会尽快处理。谢谢你帮助维护文明的网络环境。"), "success")
    except ValidationFailed as exc:
        flash(exc.message, "error")
    return redirect(url_for("works.work_detail", work_id=work_id, _anchor=anchor))


def _work_of(target_type: str, target_id: str) -> tuple[int, str | None]:
    """The work page a report form returns to (and where on it), checked as the service does."""
    target = parse_id(target_id)
    if target_type == "comment" and target is not None:
        comment = comment_service.get_comment(target, current_user)
        return comment.work_id, f"comment-{comment.id}"
    if target_type == "work" and target is not None:
        return works.get_visible_work(target, current_user, media=False).id, None
    db.session.rollback()
    raise ValidationFailed(_("只能举报作品或评论。"), code="invalid_target_type")
