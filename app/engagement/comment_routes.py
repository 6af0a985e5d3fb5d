"""The comment section of a work page, and its no-JavaScript form routes.

With JavaScript (static/js/comments.js) the section talks to the API; these routes are what the
same forms do without it: post (or reply) and delete, then back to the work page. A refused
comment re-renders the work page with the text kept and the reason next to the form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.engagement import comments
from app.engagement.comment_limits import comment_limits
from app.errors import ServiceError
from app.ids import parse_id
from app.models import Comment, CommentStatus, Work, WorkStatus
from app.works.services import get_visible_work

bp = Blueprint("comments", __name__)

# Refusals about the comment itself (shown at the form); others (404, 401) are whole-page answers.
_FORM_ERRORS = {409, 422, 503}


@dataclass
class CommentSection:
    """What the work page's comment section shows."""

    page: comments.CommentPage
    work: Work
    can_post: bool
    max_chars: int
    login_url: str
    more_url: str | None = None
    reply_to: comments.CommentView | None = None
    form: dict[str, Any] = field(default_factory=dict)


@bp.app_template_global()
def comment_deletable(comment: Comment, work: Work) -> bool:
    return comments.can_delete_comment(current_user, comment, work)


def comment_section(work: Work) -> CommentSection:
    """The first page of comments (or the page ``?comments_cursor=`` asks for), the form's state
    after a refused post, and ``?reply_to=`` for replying without JavaScript."""
    cursor = request.args.get("comments_cursor")
    try:
        page = comments.list_comments(work, current_user, cursor)
    except ServiceError:  # a stale or mangled cursor shows the first page rather than an error
        page = comments.list_comments(work, current_user)
    more_url = None
    if page.next_cursor:
        more_url = url_for(
            "works.work_detail", work_id=work.id, comments_cursor=page.next_cursor, _anchor="comments"
        )
    form: dict[str, Any] = g.get("comment_form") or {}
    reply_to = _reply_target(work, form.get("parent_id") or request.args.get("reply_to"))
    login_url = url_for("auth.login", next=url_for("works.work_detail", work_id=work.id) + "#comments")
    return CommentSection(
        page=page,
        work=work,
        can_post=current_user.is_authenticated and work.status == WorkStatus.PUBLISHED,
        max_chars=current_app.config["COMMENT_MAX_CHARS"],
        more_url=more_url,
        login_url=login_url,
        reply_to=reply_to,
        form=form,
    )


def _reply_target(work: Work, comment_id: Any) -> comments.CommentView | None:
    comment_id = parse_id(comment_id)
    if comment_id is None:
        return None
    try:
        comment = comments.get_comment(comment_id, current_user)
    except ServiceError:
        return None
    if comment.work_id != work.id or comment.status != CommentStatus.VISIBLE:
        return None
    return comments.comment_view(comment)


@bp.post("/works/<int:work_id>/comments")
@comment_limits
@login_required
def post_comment(work_id: int):
    work = get_visible_work(work_id, current_user, media=False)
    body = request.form.get("body", "")
    parent_id = request.form.get("parent_id") or None
    try:
        comment = comments.post_comment(current_user, work, body, parent_id)
    except ServiceError as exc:
        if exc.status not in _FORM_ERRORS and exc.code != "email_unverified":
            raise
        # Show the work page again with what the person typed and why it was refused.
        from app.works.routes import work_detail

        g.comment_form = {"body": body, "parent_id": parent_id, "error": exc.message}
        return work_detail(work_id=work.id), exc.status
    if comment.status == CommentStatus.PENDING:
        flash(comments.pending_notice(), "info")
    else:
        flash(_("评论已发表。"), "success")
    return redirect(url_for("works.work_detail", work_id=work.id, _anchor=f"comment-{comment.id}"))


@bp.post("/comments/<int:comment_id>/delete")
@login_required
def delete_comment(comment_id: int):
    comment = comments.get_comment(comment_id, current_user)
    comments.delete_comment(current_user, comment)
    flash(_("评论已删除。"), "success")
    return redirect(url_for("works.work_detail", work_id=comment.work_id, _anchor="comments"))
