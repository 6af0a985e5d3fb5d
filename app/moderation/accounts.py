"""Account bans and voiding an account's likes (vote integrity against 刷票).

Both are national decisions (national moderators and admins): a like counts in national
rankings, and a ban closes an account everywhere. Moderators and admins cannot be banned here.

Everything SQL changes is one transaction with its audit events; the Redis counters and
rankings of every work touched are then recounted from SQL (``services.recount``, fence-safe:
a like or comment in flight meanwhile is neither lost nor counted twice). Bulk SQL plus one
recount is exact where moving counters one row at a time would be slow and racy.

- ``ban_user``: ``banned`` set (the account's sessions and tokens stop working at once), its
  visible and pending comments hidden, with the replies under its top-level comments (as a
  deletion does: no counted reply under a hidden comment), and the open reports on what was
  hidden resolved. Event ``user_ban``; with ``void_likes`` also ``likes_void``: two actions,
  two events, one transaction.
- ``void_likes``: deletes the accounts' likes; one ``likes_void`` event per account (target the
  user), so each account's history reads on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.engagement import services
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.ids import parse_id
from app.models import Comment, CommentStatus, Like, Report, ReportStatus, Role, User, Work
from app.moderation import audit
from app.moderation.comment_review import close_reports
from app.policy import require_national
from app.signals import announce, comments_hidden

# Accounts per DELETE statement: keeps the IN list well under every database's parameter limit.
CHUNK = 500


@dataclass
class Outcome:
    hidden_comments: int = 0
    voided_likes: int = 0
    work_ids: list[int] = field(default_factory=list)


def _account_gone() -> NotFound:
    return NotFound(_("账号不存在。"))


def _delete_likes(user_ids: list[int]) -> list[int]:
    """Delete the accounts' likes (in the caller's transaction); the work id of each one."""
    table = Like.__table__
    work_ids: list[int] = []
    for start in range(0, len(user_ids), CHUNK):
        chunk = user_ids[start : start + CHUNK]
        statement = sa.delete(table).where(table.c.user_id.in_(chunk)).returning(table.c.work_id)
        work_ids.extend(db.session.execute(statement).scalars())
    return work_ids


def _hide_comments_of(user_id: int) -> tuple[int, dict[int, list[int]], list[int]]:
    """Hide the account's comments and the replies under its top-level ones: (visible comments
    hidden, the comments hidden on each work whose comments changed, every comment hidden)."""
    # Own comments first: their row locks make a reply being posted under them wait, then see
    # its thread hidden (comments.lock_thread_root), so the replies statement below misses none.
    own = Comment.user_id == user_id
    top_level = sa.select(Comment.id).where(Comment.user_id == user_id, Comment.parent_id.is_(None))
    replies = Comment.parent_id.in_(top_level)
    visible, works, hidden = 0, {}, []
    for where in (own, replies):
        for status in (CommentStatus.VISIBLE, CommentStatus.PENDING):
            rows = db.session.execute(
                sa.update(Comment)
                .where(where, Comment.status == status)
                .values(status=CommentStatus.HIDDEN)
                .returning(Comment.work_id, Comment.id)
                .execution_options(synchronize_session=False)
            ).all()
            for work_id, comment_id in rows:
                works.setdefault(work_id, []).append(comment_id)
            hidden.extend(comment_id for _work, comment_id in rows)
            if status == CommentStatus.VISIBLE:
                visible += len(rows)
    return visible, works, hidden


def _recount(work_ids: Iterable[int]) -> list[int]:
    ids = sorted(set(work_ids))
    if ids:
        services.recount(ids)
    return ids


def ban_user(actor: Any, user_id: Any, reason: Any, void_likes: bool = False) -> Outcome:
    require_national(actor)
    text = audit.clean_reason(reason, required=True)
    uid = parse_id(user_id)
    target = db.session.get(User, uid) if uid is not None else None
    if target is None:
        raise _account_gone()
    if target.role in (Role.MODERATOR, Role.ADMIN):
        raise Forbidden(_("不能封禁审核管理员或系统管理员。"), code="cannot_ban_moderator")
    if target.banned:
        raise Conflict(_("该账号已被封禁。"), code="already_banned")
    target.banned = True
    hidden, works, hidden_ids = _hide_comments_of(target.id)
    for start in range(0, len(hidden_ids), CHUNK):
        chunk = hidden_ids[start : start + CHUNK]
        close_reports(
            sa.and_(Report.target_type == "comment", Report.target_id.in_(chunk)),
            actor,
            ReportStatus.RESOLVED,
        )
    voided: list[int] = []
    audit.record(actor, "user_ban", "user", target.id, text)
    if void_likes:
        voided = _delete_likes([target.id])
        audit.record(actor, "likes_void", "user", target.id, text)
    db.session.commit()
    ids = _recount(set(works) | set(voided))
    # Announced like any other hiding: the page cache drops those works' pages and comments.
    for work in db.session.scalars(sa.select(Work).where(Work.id.in_(list(works)))):
        announce(comments_hidden, work=work, comment_ids=works[work.id])
    return Outcome(hidden_comments=hidden, voided_likes=len(voided), work_ids=ids)


def void_likes(actor: Any, user_ids: Iterable[Any], reason: Any) -> Outcome:
    """Delete every like of these accounts, then make every affected counter and ranking exact."""
    require_national(actor)
    text = audit.clean_reason(reason, required=True)
    ids = sorted({uid for uid in (parse_id(value) for value in user_ids) if uid is not None})
    if not ids:
        raise _account_gone()
    found = set()
    for start in range(0, len(ids), CHUNK):
        found.update(db.session.scalars(sa.select(User.id).where(User.id.in_(ids[start : start + CHUNK]))))
    if len(found) != len(ids):
        raise _account_gone()
    voided = _delete_likes(ids)
    for uid in ids:
        audit.record(actor, "likes_void", "user", uid, text)
    db.session.commit()
    return Outcome(voided_likes=len(voided), work_ids=_recount(voided))
