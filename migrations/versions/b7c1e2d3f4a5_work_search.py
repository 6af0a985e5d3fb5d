"""the works' full-text search index (work_search; SQLite FTS5 trigram, PostgreSQL pg_trgm)

Revision ID: b7c1e2d3f4a5
Revises: 3e5f8a1c2d90
Create Date: 2026-12-08 10:00:00.000000

"""
from html.parser import HTMLParser

from alembic import op
import sqlalchemy as sa


revision = 'b7c1e2d3f4a5'
down_revision = '3e5f8a1c2d90'
branch_labels = None
depends_on = None

# The same statements as app/search/sqlite.py and app/search/postgresql.py (a migration never
# imports the app, whose code moves on).
_COLUMNS = "title, summary, collective_name, body_text"
_NEW = "new.work_id, new.title, new.summary, new.collective_name, new.body_text"
_OLD = "old.work_id, old.title, old.summary, old.collective_name, old.body_text"
SQLITE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS work_search_fts USING fts5({_COLUMNS}, "
    "content='work_search', content_rowid='work_id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS work_search_ai AFTER INSERT ON work_search BEGIN "
    f"INSERT INTO work_search_fts(rowid, {_COLUMNS}) VALUES ({_NEW}); END",
    f"CREATE TRIGGER IF NOT EXISTS work_search_ad AFTER DELETE ON work_search BEGIN "
    f"INSERT INTO work_search_fts(work_search_fts, rowid, {_COLUMNS}) VALUES ('delete', {_OLD}); END",
    f"CREATE TRIGGER IF NOT EXISTS work_search_au AFTER UPDATE ON work_search BEGIN "
    f"INSERT INTO work_search_fts(work_search_fts, rowid, {_COLUMNS}) VALUES ('delete', {_OLD}); "
    f"INSERT INTO work_search_fts(rowid, {_COLUMNS}) VALUES ({_NEW}); END",
)
POSTGRESQL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_work_search_document_trgm ON work_search "
    "USING gin ((title || ' ' || summary || ' ' || collective_name || ' ' || body_text) gin_trgm_ops)",
)
_BLOCK_TAGS = {"p", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "tr", "pre", "blockquote"}


class _TextOf(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def _text(html):
    parser = _TextOf()
    parser.feed(html or "")
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def upgrade():
    op.create_table('work_search',
    sa.Column('work_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('collective_name', sa.String(length=120), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['work_id'], ['work.id'], name=op.f('fk_work_search_work_id_work'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('work_id', name=op.f('pk_work_search'))
    )
    bind = op.get_bind()
    for statement in SQLITE if bind.dialect.name == 'sqlite' else POSTGRESQL:
        op.execute(statement)
    # Published works enter the index now (`flask search rebuild` does the same later).
    rows = bind.execute(sa.text(
        "SELECT work.id, work.title, work.summary, work.body_html, collective.name FROM work "
        "JOIN collective ON collective.id = work.collective_id "
        "WHERE work.status = 'published' AND work.published_at IS NOT NULL"
    )).all()
    if rows:
        bind.execute(
            sa.text("INSERT INTO work_search (work_id, title, summary, collective_name, body_text) "
                    "VALUES (:work_id, :title, :summary, :collective_name, :body_text)"),
            [{"work_id": r[0], "title": r[1] or "", "summary": r[2] or "", "collective_name": r[4] or "",
              "body_text": _text(r[3])} for r in rows],
        )


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TABLE IF EXISTS work_search_fts")  # its triggers go with work_search
    op.drop_table('work_search')
