"""API v1: the review queue and the review actions (moderators, within their province)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.helpers import json_body
from app.ids import ID_MAX, invalid_parameter, query_int
from app.models import Work
from app.moderation import services as moderation
from app.policy import require_moderator
from app.works import services as works


def review_dict(work: Work) -> dict[str, Any]:
    """A work as moderators see it: the public shape plus the review fields."""
    return {
        **works.work_to_dict(work, current_user),
        "reject_reason": work.reject_reason,
        "recommended": work.recommended,
        "recommended_at": work.recommended_at.isoformat() if work.recommended_at else None,
    }


@bp.get("/moderation/queue")
def moderation_queue():
    require_moderator(current_user)
    kind = request.args.get("kind") or "works"
    limit = query_int("limit", minimum=-ID_MAX, maximum=ID_MAX) or moderation.PAGE_SIZE
    if kind == "comments":
        from app.moderation.comment_review import comment_queue

        items, next_cursor = comment_queue(current_user, cursor=request.args.get("cursor"), limit=limit)
        return {"items": items, "next_cursor": next_cursor}
    if kind != "works":
        raise invalid_parameter("kind", kind)
    # The work's own kind (film, video, story) is `work_kind` here: `kind` names the queue.
    filters, _sort = works.parse_work_filters(
        {**request.args.to_dict(), "kind": request.args.get("work_kind")}
    )
    page = moderation.review_queue(
        current_user,
        request.args.get("queue") or "pending",
        filters,
        after_id=query_int("cursor", minimum=-ID_MAX, maximum=ID_MAX),
        limit=limit,
    )
    return {
        "items": [review_dict(work) for work in page.works],
        "next_cursor": str(page.next_cursor) if page.next_cursor is not None else None,
        "counts": moderation.queue_counts(current_user, filters),
    }


def _reason() -> str:
    data = json_body() if request.content_length or request.is_json else {}
    return data.get("reason") or ""


@bp.post("/moderation/works/<int:id>/approve")
def moderation_approve(id: int):
    return {"work": review_dict(moderation.approve_work(current_user, id))}


@bp.post("/moderation/works/<int:id>/reject")
def moderation_reject(id: int):
    require_moderator(current_user)
    return {"work": review_dict(moderation.reject_work(current_user, id, json_body().get("reason")))}


@bp.post("/moderation/works/<int:id>/recommend")
def moderation_recommend(id: int):
    return {"work": review_dict(moderation.recommend_work(current_user, id, _reason()))}


@bp.post("/moderation/works/<int:id>/unrecommend")
def moderation_unrecommend(id: int):
    return {"work": review_dict(moderation.unrecommend_work(current_user, id))}


@bp.post("/moderation/works/bulk")
def moderation_bulk():
    require_moderator(current_user)
    data = json_body()
    work_ids = data.get("work_ids")
    if not isinstance(work_ids, list):
        raise invalid_parameter("work_ids", work_ids)
    result = moderation.bulk_act(
        current_user, str(data.get("action") or ""), work_ids, data.get("reason") or ""
    )
    return {"done": result.done, "failed": [{"id": k, "message": v} for k, v in result.failed.items()]}
