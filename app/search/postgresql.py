"""PostgreSQL: pg_trgm's GIN index over the row's text, read by ILIKE '%term%'.

Under the C.UTF-8 ctype pg_trgm takes CJK characters as word characters
(``show_trgm('青年文明号')`` gives six trigrams), so Chinese substrings of three characters or more
use the index. Shorter terms still match (the index cannot narrow them: the rows of the other
terms, or every row, are checked).
"""

from __future__ import annotations

import sqlalchemy as sa

# One expression over the four columns, spelled exactly as the index is: a term never holds a
# space, so the separators keep a match from straddling two fields.
COLUMNS = ("title", "summary", "collective_name", "body_text")


def document(prefix: str = "") -> str:
    return "(" + " || ' ' || ".join(prefix + column for column in COLUMNS) + ")"


DOCUMENT = document()

CREATE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS ix_work_search_document_trgm ON work_search "
    f"USING gin ({DOCUMENT} gin_trgm_ops)",
)


def contains(column: sa.ColumnElement, pattern: str) -> sa.ColumnElement[bool]:
    return column.ilike(pattern, escape="\\")


def matches(table: sa.Table, terms: list[str], like: dict[str, str]) -> list[sa.ColumnElement[bool]]:
    """Conditions a row of ``table`` meets when it holds every term (``like``: term → pattern)."""
    text = sa.literal_column(document(f"{table.name}."))
    return [text.ilike(like[term], escape="\\") for term in terms]
