"""API v1: the review queue and the review actions (moderators, within their province)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.parsing import body
from app.api.schemas import (
    BulkReviewAnswer,
    BulkReviewBody,
    RecommendBody,
    RejectBody,
    ReviewedWorkAnswer,
    ReviewQueuePage,
    ReviewQueueQuery,
)
from app.engagement.work_lists import works_to_dicts
from app.ids import ID_MAX, invalid_parameter, query_int
from app.models import Work
from app.moderation import services as moderation
from app.moderation.comment_review import comment_queue
from app.paging import decode_id_cursor, encode_id_cursor
from app.policy import require_moderator
from app.works.listing import parse_work_filters


def moderators_first(view: Callable) -> Callable:
    """Who may is checked before the body is read, so a stranger learns nothing from a 422."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        require_moderator(current_user)
        return view(*args, **kwargs)

    return wrapper


def review_dicts(works: list[Work]) -> list[dict[str, Any]]:
    """Works as moderators see them: the public shape plus the review fields, with the counts and
    likes of the whole page read at once (a queue page holds up to 100 works)."""
    return [
        {
            **public,
            "reject_reason": work.reject_reason,
            "recommended": work.recommended,
            "recommended_at": work.recommended_at.isoformat() if work.recommended_at else None,
        }
        for work, public in zip(works, works_to_dicts(works, current_user), strict=True)
    ]


def review_dict(work: Work) -> dict[str, Any]:
    return review_dicts([work])[0]


@bp.get("/moderation/queue")
@answers(200, ReviewQueuePage, refusing=(400, 401, 403), signed_in=True, query=ReviewQueueQuery)
def moderation_queue():
    """A review queue in the moderator's scope (provincial moderators: their province)

    kind=works (default): works of one queue (pending oldest first; recommended, published and
    rejected newest first) with counts per queue; kind=comments: comments waiting for review or
    reported.
    """
    require_moderator(current_user)
    kind = request.args.get("kind") or "works"
    limit = query_int("limit", minimum=-ID_MAX, maximum=ID_MAX) or moderation.PAGE_SIZE
    if kind == "comments":
        items, next_cursor = comment_queue(current_user, cursor=request.args.get("cursor"), limit=limit)
        return {"items": items, "next_cursor": next_cursor}
    if kind != "works":
        raise invalid_parameter("kind", kind)
    # The work's own kind (film, video, story) is `work_kind` here: `kind` names the queue.
    filters, _sort = parse_work_filters({**request.args.to_dict(), "kind": request.args.get("work_kind")})
    page = moderation.review_queue(
        current_user,
        request.args.get("queue") or "pending",
        filters,
        after_id=decode_id_cursor(request.args.get("cursor")),
        limit=limit,
    )
    return {
        "items": review_dicts(page.works),
        "next_cursor": encode_id_cursor(page.next_cursor) if page.next_cursor is not None else None,
        "counts": moderation.queue_counts(current_user, filters),
    }


@bp.post("/moderation/works/<int:id>/approve")
@answers(200, ReviewedWorkAnswer, refusing=(401, 403, 404, 409), signed_in=True)
def moderation_approve(id: int):
    """Approve a work waiting for review: it is published"""
    return {"work": review_dict(moderation.approve_work(current_user, id))}


@bp.post("/moderation/works/<int:id>/reject")
@answers(200, ReviewedWorkAnswer, refusing=(400, 401, 403, 404, 409, 415, 422), signed_in=True)
@moderators_first
@body(RejectBody)
def moderation_reject(data: dict[str, Any], id: int):
    """Reject a work waiting for review (or take a published one down) with a reason its collective
    reads"""
    return {"work": review_dict(moderation.reject_work(current_user, id, data["reason"]))}


@bp.post("/moderation/works/<int:id>/recommend")
@answers(200, ReviewedWorkAnswer, refusing=(400, 401, 403, 404, 409, 415, 422), signed_in=True)
@moderators_first
@body(RecommendBody)
def moderation_recommend(data: dict[str, Any], id: int):
    """Recommend (推报) a published work to the national committee; repeating it changes nothing"""
    return {"work": review_dict(moderation.recommend_work(current_user, id, data["reason"]))}


@bp.post("/moderation/works/<int:id>/unrecommend")
@answers(200, ReviewedWorkAnswer, refusing=(401, 403, 404), signed_in=True)
def moderation_unrecommend(id: int):
    """Withdraw a recommendation; repeating it changes nothing"""
    return {"work": review_dict(moderation.unrecommend_work(current_user, id))}


@bp.post("/moderation/works/bulk")
@answers(200, BulkReviewAnswer, refusing=(400, 401, 403, 415, 422), signed_in=True)
@moderators_first
@body(BulkReviewBody)
def moderation_bulk(data: dict[str, Any]):
    """One review action on many works (at most maxItems), each on its own"""
    result = moderation.bulk_act(current_user, str(data["action"] or ""), data["work_ids"], data["reason"])
    return {"done": result.done, "failed": [{"id": k, "message": v} for k, v in result.failed.items()]}
