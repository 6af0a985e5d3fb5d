"""API v1: works — list and detail for anyone, drafts created by collective members."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.helpers import login_required_api
from app.api.parsing import body
from app.api.schemas import Work, WorkAnswer, WorkBody, WorkListQuery, WorkPage
from app.engagement.work_lists import liked_work_ids, list_published_works, work_dict, works_to_dicts
from app.models import WorkStatus
from app.page_cache import cached, work_group
from app.paging import decode_cursor, encode_cursor
from app.search import services as search
from app.search.limits import search_limit
from app.works import services as svc
from app.works.embeds import embed_url
from app.works.listing import parse_work_filters


def _liked_items(answer: dict[str, Any], user: Any) -> dict[str, Any]:
    """The caller's own field on a shared page of works."""
    liked = liked_work_ids(user, [item["id"] for item in answer["items"]])
    for item in answer["items"]:
        item["liked_by_me"] = item["id"] in liked
    return answer


def _liked_work(answer: dict[str, Any], user: Any) -> dict[str, Any]:
    answer["liked_by_me"] = answer["id"] in liked_work_ids(user, [answer["id"]])
    return answer


@bp.get("/works")
@answers(200, WorkPage, refusing=(400, 429), query=WorkListQuery)
@cached(lambda: "api:works", kind="api", personalise=_liked_items)
@search_limit
def list_works():
    """Published works, filtered and sorted, with cursor pagination

    sort=new (default) is newest first; likes and hot read the live rankings (hot: likes decayed by
    age). With several filters, or kind, a ranking page may hold fewer items than usual, even none,
    and still have a next_cursor: only next_cursor null means the end. A cursor belongs to its sort.
    q searches published works' titles, summaries, story text and collective names (every term, as
    a substring: Chinese needs no spaces); it adds sort=relevance (the default with q) and a
    highlight per item. A q of only symbols matches nothing; likes and hot with q order the best
    1,000 matches.
    """
    if request.args.get("q") or request.args.get("sort") == "relevance":
        return _search_works()
    filters, sort = parse_work_filters(request.args)
    works, after = list_published_works(filters, sort=sort, after=decode_cursor(request.args.get("cursor")))
    return {
        "items": works_to_dicts(works, current_user),
        "next_cursor": encode_cursor(after) if after is not None else None,
    }


def _search_works():
    query, filters, sort = search.parse_search_args(request.args)
    page = search.search_works(query, filters, sort=sort, after=decode_cursor(request.args.get("cursor")))
    items = works_to_dicts(page.works, current_user)
    for item in items:
        highlight = page.highlights.get(item["id"])
        if highlight is not None:
            item["highlight"] = highlight.as_dict()
    return {"items": items, "next_cursor": encode_cursor(page.after) if page.after is not None else None}


# The path parameter is named `id`, as the published spec names it.
@bp.get("/works/<int:id>")
@answers(200, Work, refusing=(404,))
@cached(lambda id: work_group(id), kind="api", seconds="PAGE_CACHE_PAGE_SECONDS", personalise=_liked_work)
def get_work(id: int):
    """One work (drafts only for their collective and moderators)"""
    work = svc.get_visible_work(id, current_user)
    # Only a public work may be embedded: a draft's owner sees null, never a player that 404s.
    public = work.status == WorkStatus.PUBLISHED
    return {**work_dict(work, current_user), "embed_url": embed_url(work) if public else None}


@bp.post("/works")
@answers(201, WorkAnswer, refusing=(400, 401, 403, 404, 409, 415, 422), signed_in=True)
@login_required_api
@body(WorkBody)
def create_work(data: dict[str, Any]):
    """Create a draft work (collective members)"""
    work = svc.create_work(
        current_user,
        kind=data["kind"],
        title=data["title"],
        summary=data["summary"],
        body=data["body"],
        campaign_id=data["campaign_id"],
    )
    return {"work": work_dict(work, current_user)}, 201
