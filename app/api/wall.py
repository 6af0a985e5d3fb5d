"""API v1: the featured wall — read by anyone, its order replaced by national moderators."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.parsing import body
from app.api.schemas import Wall, WallOrder, WallOrderBody, WallQuery
from app.engagement.work_lists import EngagementCounts, engagement_counts, liked_work_ids
from app.page_cache import cached
from app.policy import require_national
from app.wall import services as wall
from app.works.serialise import work_to_dict


def _work_dict(work, counts, liked) -> dict[str, Any]:
    return work_to_dict(work, counts=counts.get(work.id, EngagementCounts()), liked=work.id in liked)


def _serialise(featured: list[wall.FeaturedWork], **ranked: list) -> dict[str, Any]:
    # One counts read and one likes query for every section together.
    ids = [item.work.id for item in featured] + [w.id for section in ranked.values() for w in section]
    counts = engagement_counts(ids)
    liked = liked_work_ids(current_user, ids)
    answer = {
        "featured": [
            {**_work_dict(item.work, counts, liked), "note": item.note, "position": item.position}
            for item in featured
        ]
    }
    for name, section in ranked.items():
        answer[name] = [_work_dict(w, counts, liked) for w in section]
    return answer


def national_first(view: Callable) -> Callable:
    """Who may is checked before the body is read, so a stranger learns nothing from a 422."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        require_national(current_user)
        return view(*args, **kwargs)

    return wrapper


def _liked_sections(answer: dict[str, Any], user: Any) -> dict[str, Any]:
    """The caller's own field on the shared wall."""
    items = [item for section in answer.values() if isinstance(section, list) for item in section]
    liked = liked_work_ids(user, {item["id"] for item in items})
    for item in items:
        item["liked_by_me"] = item["id"] in liked
    return answer


@bp.get("/wall")
@answers(200, Wall, refusing=(400,), query=WallQuery)
@cached(lambda: "wall", kind="api", personalise=_liked_sections)
def get_wall():
    """The featured wall: curated works in order (published only), then the top hot and most-liked
    works; filters apply to every section"""
    sections = wall.wall(wall.wall_filters(request.args))
    return _serialise(sections["featured"], hot=sections["hot"], likes=sections["likes"])


@bp.put("/wall")
@answers(200, WallOrder, refusing=(400, 401, 403, 409, 415, 422), signed_in=True)
@national_first
@body(WallOrderBody)
def put_wall(data: dict[str, Any]):
    """Replace the wall's order (national moderators): works left out are removed, new ones added at
    their place

    Each must be a distinct published work (else 422 naming them, nothing changed); at most
    maxItems of them (else 409 wall_full).
    """
    return _serialise(wall.set_order(current_user, data["work_ids"]))
