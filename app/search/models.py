"""The search index's table: one row of plain text per published work.

The row is the same on both databases; what indexes it is not (``app.search.sqlite``: an FTS5
trigram table fed by triggers, ``app.search.postgresql``: a pg_trgm GIN index). Both are created
with the table (``after_create``), so ``db.create_all()`` and the migration build the same schema.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.search import postgresql, sqlite


class WorkSearch(db.Model):
    __tablename__ = "work_search"

    work_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("work.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    title: so.Mapped[str] = so.mapped_column(sa.String(120))
    summary: so.Mapped[str] = so.mapped_column(sa.String(500))
    collective_name: so.Mapped[str] = so.mapped_column(sa.String(120))
    # The story as plain text (tags stripped from the sanitised HTML), so that Markdown and
    # markup never match a query.
    body_text: so.Mapped[str] = so.mapped_column(sa.Text)


for _statement in sqlite.CREATE:
    sa.event.listen(WorkSearch.__table__, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
for _statement in sqlite.DROP:
    sa.event.listen(WorkSearch.__table__, "before_drop", sa.DDL(_statement).execute_if(dialect="sqlite"))
for _statement in postgresql.CREATE:
    sa.event.listen(WorkSearch.__table__, "after_create", sa.DDL(_statement).execute_if(dialect="postgresql"))
