"""API v1: engagement — comments (list, post, delete).

The same services as the work page's comment section (app/engagement/comments.py).
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.helpers import json_body, login_required_api
from app.engagement import comments
from app.engagement.comment_limits import comment_limits
from app.models import CommentStatus
from app.works.services import get_visible_work

# --------------------------------------------------------------------------------------------
# Comments


@bp.get("/works/<int:id>/comments")
def list_work_comments(id: int):
    """Top-level comments newest first, each with its first replies; with ``parent_id``, every
    reply of that comment oldest first. Works from SQL alone, so it answers with Redis down."""
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
@comment_limits
@login_required_api
def post_work_comment(id: int):
    work = get_visible_work(id, current_user, media=False)
    data = json_body()
    comment = comments.post_comment(current_user, work, data.get("body"), data.get("parent_id"))
    answer = {"comment": comments.comment_to_dict(comments.comment_view(comment), current_user, work)}
    if comment.status == CommentStatus.PENDING:
        answer["message"] = comments.pending_notice()
    return answer, 201


@bp.delete("/comments/<int:id>")
@login_required_api
def delete_comment(id: int):
    comments.delete_comment(current_user, comments.get_comment(id, current_user))
    return "", 204
