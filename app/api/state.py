"""API v1 (extension): ``GET /me/state`` — everything on a shared page that is the caller's own.

Public pages and public API reads are one cached body for everyone (app/page_cache.py). What
differs per person is fetched by the page's script (static/js/state.js) in this one small call and
filled in before the person can act: who is signed in (name, role, the links the role opens), the
bell's unread count, which of the page's works this person liked, live counts of those works from
Redis (a cached body's counts may be seconds old), the works they may edit, those they commented
on (their comments are shown as they see them there), and the CSRF token
for the page's forms; on a work page, it also counts the page's view (one call instead of a view
beacon). Only a browser holding the signed-in hint cookie calls it (app/auth/sessions.py): a
visitor who is not signed in has nothing of their own on a page. Never cached anywhere:
``Cache-Control: private, no-store``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app import policy, statements_alone
from app.api import bp
from app.api.docs import answers
from app.api.schemas import MeState, MeStateQuery
from app.auth import verification
from app.engagement import views, visitors
from app.engagement.work_lists import engagement_counts
from app.errors import ServiceError
from app.extensions import db
from app.ids import invalid_parameter, parse_id
from app.models import Comment, CommentStatus, Like, Notification, Work

# A page shows at most a few dozen works; more ids than this is not a page asking.
STATE_WORKS_MAX = 100


def _work_ids(raw: str | None) -> list[int]:
    if not raw:
        return []
    parts = raw.split(",")
    if len(parts) > STATE_WORKS_MAX:
        raise invalid_parameter("works", raw)
    ids = [parse_id(part.strip()) for part in parts]
    if any(work_id is None for work_id in ids):
        raise invalid_parameter("works", raw)
    return list(dict.fromkeys(ids))  # type: ignore[arg-type]


def _facts_statement(with_works: bool) -> sa.CompoundSelect | sa.Select:
    """Which of ``ids`` the user likes, where they have visible or held comments, and the bell's
    unread count: one SQL round trip for the three, since every signed-in page view asks. Built
    once per shape: building it per call cost as much CPU as running it.

    The same rules as ``liked_work_ids`` (SQL, the truth) and ``notifications.unread_count``."""
    user_id = sa.bindparam("user_id", type_=sa.Integer)
    ids = sa.bindparam("ids", expanding=True, type_=sa.Integer)
    unread = (
        sa.select(sa.literal_column("'n'", sa.String).label("kind"), sa.func.count().label("value"))
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    if not with_works:
        return unread
    liked = sa.select(sa.literal_column("'l'", sa.String), Like.work_id).where(
        Like.user_id == user_id, Like.work_id.in_(ids)
    )
    # Where the page's comments must be shown as this person sees them (their held ones, their
    # delete buttons): static/js/comments.js asks the API again only there.
    commented = (
        sa.select(sa.literal_column("'c'", sa.String), Comment.work_id)
        .where(
            Comment.user_id == user_id,
            Comment.work_id.in_(ids),
            Comment.status.in_([CommentStatus.VISIBLE, CommentStatus.PENDING]),
        )
        .distinct()
    )
    return sa.union_all(unread, liked, commented)


_FACTS = {with_works: _facts_statement(with_works) for with_works in (False, True)}


def _own_facts(user: Any, ids: list[int]) -> tuple[set[int], list[int], int]:
    liked: set[int] = set()
    commented: set[int] = set()
    unread = 0
    params: dict[str, Any] = {"user_id": user.id}
    if ids:
        params["ids"] = ids
    # Often the call's only SQL (the account is remembered): alone, in autocommit.
    for kind, value in statements_alone.read(_FACTS[bool(ids)], params):
        if kind == "n":
            unread = int(value or 0)
        elif kind == "l":
            liked.add(int(value))
        else:
            commented.add(int(value))
    return liked, sorted(commented), unread


def _user_state(user: Any, ids: list[int]) -> dict[str, Any]:
    editable: list[int] = []
    if ids and (user.is_admin or user.collective_id):
        works = db.session.scalars(db.select(Work).where(Work.id.in_(ids))).all()
        editable = sorted(work.id for work in works if policy.can_edit_work(user, work))
    liked, own_comments, unread = _own_facts(user, ids)
    return {
        "own_comments": own_comments,
        "user": {
            "id": user.id,
            "display_name": user.display_name,
            "role": str(user.role),
            "collective_id": user.collective_id,
        },
        "nav": {
            "my_works": bool(user.collective_id),
            "manage_wall": bool(user.is_national),
            "moderation": bool(user.is_moderator),
            "audit": bool(user.is_admin),
        },
        "unread": unread,
        "liked": sorted(liked),
        "editable": editable,
        "needs_email_verification": verification.needs_verification(user),
        "csrf_token": generate_csrf(),
    }


def _count_view(token: str | None) -> bool:
    """The page's view, counted for a signed-in caller or a browser with our visitor cookie
    (the view beacon's rule, app/pages/works.py); False when the page's script must send the
    beacon instead (any other caller, a token that is not genuine or has expired)."""
    work_id = visitors.beacon_work_id(token)
    if work_id is None or not (current_user.is_authenticated or visitors.visitor_id()):
        return False
    try:
        views.count_page_view(work_id, current_user)
    except ServiceError:
        pass  # no longer visible to this caller: nothing to count, and nothing for a beacon either
    return True


@bp.get("/me/state")
@answers(200, MeState, refusing=(400,), query=MeStateQuery)
def me_state():
    """The caller's own state for a shared page: who is signed in, the bell, which of ``works``
    (comma-separated ids) they liked, live counts of those works, and the CSRF token

    Anyone may call it: signed out, ``signed_in`` is false and only the counts are filled.
    With ``view`` (a work page's view token), it also counts that page's view for a signed-in
    caller or a browser with a visitor cookie, as the view beacon would, and says so in
    ``view_counted``; the page's script sends the beacon only when that is false.
    Answered with Cache-Control private, no-store.
    """
    ids = _work_ids(request.args.get("works"))
    counts = engagement_counts(ids) if ids else {}
    view = request.args.get("view")
    answer: dict[str, Any] = {
        "signed_in": bool(current_user.is_authenticated),
        "counts": {
            str(work_id): {"likes": c.likes, "comments": c.comments, "views": c.views}
            for work_id, c in counts.items()
        },
        "user": None,
        "nav": None,
        "unread": 0,
        "liked": [],
        "editable": [],
        "own_comments": [],
        "needs_email_verification": False,
        "csrf_token": None,
        "view_counted": False,
    }
    if current_user.is_authenticated:
        answer.update(_user_state(current_user, ids))
    if view is not None:
        answer["view_counted"] = _count_view(view)
    return answer, 200, {"Cache-Control": "private, no-store"}
