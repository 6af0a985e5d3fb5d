"""The comment forms without JavaScript: post (or reply) and delete, then back to the work page.

With JavaScript (static/js/comments.js) the section talks to the API; these routes are what the
same forms do without it. A refused comment re-renders the work page with the text kept and the
reason next to the form.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.engagement import comments
from app.engagement.comment_limits import comment_limits
from app.errors import ServiceError
from app.models import Comment, CommentStatus, Work
from app.pages.works import work_detail
from app.works.services import get_visible_work

bp = Blueprint("comments", __name__)

# Refusals about the comment itself (shown at the form); others (404, 401) are whole-page answers.
_FORM_ERRORS = {409, 422, 503}


@bp.app_template_global()
def comment_deletable(comment: Comment, work: Work) -> bool:
    return comments.can_delete_comment(current_user, comment, work)


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
