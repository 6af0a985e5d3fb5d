"""API v1: engagement — comments (list, post, delete).

The same services as the work page's comment section (app/engagement/comments.py).
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.helpers import login_required_api
from app.api.parsing import declared_body, parse_body
from app.api.schemas import CommentAnswer, CommentBody, CommentListQuery, CommentPage
from app.engagement import comments
from app.engagement.comment_limits import comment_limits
from app.models import CommentStatus
from app.page_cache import cached, work_group
from app.works.services import get_visible_work

# --------------------------------------------------------------------------------------------
# Comments


@bp.get("/works/<int:id>/comments")
@answers(200, CommentPage, refusing=(400, 404), query=CommentListQuery)
# Signed in, the answer holds the caller's own held comments and what they may delete: theirs.
@cached(lambda id: work_group(id), kind="api", seconds="PAGE_CACHE_PAGE_SECONDS", per_caller=True)
def list_work_comments(id: int):
    """Comments on a work: top-level newest first with their first replies; with parent_id, every
    reply of that comment oldest first

    Works from SQL alone, so it answers with Redis down.
    """
    work = get_visible_work(id, current_user, media=False)
    cursor = request.args.get("cursor")
    parent_id = request.args.get("parent_id")
    if parent_id:
        page = comments.list_replies(work, current_user, parent_id, cursor, request.args.get("limit", 20))
    else:
        page = comments.list_comments(work, current_user, cursor, request.args.get("limit", 20))
    return {
        "items": [comments.comment_to_dict(view, current_user, work) for view in page.items],
        "next_cursor": page.next_cursor,
    }


@bp.post("/works/<int:id>/comments")
@answers(201, CommentAnswer, refusing=(400, 401, 403, 404, 409, 415, 422, 429, 503), signed_in=True)
@declared_body(CommentBody)
@comment_limits
@login_required_api
def post_work_comment(id: int):
    """Comment on a published work, or reply (parent_id); pending when the word filter holds it for
    review, with a message saying so

    403 email_unverified as for likes.
    """
    work = get_visible_work(id, current_user, media=False)
    data = parse_body(CommentBody)  # after the work: a work the caller cannot see is a 404 first
    comment = comments.post_comment(current_user, work, data["body"], data["parent_id"])
    answer = {"comment": comments.comment_to_dict(comments.comment_view(comment), current_user, work)}
    if comment.status == CommentStatus.PENDING:
        answer["message"] = comments.pending_notice()
    return answer, 201


@bp.delete("/comments/<int:id>")
@answers(204, refusing=(400, 401, 403, 404, 503), signed_in=True)
@login_required_api
def delete_comment(id: int):
    """Delete a comment (its author; moderators of the work's province; admins); a top-level comment
    takes its replies with it"""
    comments.delete_comment(current_user, comments.get_comment(id, current_user))
    return "", 204
