"""Keeping ``work_search`` in step with the works: one row per published work, never another.

The index is written in the transaction that changes a work, by two session hooks, so no caller
has to remember it and a rolled-back change leaves no trace:

* ``after_flush``: works added, edited, moved to another status or deleted through the ORM, and
  collectives renamed;
* ``do_orm_execute``: ``UPDATE``/``DELETE`` statements on ``work`` (the review actions publish and
  reject in one conditional UPDATE) or renaming a collective; the rows they touch are looked up
  with the statement's own WHERE clause before it runs.

Statements that touch none of the indexed fields (a views flush) cost nothing. SQL written
around the ORM (raw ``text()``, another program) is not seen: ``flask search rebuild`` rebuilds
the index from SQL, and a query always joins ``work.status = 'published'``, so a stale row can
never show an unpublished work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from html.parser import HTMLParser

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from app.extensions import db
from app.models import Collective, Work, WorkStatus
from app.search import postgresql, sqlite
from app.search.models import WorkSearch

log = logging.getLogger(__name__)

TABLE = WorkSearch.__table__
WORK_FIELDS = frozenset({"title", "summary", "body", "body_html", "status", "collective_id", "published_at"})
CHUNK = 500
_BLOCK_TAGS = frozenset(
    {"p", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "tr", "pre", "blockquote"}
)  # fmt: skip
_TEXT_COLUMNS = ("title", "summary", "collective_name", "body_text")


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(html: str) -> str:
    """The text a reader sees in sanitised story HTML: no tags, entities decoded."""
    parser = _TextOf()
    parser.feed(html or "")
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _published_rows(connection: sa.Connection, work_ids: list[int]) -> list[dict]:
    query = (
        sa.select(Work.id, Work.title, Work.summary, Work.body_html, Collective.name)
        .join(Collective, Work.collective_id == Collective.id)
        .where(Work.id.in_(work_ids), Work.status == WorkStatus.PUBLISHED, Work.published_at.is_not(None))
    )
    return [
        {
            "work_id": row.id,
            "title": row.title or "",
            "summary": row.summary or "",
            "collective_name": row.name or "",
            "body_text": html_text(row.body_html),
        }
        for row in connection.execute(query)
    ]


def _upsert(connection: sa.Connection, rows: list[dict]) -> None:
    dialect = pg_dialect if connection.dialect.name == "postgresql" else sqlite_dialect
    statement = dialect.insert(TABLE)
    statement = statement.on_conflict_do_update(
        index_elements=[TABLE.c.work_id],
        set_={name: statement.excluded[name] for name in _TEXT_COLUMNS},
    )
    connection.execute(statement, rows)


def sync_works(connection: sa.Connection, work_ids: Iterable[int]) -> None:
    """Make the rows of these works what SQL says now: published ones (re)written, others gone."""
    ids = sorted({int(i) for i in work_ids if i is not None})
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = _published_rows(connection, chunk)
        published = {row["work_id"] for row in rows}
        gone = [i for i in chunk if i not in published]
        if gone:
            connection.execute(sa.delete(TABLE).where(TABLE.c.work_id.in_(gone)))
        if rows:
            _upsert(connection, rows)


def sync_collectives(connection: sa.Connection, collective_ids: Iterable[int]) -> None:
    """A renamed collective: its works' rows carry the new name."""
    for collective_id in {int(i) for i in collective_ids}:
        name = sa.select(Collective.name).where(Collective.id == collective_id).scalar_subquery()
        works = sa.select(Work.id).where(Work.collective_id == collective_id)
        rename = sa.update(TABLE).where(TABLE.c.work_id.in_(works))
        connection.execute(rename.values(collective_name=sa.func.coalesce(name, "")))


def rebuild(session: so.Session | None = None) -> int:
    """Rebuild the whole index from SQL in one transaction; idempotent. Returns the rows written."""
    session = session or db.session
    connection = session.connection()
    ensure_schema(connection)
    if connection.dialect.name == "postgresql":
        # Edits committing meanwhile wait, then write their rows over the rebuilt ones.
        connection.execute(sa.text("LOCK TABLE work_search IN EXCLUSIVE MODE"))
    else:
        connection.execute(sa.delete(TABLE).where(sa.false()))  # SQLite's writer lock first
    connection.execute(sa.delete(TABLE))
    ids = list(
        connection.scalars(sa.select(Work.id).where(Work.status == WorkStatus.PUBLISHED).order_by(Work.id))
    )
    written = 0
    for start in range(0, len(ids), CHUNK):
        rows = _published_rows(connection, ids[start : start + CHUNK])
        if rows:
            _upsert(connection, rows)
            written += len(rows)
    if connection.dialect.name == "sqlite":
        connection.execute(sa.text(sqlite.REBUILD))
    session.commit()
    return written


def ensure_schema(connection: sa.Connection) -> None:
    """Create the table and its database-specific index when missing (all IF NOT EXISTS)."""
    TABLE.create(connection, checkfirst=True)  # after_create adds the index when it creates
    statements = sqlite.CREATE if connection.dialect.name == "sqlite" else postgresql.CREATE
    for statement in statements:
        connection.execute(sa.text(statement))


# --------------------------------------------------------------------------------------------
# The session hooks.


def _changed(obj: object, names: Iterable[str]) -> bool:
    attrs = sa.inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


@sa.event.listens_for(FlaskSession, "after_flush")
def _after_flush(session: so.Session, flush_context) -> None:
    work_ids: set[int] = set()
    collective_ids: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Work):
            work_ids.add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, Work) and _changed(obj, WORK_FIELDS):
            work_ids.add(obj.id)
        elif isinstance(obj, Collective) and _changed(obj, ("name",)):
            collective_ids.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Work):
            work_ids.add(obj.id)
    if work_ids or collective_ids:
        connection = session.connection()
        sync_works(connection, work_ids)
        sync_collectives(connection, collective_ids)


def _column_names(statement: sa.Update, params: object) -> set[str]:
    names: set[str] = set()
    for key in list(statement._values or ()) + [key for key, _ in statement._ordered_values or ()]:
        names.add(getattr(key, "key", None) or getattr(key, "name", None) or str(key))
    if isinstance(params, list):  # ORM bulk UPDATE by primary key: the fields are the keys
        names.update(key for one in params for key in one)
    return names


@sa.event.listens_for(FlaskSession, "do_orm_execute")
def _on_execute(state: so.ORMExecuteState):
    if not (state.is_update or state.is_delete):
        return None
    statement = state.statement
    params = state.parameters
    name = getattr(getattr(statement, "table", None), "name", None)
    fields = _column_names(statement, params) if state.is_update else set()
    if name == "work" and (state.is_delete or fields & WORK_FIELDS):
        target = Work.__table__
    elif name == "collective" and "name" in fields:
        target = Collective.__table__
    else:
        return None
    if state.session.autoflush:
        state.session.flush()  # the lookup below must see what the statement will see
    connection = state.session.connection()
    ids: set[int] = set()
    if statement.whereclause is None and isinstance(params, list):
        ids.update(int(one["id"]) for one in params if "id" in one)
    else:
        lookup = sa.select(target.c.id)
        if statement.whereclause is not None:
            lookup = lookup.where(statement.whereclause)
        for one in params if isinstance(params, list) else [params or {}]:
            ids.update(connection.scalars(lookup, one))
    result = state.invoke_statement()
    if not isinstance(result, sa.CursorResult) or result.returns_rows:
        # The caller reads it after the index writes below: buffer it first.
        result = result.freeze()()
    if name == "work":
        sync_works(connection, ids)
    else:
        sync_collectives(connection, ids)
    return result
