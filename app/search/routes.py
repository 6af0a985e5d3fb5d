"""The search results page: ``/search?q=`` with the home page's filters and cards."""

from __future__ import annotations

from flask import render_template, request

from app.engagement.work_lists import engagement_counts
from app.page_cache import cached
from app.paging import decode_cursor, more_url
from app.search import bp
from app.search import services as search
from app.search.limits import search_limit


@bp.get("/search")
@cached(lambda: "search")
@search_limit
def results():
    query, filters, sort = search.parse_search_args(request.args)
    page = search.search_works(query, filters, sort=sort, after=decode_cursor(request.args.get("cursor")))
    ids = [work.id for work in page.works]
    return render_template(
        "search/results.html",
        query=query,
        has_terms=bool(page.terms) or not query,
        page=page,
        counts=engagement_counts(ids),
        liked=set(),
        filters=filters,
        sort=sort,
        more_url=more_url("search.results", page.after),
    )
