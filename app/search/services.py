"""Searching published works: what the /search page and ``GET /api/v1/works?q=`` both call.

A query is split into terms (runs of letters and digits: Chinese characters are letters, every
symbol and space separates), at most :data:`MAX_TERMS` of them; a work matches when each term
appears somewhere in its title, summary, story text or collective's name, as a substring — so
"文明" finds "青年文明号" and no segmenter has to guess where Chinese words end. A query holding
no term at all ("%%%", "*", "'") matches nothing; an empty one is the ordinary list.

Sorts: ``relevance`` (the default with a query: a term in the title weighs 8, in the collective's
name 4, in the summary 2, in the story 1; ties newest first), ``new``, and ``likes`` / ``hot``,
which order the best :data:`MATCH_CAP` matches by the live Redis counts (likes are never counted
in SQL; ``hot`` is the rankings' own score, ``scoring.hot_score``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _
from markupsafe import Markup, escape

from app.engagement.scoring import hot_score
from app.engagement.work_lists import engagement_counts, list_published_works
from app.errors import ServiceError
from app.extensions import db
from app.field_limits import QUERY_MAX
from app.ids import ID_MAX, parse_int
from app.models import Work, WorkStatus
from app.paging import invalid_cursor
from app.search import postgresql, sqlite
from app.search.models import WorkSearch
from app.works.listing import PAGE_SIZE, PAGE_SIZE_MAX, WorkFilters, apply_work_filters, parse_work_filters

MAX_TERMS = 8
MATCH_CAP = 1000
SORTS = ("relevance", "new", "likes", "hot")
WEIGHTS = {"title": 8, "collective_name": 4, "summary": 2, "body_text": 1}
SUMMARY_CHARS = 80
SNIPPET_BEFORE, SNIPPET_AFTER = 30, 60
# Letters and digits of any script; "_" is a separator like any other symbol.
_TERM = re.compile(r"[^\W_]+")


@dataclass
class Highlight:
    """Escaped text with the matches in ``<mark>``: safe to put in a page as it is."""

    title: Markup
    collective: Markup
    summary: Markup
    body: Markup

    def as_dict(self) -> dict[str, str]:
        return {"title": str(self.title), "collective": str(self.collective),
                "summary": str(self.summary), "body": str(self.body)}  # fmt: skip


@dataclass
class SearchPage:
    works: list[Work]
    after: dict[str, Any] | None
    terms: list[str] = field(default_factory=list)
    highlights: dict[int, Highlight] = field(default_factory=dict)


def terms(query: str | None) -> list[str]:
    """The terms of a query, deduplicated (case-insensitively), in order, at most MAX_TERMS."""
    found: list[str] = []
    seen: set[str] = set()
    for term in _TERM.findall((query or "")[:QUERY_MAX]):
        if term.casefold() not in seen:
            seen.add(term.casefold())
            found.append(term)
    return found[:MAX_TERMS]


def parse_search_args(args: Mapping[str, Any]) -> tuple[str, WorkFilters, str]:
    """Query, filters and sort from request parameters (400 ``invalid_parameter`` if unknown).

    The sort defaults to relevance with a query, else to new; relevance without a query is new.
    """
    query = (args.get("q") or "")[:QUERY_MAX]
    sort = args.get("sort") or ("relevance" if query else "new")
    if sort not in SORTS:
        raise _invalid_sort(sort)
    filters, _sort = parse_work_filters({k: v for k, v in args.items() if k != "sort"})
    return query, filters, sort


def _backend():
    return postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _invalid_sort(sort: str) -> ServiceError:
    message = _("参数 %(name)s 的取值无效：%(value)s", name="sort", value=sort)
    return ServiceError(message, code="invalid_parameter", status=400)


def search_works(
    query: str | None,
    filters: WorkFilters | None = None,
    *,
    sort: str | None = None,
    after: Mapping[str, Any] | None = None,
    limit: int = PAGE_SIZE,
) -> SearchPage:
    """One page of published works matching ``query`` and ``filters``, and the position after it
    (None on the last page). An empty query is :func:`app.engagement.work_lists.list_published_works`."""
    filters = filters or WorkFilters()
    limit = max(1, min(limit, PAGE_SIZE_MAX))
    if not query:
        listed, position = list_published_works(
            filters, sort="new" if sort in (None, "relevance") else sort, after=after, limit=limit
        )
        return SearchPage(listed, position)
    sort = sort or "relevance"
    if sort not in SORTS:
        raise _invalid_sort(sort)
    if after is not None and after.get("s") != sort:
        raise invalid_cursor()
    found = terms(query)
    if not found:
        return SearchPage([], None)
    backend = _backend()
    like = {term: _like(term) for term in found}
    table = WorkSearch.__table__
    score = sum(
        (
            sa.case((backend.contains(table.c[column], like[term]), weight), else_=0)
            for term in found
            for column, weight in WEIGHTS.items()
        ),
        sa.literal(0),
    ).label("score")
    matched = (
        sa.select(Work.id, Work.published_at, score)
        .join(table, table.c.work_id == Work.id)
        .where(Work.status == WorkStatus.PUBLISHED, Work.published_at.is_not(None))
        .where(*backend.matches(table, found, like))
    )
    matched = apply_work_filters(matched, filters)
    if sort in ("likes", "hot"):
        ids, position = _by_counts(matched, score, sort, after, limit)
    else:
        ids, position = _keyset(matched, score, sort, after, limit)
    page = SearchPage(_load(ids), position, found)
    page.highlights = highlights(page.works, found)
    return page


def _keyset(
    matched: sa.Select, score: sa.Label, sort: str, after: Mapping[str, Any] | None, limit: int
) -> tuple[list[int], dict[str, Any] | None]:
    """relevance: (score, published_at, id) descending; new: (published_at, id) descending."""
    newer = (Work.published_at.desc(), Work.id.desc())
    order = newer if sort == "new" else (score.element.desc(), *newer)
    if after is not None:
        try:
            at = datetime.fromisoformat(after["t"])
            last_id = parse_int(after["i"], minimum=-ID_MAX, maximum=ID_MAX)
            last_score = parse_int(after["r"], minimum=-ID_MAX, maximum=ID_MAX) if sort == "relevance" else 0
        except (KeyError, TypeError, ValueError):
            raise invalid_cursor() from None
        if last_id is None or last_score is None:
            raise invalid_cursor()
        if sort != "relevance":
            last_score = None
        later = sa.or_(Work.published_at < at, sa.and_(Work.published_at == at, Work.id < last_id))
        if last_score is not None:
            later = sa.or_(score.element < last_score, sa.and_(score.element == last_score, later))
        matched = matched.where(later)
    rows = db.session.execute(matched.order_by(*order).limit(limit + 1)).all()
    page = rows[:limit]
    if len(rows) <= limit:
        return [row.id for row in page], None
    last = page[-1]
    position: dict[str, Any] = {"s": sort, "t": last.published_at.isoformat(), "i": last.id}
    if sort == "relevance":
        position["r"] = int(last.score)
    return [row.id for row in page], position


def _by_counts(
    matched: sa.Select, score: sa.Label, sort: str, after: Mapping[str, Any] | None, limit: int
) -> tuple[list[int], dict[str, Any] | None]:
    """The best MATCH_CAP matches ordered by their Redis counts; the cursor is an offset."""
    offset = 0
    if after is not None:
        offset = parse_int(after.get("o"), minimum=0, maximum=MATCH_CAP)
        if offset is None:
            raise invalid_cursor()
    rows = db.session.execute(
        matched.order_by(score.element.desc(), Work.published_at.desc(), Work.id.desc()).limit(MATCH_CAP)
    ).all()
    counts = engagement_counts(row.id for row in rows)

    def key(row) -> tuple[float, int]:
        likes = counts[row.id].likes if row.id in counts else 0
        return (likes if sort == "likes" else hot_score(likes, row.published_at), row.id)

    ordered = sorted(rows, key=key, reverse=True)
    page = ordered[offset : offset + limit]
    more = offset + limit < len(ordered)
    return [row.id for row in page], ({"s": sort, "o": offset + limit} if more else None)


def _load(ids: list[int]) -> list[Work]:
    if not ids:
        return []
    query = (
        sa.select(Work)
        .options(so.joinedload(Work.collective), so.selectinload(Work.assets))
        .where(Work.id.in_(ids))
    )
    loaded = {work.id: work for work in db.session.scalars(query)}
    return [loaded[i] for i in ids if i in loaded]


# --------------------------------------------------------------------------------------------
# Highlighting: escape first, then mark, so a match can never open a tag or split an entity.


def _pattern(found: list[str]) -> re.Pattern[str]:
    alternatives = sorted({term.casefold() for term in found}, key=len, reverse=True)
    return re.compile("|".join(re.escape(term) for term in alternatives), re.IGNORECASE)


def mark(text: str, pattern: re.Pattern[str]) -> Markup:
    """``text`` escaped, each match of ``pattern`` wrapped in ``<mark>``."""
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[last : match.start()])))
        out.append(f"<mark>{escape(match.group())}</mark>")
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def excerpt(text: str, pattern: re.Pattern[str], before: int, after: int) -> str:
    """A window of ``text`` around its first match (the start when none), with ellipses."""
    match = pattern.search(text)
    start = max(0, match.start() - before) if match else 0
    end = min(len(text), (match.end() if match else 0) + after) if match else min(len(text), before + after)
    snippet = " ".join(text[start:end].split())
    return ("…" if start > 0 else "") + snippet + ("…" if end < len(text) else "")


def highlights(found_works: list[Work], found: list[str]) -> dict[int, Highlight]:
    if not found_works or not found:
        return {}
    pattern = _pattern(found)
    ids = [work.id for work in found_works]
    rows = sa.select(WorkSearch.work_id, WorkSearch.body_text).where(WorkSearch.work_id.in_(ids))
    bodies = dict(db.session.execute(rows).tuples().all())
    result: dict[int, Highlight] = {}
    for work in found_works:
        body = bodies.get(work.id, "")
        summary = excerpt(work.summary or "", pattern, SNIPPET_BEFORE, SUMMARY_CHARS - SNIPPET_BEFORE)
        snippet = excerpt(body, pattern, SNIPPET_BEFORE, SNIPPET_AFTER) if pattern.search(body) else ""
        result[work.id] = Highlight(
            title=mark(work.title, pattern),
            collective=mark(work.collective.name, pattern),
            summary=mark(summary, pattern),
            body=mark(snippet, pattern),
        )
    return result
