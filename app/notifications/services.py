"""In-app notifications (通知): written with the action they tell about, read on /notifications.

Decisions worth knowing:

* Each ``work_*`` / ``comment_*`` call only adds rows to the session: the caller commits them in
  the transaction of its action, so a refused or failed action notifies nobody, and callers call
  these only when their action changed something (a repeated 推报 writes no event and no
  notification).
* A work's news goes to every member of its collective (role ``collective``); a reply to the
  author of the comment it answers. Nobody is notified of their own action.
* A reply held by the word filter notifies when a moderator makes it visible, never before.
  Replies are stored one level deep (under the thread's top-level comment); when posting, the
  comment actually answered is known and its author is notified; on approval only the stored
  parent is, so that author is.
* The sentence is built when shown, from the work's current title and the stored details
  (reason, reply excerpt), so a list in English reads in English.
* Rows shown on a page are marked read by that page view; the bell counts unread rows with one
  indexed query (``ix_notification_user_unread``), cached for the request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import g, has_request_context
from flask_babel import gettext as _

from app.extensions import db
from app.ids import parse_id
from app.models import Comment, CommentStatus, Notification, NotificationKind, Role, User, Work, utcnow
from app.policy import signed_in

PAGE_SIZE = 20
PAGE_SIZE_MAX = 50
EXCERPT_CHARS = 80


# --------------------------------------------------------------------------------------------
# Writing (inside the caller's transaction).


def _actor_id(actor: Any) -> int | None:
    return getattr(actor, "id", None)


def _members(collective_id: int) -> list[int]:
    query = sa.select(User.id).where(User.collective_id == collective_id, User.role == Role.COLLECTIVE)
    return list(db.session.scalars(query.order_by(User.id)))


def _add(
    recipients: Iterable[int],
    kind: NotificationKind,
    work_id: int,
    actor: Any,
    details: dict[str, Any] | None = None,
    comment_id: int | None = None,
) -> int:
    actor_id = _actor_id(actor)
    text = json.dumps(details or {}, ensure_ascii=False)
    rows = [
        Notification(
            user_id=user_id,
            kind=kind,
            work_id=work_id,
            comment_id=comment_id,
            actor_id=actor_id,
            details=text,
        )
        for user_id in dict.fromkeys(recipients)
        if user_id != actor_id
    ]
    db.session.add_all(rows)
    return len(rows)


def _to_collective(
    work: Work, kind: NotificationKind, actor: Any, details: dict[str, Any] | None = None
) -> int:
    return _add(_members(work.collective_id), kind, work.id, actor, details)


def work_approved(actor: Any, work: Work) -> int:
    return _to_collective(work, NotificationKind.APPROVED, actor)


def work_rejected(actor: Any, work: Work, reason: str) -> int:
    return _to_collective(work, NotificationKind.REJECTED, actor, {"reason": reason})


def work_recommended(actor: Any, work: Work) -> int:
    return _to_collective(work, NotificationKind.RECOMMENDED, actor)


def works_featured(actor: Any, work_ids: Iterable[int]) -> int:
    """Works newly put on the wall (by the curation page or the API's new order)."""
    ids = list(work_ids)
    if not ids:
        return 0
    rows = db.session.execute(sa.select(Work.id, Work.collective_id).where(Work.id.in_(ids))).all()
    return sum(
        _add(_members(collective_id), NotificationKind.FEATURED, work_id, actor)
        for work_id, collective_id in rows
    )


def _reply(comment: Comment, answered_id: int | None) -> int:
    if comment.parent_id is None:
        return 0
    answered = db.session.get(Comment, answered_id) if answered_id else None
    if answered is None or answered.work_id != comment.work_id:
        answered = db.session.get(Comment, comment.parent_id)
    if answered is None:
        return 0
    db.session.flush()  # the new reply's id
    excerpt = comment.body if len(comment.body) <= EXCERPT_CHARS else comment.body[:EXCERPT_CHARS] + "…"
    return _add(
        [answered.user_id],
        NotificationKind.REPLY,
        comment.work_id,
        db.session.get(User, comment.user_id),
        {"excerpt": excerpt},
        comment_id=comment.id,
    )


def comment_posted(comment: Comment, replied_to: Any = None) -> int:
    """A visible reply notifies the author of the comment it answers (``replied_to``, the id
    the replier picked, which may be a reply inside the thread); a held one waits."""
    if comment.status != CommentStatus.VISIBLE:
        return 0
    return _reply(comment, parse_id(replied_to))


def comment_approved(comment: Comment, approved: Any) -> int:
    """A held reply that a moderator just made visible (``approved``: the update took effect)."""
    return _reply(comment, None) if approved else 0


# --------------------------------------------------------------------------------------------
# Reading.


@dataclass
class NotificationView:
    notification: Notification
    work_title: str
    actor_name: str | None
    unread: bool

    @property
    def message(self) -> str:
        n = self.notification
        details = _details(n)
        title = self.work_title
        if n.kind == NotificationKind.APPROVED:
            return _("您的作品《%(title)s》已审核通过，现已公开展示。", title=title)
        if n.kind == NotificationKind.REJECTED:
            return _(
                "您的作品《%(title)s》未通过审核：%(reason)s", title=title, reason=details.get("reason", "")
            )
        if n.kind == NotificationKind.RECOMMENDED:
            return _("《%(title)s》已被推报到全国组委会。", title=title)
        if n.kind == NotificationKind.FEATURED:
            return _("《%(title)s》入选优秀作品展示墙。", title=title)
        return _(
            "%(name)s 回复了您的评论：%(excerpt)s",
            name=self.actor_name or _("有人"),
            excerpt=details.get("excerpt", ""),
        )


def _details(notification: Notification) -> dict[str, Any]:
    try:
        value = json.loads(notification.details or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class NotificationPage:
    items: list[NotificationView]
    next_before: int | None


def list_notifications(user: Any, *, before: int | None = None, limit: int = PAGE_SIZE) -> NotificationPage:
    """One page of ``user``'s notifications, newest first; keyset on the id (``before``)."""
    limit = max(1, min(int(limit), PAGE_SIZE_MAX))
    actor = so.aliased(User)
    query = (
        sa.select(Notification, Work.title, actor.display_name)
        .join(Work, Work.id == Notification.work_id)
        .outerjoin(actor, actor.id == Notification.actor_id)
        .where(Notification.user_id == user.id)
        .order_by(Notification.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(Notification.id < before)
    rows = db.session.execute(query).tuples().all()
    items = [NotificationView(n, title, name, n.read_at is None) for n, title, name in rows[:limit]]
    next_before = items[-1].notification.id if len(rows) > limit else None
    return NotificationPage(items, next_before)


def mark_read(user: Any, ids: Iterable[int] | None = None) -> int:
    """Mark ``user``'s unread notifications read (only ``ids`` when given); how many changed.
    Only the recipient's own rows are touched, whatever ids are passed."""
    query = sa.update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        ids = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
        if not ids:
            return 0
        query = query.where(Notification.id.in_(ids))
    changed = db.session.execute(
        query.values(read_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if has_request_context():
        g.pop("unread_notifications", None)
    return changed or 0


def show_page(user: Any, *, before: int | None = None, limit: int = PAGE_SIZE) -> NotificationPage:
    """The page a person opens: listed, then what it shows is marked read (it is seen)."""
    page = list_notifications(user, before=before, limit=limit)
    mark_read(user, [item.notification.id for item in page.items if item.unread])
    return page


def unread_count(user: Any) -> int:
    if not signed_in(user):
        return 0
    query = (
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )
    return db.session.scalar(query) or 0


def unread_count_for_request(user: Any) -> int:
    """The bell's number: counted once per request, however often a template asks."""
    if "unread_notifications" not in g:
        g.unread_notifications = unread_count(user)
    return g.unread_notifications


def notification_to_dict(view: NotificationView) -> dict[str, Any]:
    n = view.notification
    return {
        "id": n.id,
        "kind": str(n.kind),
        "work_id": n.work_id,
        "work_title": view.work_title,
        "comment_id": n.comment_id,
        "actor": view.actor_name,
        "details": _details(n),
        "message": view.message,
        "created_at": n.created_at.isoformat(),
        "read_at": n.read_at.isoformat() if n.read_at else None,
    }


def on_comment_posted(_sender: Any, *, comment: Comment, replied_to: Any = None) -> None:
    """Subscriber of ``app.signals.comment_posted``: the comment is committed; its reply
    notification is a write of its own."""
    if comment_posted(comment, replied_to):
        db.session.commit()
