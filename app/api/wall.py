"""API v1: the featured wall — read by anyone, its order replaced by national moderators."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.helpers import json_body
from app.policy import require_national
from app.wall import services as wall
from app.works import services as works


def _work_dict(work, counts, liked) -> dict[str, Any]:
    return works.work_to_dict(
        work, current_user, counts=counts.get(work.id, works.EngagementCounts()), liked=work.id in liked
    )


def _serialise(featured: list[wall.FeaturedWork], **ranked: list) -> dict[str, Any]:
    # One counts read and one likes query for every section together.
    ids = [item.work.id for item in featured] + [w.id for section in ranked.values() for w in section]
    counts = works.engagement_counts(ids)
    liked = works.liked_work_ids(current_user, ids)
    answer = {
        "featured": [
            {**_work_dict(item.work, counts, liked), "note": item.note, "position": item.position}
            for item in featured
        ]
    }
    for name, section in ranked.items():
        answer[name] = [_work_dict(w, counts, liked) for w in section]
    return answer


@bp.get("/wall")
def get_wall():
    sections = wall.wall(wall.wall_filters(request.args))
    return _serialise(sections["featured"], hot=sections["hot"], likes=sections["likes"])


@bp.put("/wall")
def put_wall():
    # Who may is checked before the body is read, so a stranger learns nothing from a 422.
    require_national(current_user)
    data = json_body()
    return _serialise(wall.set_order(current_user, data.get("work_ids")))
