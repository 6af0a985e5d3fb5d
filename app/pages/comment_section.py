"""The comment section of a work page: a page of comments, the form's state after a refused post,
and ``?reply_to=`` for replying without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, request, url_for
from flask_login import current_user

from app.engagement import comments
from app.errors import ServiceError
from app.ids import parse_id
from app.models import CommentStatus, Work, WorkStatus


@dataclass
class CommentSection:
    """What the work page's comment section shows."""

    page: comments.CommentPage
    work: Work
    can_post: bool
    max_chars: int
    login_url: str
    # A shared body (app/page_cache.py): the form is in it, hidden, and shown by static/js/state.js
    # to a signed-in reader; the log-in link to everyone else.
    shared_post: bool = False
    more_url: str | None = None
    reply_to: comments.CommentView | None = None
    form: dict[str, Any] = field(default_factory=dict)


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
        shared_post=bool(g.get("shared_render")) and work.status == WorkStatus.PUBLISHED,
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
