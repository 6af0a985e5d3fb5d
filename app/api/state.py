"""API v1 (extension): ``GET /me/state`` — everything on a shared page that is the caller's own.

Public pages and public API reads are one cached body for everyone (app/page_cache.py). What
differs per person is fetched by the page's script (static/js/state.js) in this one small call and
filled in before the person can act: who is signed in (name, role, the links the role opens), the
bell's unread count, which of the page's works this person liked, live counts of those works from
Redis (a cached body's counts may be seconds old), the works they may edit, those they commented
on (their comments are shown as they see them there), and the CSRF token
for the page's forms. Never cached anywhere: ``Cache-Control: private, no-store``.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app import policy
from app.api import bp
from app.api.docs import answers
from app.api.schemas import MeState, MeStateQuery
from app.auth import verification
from app.engagement.work_lists import engagement_counts, liked_work_ids
from app.extensions import db
from app.ids import invalid_parameter, parse_id
from app.models import Comment, CommentStatus, Work
from app.notifications import services as notifications

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


def _user_state(user: Any, ids: list[int]) -> dict[str, Any]:
    editable: list[int] = []
    if ids and (user.is_admin or user.collective_id):
        works = db.session.scalars(db.select(Work).where(Work.id.in_(ids))).all()
        editable = sorted(work.id for work in works if policy.can_edit_work(user, work))
    own_comments: list[int] = []
    if ids:
        # Where the page's comments must be shown as this person sees them (their held ones,
        # their delete buttons): static/js/comments.js asks the API again only there.
        own_comments = sorted(
            db.session.scalars(
                db.select(Comment.work_id)
                .where(
                    Comment.user_id == user.id,
                    Comment.work_id.in_(ids),
                    Comment.status.in_([CommentStatus.VISIBLE, CommentStatus.PENDING]),
                )
                .distinct()
            )
        )
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
        "unread": notifications.unread_count(user),
        "liked": sorted(liked_work_ids(user, ids)),
        "editable": editable,
        "needs_email_verification": verification.needs_verification(user),
        "csrf_token": generate_csrf(),
    }


@bp.get("/me/state")
@answers(200, MeState, refusing=(400,), query=MeStateQuery)
def me_state():
    """The caller's own state for a shared page: who is signed in, the bell, which of ``works``
    (comma-separated ids) they liked, live counts of those works, and the CSRF token

    Anyone may call it: signed out, ``signed_in`` is false and only the counts are filled.
    Answered with Cache-Control private, no-store.
    """
    ids = _work_ids(request.args.get("works"))
    counts = engagement_counts(ids) if ids else {}
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
    }
    if current_user.is_authenticated:
        answer.update(_user_state(current_user, ids))
    return answer, 200, {"Cache-Control": "private, no-store"}
