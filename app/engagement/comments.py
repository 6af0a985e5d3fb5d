"""Comments (点评): post, list, delete. What the pages, the API and the tests call.

Decisions (docs/comments.md has the reasons):

- A comment needs a signed-in account and a *published* work; unlike a like it does not need the
  voting window: people keep reading and discussing a work after the vote closes.
- Plain text: trimmed, newlines normalised, control and bidi-override characters dropped, at most
  ``COMMENT_MAX_CHARS`` characters. Pages escape it and keep its newlines with CSS; the API
  returns it verbatim.
- One level of replies: a reply to a reply joins the thread of the top-level comment. The parent
  must be a visible comment of the same work.
- A comment that hits the sensitive-word filter is stored ``pending`` (its author sees it, marked
  as waiting for review; nobody else does) and an audit event records the words it hit.
- Only ``visible`` comments are counted. The counter moves through ``services.counting`` wrapped
  around the commit, so it stays exact while a recount runs; Redis down → 503, nothing written.
- Deleting is a soft delete: the row becomes ``hidden`` (moderators and reports can still trace
  it). Deleting a top-level comment hides its whole thread, so no reply is left without its parent.
  Authors delete their own comments; moderators (within their province) and admins any, with an
  audit event.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.auth.services import public_user_to_dict
from app.auth.verification import ensure_may_engage
from app.engagement import services
from app.engagement.counters import Flight
from app.engagement.sensitive import find_sensitive
from app.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed
from app.extensions import db
from app.ids import parse_id
from app.models import Comment, CommentStatus, ModerationEvent, User, Work, WorkStatus
from app.paging import PAGE_SIZE, decode_id_cursor, encode_id_cursor, page_size
from app.policy import can_view_work, in_scope, signed_in
from app.signals import announce, comment_posted, comments_hidden
from app.sql_locks import lock

log = logging.getLogger(__name__)

# Replies shown under each top-level comment in a page; the rest are fetched on demand.
REPLIES_SHOWN = 3

# C0/C1 control characters except tab and newline, and the bidi embedding/override/isolate
# characters that can make a comment display as something else than what it says.
_UNWANTED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NEWLINES = re.compile(r"\r\n|\r|\u2028|\u2029|\x85")
_BLANK_RUN = re.compile(r"\n{3,}")


def pending_notice() -> str:
    return _("评论包含需要审核的内容，审核通过后将公开显示。")


def _unavailable() -> ServiceError:
    return ServiceError(_("评论服务暂时繁忙，请稍后再试。"), code="counters_unavailable", status=503)


@contextmanager
def counting_comments(work: Work) -> Iterator[Flight]:
    """``services.counting`` with a message about comments when Redis does not answer."""
    try:
        with services.counting(work) as flight:
            yield flight
    except ServiceError as exc:
        if exc.code == "counters_unavailable":
            raise _unavailable() from exc
        raise


# --------------------------------------------------------------------------------------------
# Posting.


def clean_body(body: Any) -> str:
    """The text to store, or a 422 saying why it cannot be."""
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise ValidationFailed(_("评论内容必须是文字。"), fields={"body": _("评论内容必须是文字。")})
    text = _NEWLINES.sub("\n", body)
    text = _UNWANTED.sub("", text)
    text = _BLANK_RUN.sub("\n\n", text).strip()
    if not text:
        message = _("评论内容不能为空。")
        raise ValidationFailed(message, fields={"body": message})
    limit = current_app.config["COMMENT_MAX_CHARS"]
    if len(text) > limit:
        message = _("评论最多 %(max)d 字。", max=limit)
        raise ValidationFailed(message, code="comment_too_long", fields={"body": message})
    return text


def _invalid_parent() -> ValidationFailed:
    message = _("要回复的评论不存在或已被删除。")
    return ValidationFailed(message, code="invalid_parent", fields={"parent_id": message})


def _thread_root(work: Work, parent_id: Any) -> int | None:
    """The top-level comment a new comment replies to (None for a top-level comment)."""
    if parent_id is None or parent_id == "":
        return None
    pid = parse_id(parent_id)
    parent = db.session.get(Comment, pid) if pid is not None else None
    if parent is None or parent.work_id != work.id or parent.status != CommentStatus.VISIBLE:
        raise _invalid_parent()
    if parent.parent_id is None:
        return parent.id
    # One level of replies: answering a reply joins its thread.
    root = db.session.get(Comment, parent.parent_id)
    if root is None or root.status != CommentStatus.VISIBLE:
        raise _invalid_parent()
    return root.id


def lock_thread_root(root_id: int, *, shared: bool = False) -> CommentStatus | None:
    """Hold the thread's top-level row until the commit and read its status: a reply (shared,
    so replies to one thread run side by side) and the hiding of its thread (exclusive) never
    interleave, so no visible reply is left under a hidden root."""
    found = lock(sa.select(Comment.status).where(Comment.id == root_id), shared=shared)
    return found[0] if found else None


def post_comment(user: Any, work: Work, body: Any, parent_id: Any = None) -> Comment:
    """Post a comment (or a reply): visible, or pending when the word filter flags it."""
    if not signed_in(user):
        raise ServiceError(_("请先登录。"), code="unauthorized", status=401)
    ensure_may_engage(user)
    if work.status != WorkStatus.PUBLISHED:
        raise Conflict(_("作品尚未发布，暂时不能评论。"), code="work_not_published")
    text = clean_body(body)
    root_id = _thread_root(work, parent_id)
    hits = find_sensitive(text)
    status = CommentStatus.PENDING if hits else CommentStatus.VISIBLE
    with counting_comments(work) as flight:
        if root_id is not None and lock_thread_root(root_id, shared=True) != CommentStatus.VISIBLE:
            raise _invalid_parent()
        comment = Comment(work_id=work.id, user_id=user.id, parent_id=root_id, body=text, status=status)
        db.session.add(comment)
        if hits:
            db.session.flush()
            db.session.add(
                ModerationEvent(
                    actor_id=None,
                    action="comment_flagged",
                    target_type="comment",
                    target_id=comment.id,
                    reason=_("敏感词：%(words)s", words="、".join(hits))[:500],
                )
            )
        db.session.commit()
        services.comment_added(work, status == CommentStatus.VISIBLE, flight=flight)
    announce(comment_posted, comment=comment, replied_to=parent_id)
    if hits:
        log.info("comment %s on work %s held for review (%d words)", comment.id, work.id, len(hits))
    return comment


# --------------------------------------------------------------------------------------------
# Deleting.


def can_moderate_comments(user: Any, work: Work) -> bool:
    """Admins, national moderators, and the provincial moderators of the work's province."""
    return in_scope(user, work.collective.province)


def can_delete_comment(user: Any, comment: Comment, work: Work) -> bool:
    return signed_in(user) and (comment.user_id == user.id or can_moderate_comments(user, work))


def get_comment(comment_id: int, viewer: Any) -> Comment:
    """A comment ``viewer`` may see, else 404: deleted and hidden ones are gone, a pending one
    is seen by its author and the work's moderators, and the work must be visible to the viewer."""
    comment = db.session.get(Comment, comment_id)
    work = db.session.get(Work, comment.work_id) if comment is not None else None
    if (
        comment is None
        or work is None
        or comment.status == CommentStatus.HIDDEN
        or not can_view_work(viewer, work)
        or (
            comment.status == CommentStatus.PENDING
            and not (signed_in(viewer) and comment.user_id == viewer.id)
            and not can_moderate_comments(viewer, work)
        )
    ):
        raise NotFound(_("评论不存在或已被删除。"))
    return comment


@dataclass(frozen=True, slots=True)
class HiddenThread:
    """What one ``hide_thread`` changed."""

    # The comments it turned from visible to hidden: the counter drops by as many.
    uncounted: list[int]
    # Whether it hid the comment itself; False when someone else hid it first.
    hid_comment: bool


def hide_thread(work: Work, comment: Comment) -> HiddenThread:
    """Inside ``counting_comments(work)``: hide the comment and, for a top-level one, its replies (its
    thread locked first). Only rows these statements change count: hiding twice at once uncounts
    once, and only one of the two hid the comment."""
    thread = sa.or_(Comment.id == comment.id, Comment.parent_id == comment.id)
    if comment.parent_id is None:
        lock_thread_root(comment.id)
    gone = db.session.scalars(
        sa.update(Comment)
        .where(Comment.work_id == work.id, thread, Comment.status == CommentStatus.VISIBLE)
        .values(status=CommentStatus.HIDDEN)
        .returning(Comment.id)
        .execution_options(synchronize_session=False)
    ).all()
    held = db.session.scalars(
        sa.update(Comment)
        .where(Comment.work_id == work.id, thread, Comment.status == CommentStatus.PENDING)
        .values(status=CommentStatus.HIDDEN)
        .returning(Comment.id)
        .execution_options(synchronize_session=False)
    ).all()
    return HiddenThread(list(gone), comment.id in gone or comment.id in held)


def delete_comment(user: Any, comment: Comment) -> int:
    """Hide a comment (and, for a top-level one, its replies). Returns the visible comments that
    went away; the work's counter moves by as many."""
    if not signed_in(user):
        raise ServiceError(_("请先登录。"), code="unauthorized", status=401)
    if comment.status == CommentStatus.HIDDEN:
        raise NotFound(_("评论不存在或已被删除。"))
    work = db.session.get(Work, comment.work_id)
    if work is None:  # pragma: no cover - a foreign key keeps the work
        raise NotFound(_("评论不存在或已被删除。"))
    if not can_delete_comment(user, comment, work):
        raise Forbidden(_("只能删除自己的评论。"))
    by_moderator = comment.user_id != user.id
    with counting_comments(work) as flight:
        gone = hide_thread(work, comment).uncounted
        if by_moderator:
            db.session.add(
                ModerationEvent(
                    actor_id=user.id, action="comment_delete", target_type="comment", target_id=comment.id
                )
            )
        db.session.commit()
        for _row in gone:
            services.comment_removed(work, True, flight=flight)
    announce(comments_hidden, work=work, comment_ids=gone)
    return len(gone)


# --------------------------------------------------------------------------------------------
# Listing.


@dataclass
class CommentView:
    """A comment with its author; top-level comments in a page also carry their first replies."""

    comment: Comment
    author: User
    replies: list[CommentView] | None = None
    reply_count: int | None = None


@dataclass
class CommentPage:
    items: list[CommentView] = field(default_factory=list)
    next_cursor: str | None = None


def _shown_to(viewer: Any) -> sa.ColumnElement[bool]:
    """Visible comments, and the viewer's own ones still waiting for review."""
    shown = Comment.status == CommentStatus.VISIBLE
    if signed_in(viewer):
        own_pending = sa.and_(Comment.status == CommentStatus.PENDING, Comment.user_id == viewer.id)
        shown = sa.or_(shown, own_pending)
    return shown


def _with_authors(query: sa.Select) -> list[CommentView]:
    return [CommentView(comment, author) for comment, author in db.session.execute(query).tuples()]


def list_comments(work: Work, viewer: Any, cursor: str | None = None, limit: Any = PAGE_SIZE) -> CommentPage:
    """Top-level comments newest first (cursor: ids descending, stable while comments arrive),
    each with its first ``REPLIES_SHOWN`` replies oldest first and its ``reply_count``."""
    size = page_size(limit)
    before = decode_id_cursor(cursor)
    query = (
        sa.select(Comment, User)
        .join(User, User.id == Comment.user_id)
        .where(Comment.work_id == work.id, Comment.parent_id.is_(None), _shown_to(viewer))
        .order_by(Comment.id.desc())
        .limit(size + 1)
    )
    if before is not None:
        query = query.where(Comment.id < before)
    found = _with_authors(query)
    items = found[:size]
    _attach_replies(work, viewer, items)
    next_cursor = encode_id_cursor(items[-1].comment.id) if len(found) > size else None
    return CommentPage(items, next_cursor)


def _attach_replies(work: Work, viewer: Any, items: list[CommentView]) -> None:
    ids = [item.comment.id for item in items]
    for item in items:
        item.replies, item.reply_count = [], 0
    if not ids:
        return
    replies = sa.and_(Comment.work_id == work.id, Comment.parent_id.in_(ids), _shown_to(viewer))
    counts = dict(
        db.session.execute(
            sa.select(Comment.parent_id, sa.func.count()).where(replies).group_by(Comment.parent_id)
        ).all()
    )
    position = sa.func.row_number().over(partition_by=Comment.parent_id, order_by=Comment.id).label("n")
    first = sa.select(Comment.id, position).where(replies).subquery()
    query = (
        sa.select(Comment, User)
        .join(first, first.c.id == Comment.id)
        .join(User, User.id == Comment.user_id)
        .where(first.c.n <= REPLIES_SHOWN)
        .order_by(Comment.id)
    )
    by_parent = {item.comment.id: item for item in items}
    for reply in _with_authors(query):
        by_parent[reply.comment.parent_id].replies.append(reply)
    for item in items:
        item.reply_count = counts.get(item.comment.id, 0)


def list_replies(
    work: Work, viewer: Any, parent_id: Any, cursor: str | None = None, limit: Any = PAGE_SIZE
) -> CommentPage:
    """All replies of one visible top-level comment, oldest first, with a cursor."""
    pid = parse_id(parent_id)
    parent = db.session.get(Comment, pid) if pid is not None else None
    if (
        parent is None
        or parent.work_id != work.id
        or parent.parent_id is not None
        or parent.status != CommentStatus.VISIBLE
    ):
        raise NotFound(_("评论不存在或已被删除。"))
    size = page_size(limit)
    after = decode_id_cursor(cursor)
    query = (
        sa.select(Comment, User)
        .join(User, User.id == Comment.user_id)
        .where(Comment.work_id == work.id, Comment.parent_id == parent.id, _shown_to(viewer))
        .order_by(Comment.id)
        .limit(size + 1)
    )
    if after is not None:
        query = query.where(Comment.id > after)
    found = _with_authors(query)
    items = found[:size]
    next_cursor = encode_id_cursor(items[-1].comment.id) if len(found) > size else None
    return CommentPage(items, next_cursor)


def comment_view(comment: Comment) -> CommentView:
    """A freshly posted comment as a list would show it (a top-level one has no replies yet)."""
    author = db.session.get(User, comment.user_id)
    view = CommentView(comment, author)
    if comment.parent_id is None:
        view.replies, view.reply_count = [], 0
    return view


def comment_to_dict(view: CommentView, viewer: Any, work: Work) -> dict[str, Any]:
    """The API v1 representation of a comment (field names are a contract)."""
    comment = view.comment
    data: dict[str, Any] = {
        "id": comment.id,
        "work_id": comment.work_id,
        "parent_id": comment.parent_id,
        "body": comment.body,
        "status": str(comment.status),
        "created_at": comment.created_at.isoformat(),
        "user": public_user_to_dict(view.author),
        "can_delete": can_delete_comment(viewer, comment, work),
    }
    if view.replies is not None:
        data["replies"] = [comment_to_dict(reply, viewer, work) for reply in view.replies]
        data["reply_count"] = view.reply_count or 0
    return data
