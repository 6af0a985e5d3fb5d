"""API v1: works — list and detail for anyone, drafts created by collective members."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.helpers import decode_cursor, encode_cursor, json_body, login_required_api, require_fields
from app.search import services as search
from app.search.limits import search_limit
from app.works import services as svc


@bp.get("/works")
@search_limit
def list_works():
    """Published works; ``sort`` is new (default), likes or hot (see list_published_works).

    With ``q``, a search (app.search.services): ``sort`` may also be relevance (its default;
    without ``q`` it means new), and each item carries ``highlight``."""
    if request.args.get("q") or request.args.get("sort") == "relevance":
        return _search_works()
    filters, sort = svc.parse_work_filters(request.args)
    works, after = svc.list_published_works(
        filters, sort=sort, after=decode_cursor(request.args.get("cursor"))
    )
    return {
        "items": svc.works_to_dicts(works, current_user),
        "next_cursor": encode_cursor(after) if after is not None else None,
    }


def _search_works():
    query, filters, sort = search.parse_search_args(request.args)
    page = search.search_works(query, filters, sort=sort, after=decode_cursor(request.args.get("cursor")))
    items = svc.works_to_dicts(page.works, current_user)
    for item in items:
        highlight = page.highlights.get(item["id"])
        if highlight is not None:
            item["highlight"] = highlight.as_dict()
    return {"items": items, "next_cursor": encode_cursor(page.after) if page.after is not None else None}


# The path parameter is named `id`, as the published spec (openapi.py) names it.
@bp.get("/works/<int:id>")
def get_work(id: int):
    return svc.work_to_dict(svc.get_visible_work(id, current_user), current_user)


@bp.post("/works")
@login_required_api
def create_work():
    data = json_body()
    require_fields(data, "kind", "title", "campaign_id")
    work = svc.create_work(
        current_user,
        kind=data["kind"],
        title=data["title"],
        summary=data.get("summary") or "",
        body=data.get("body") or "",
        campaign_id=data["campaign_id"],
    )
    return {"work": svc.work_to_dict(work, current_user)}, 201
