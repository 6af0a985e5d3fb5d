"""SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34+) over ``work_search``.

The FTS table keeps no copy of the text (``content='work_search'``); three triggers feed it from
the table's inserts, updates and deletes, so it changes in the same transaction as the row.
A trigram index finds any substring of three characters or more, which is what Chinese needs
(no spaces between words, no segmenter to disagree with); shorter terms fall back to LIKE.
"""

from __future__ import annotations

import sqlalchemy as sa

FTS = "work_search_fts"
_COLUMNS = "title, summary, collective_name, body_text"
_NEW = "new.work_id, new.title, new.summary, new.collective_name, new.body_text"
_OLD = "old.work_id, old.title, old.summary, old.collective_name, old.body_text"

CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5({_COLUMNS}, "
    "content='work_search', content_rowid='work_id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS work_search_ai AFTER INSERT ON work_search BEGIN "
    f"INSERT INTO {FTS}(rowid, {_COLUMNS}) VALUES ({_NEW}); END",
    f"CREATE TRIGGER IF NOT EXISTS work_search_ad AFTER DELETE ON work_search BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, {_COLUMNS}) VALUES ('delete', {_OLD}); END",
    f"CREATE TRIGGER IF NOT EXISTS work_search_au AFTER UPDATE ON work_search BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, {_COLUMNS}) VALUES ('delete', {_OLD}); "
    f"INSERT INTO {FTS}(rowid, {_COLUMNS}) VALUES ({_NEW}); END",
)
DROP = (f"DROP TABLE IF EXISTS {FTS}",)
# After a bulk load: re-read every row of work_search into the FTS index.
REBUILD = f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')"

TRIGRAM = 3


def _fts_string(term: str) -> str:
    # A double-quoted FTS5 string is matched as text: AND, OR, NEAR, -, * inside it are just
    # characters. Terms hold no quote (services.terms keeps letters and digits), doubled anyway.
    return '"' + term.replace('"', '""') + '"'


def contains(column: sa.ColumnElement, pattern: str) -> sa.ColumnElement[bool]:
    return column.like(pattern, escape="\\")


def matches(table: sa.Table, terms: list[str], like: dict[str, str]) -> list[sa.ColumnElement[bool]]:
    """Conditions a row of ``table`` meets when it holds every term (``like``: term → pattern)."""
    conditions: list[sa.ColumnElement[bool]] = []
    long_terms = [term for term in terms if len(term) >= TRIGRAM]
    if long_terms:
        query = " AND ".join(_fts_string(term) for term in long_terms)
        conditions.append(
            table.c.work_id.in_(
                sa.text(f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH :fts_query").bindparams(fts_query=query)
            )
        )
    columns = [table.c.title, table.c.summary, table.c.collective_name, table.c.body_text]
    for term in terms:
        if len(term) < TRIGRAM:
            conditions.append(sa.or_(*(contains(column, like[term]) for column in columns)))
    return conditions
