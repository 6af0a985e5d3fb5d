"""captions and storyboards: a caption row per work and language; the storyboard asset role

The role's CHECK constraint is rebuilt with the new value (the enum is stored as VARCHAR + a named
CHECK, app/models.py `_enum`); SQLite rebuilds the table to change it (batch mode).

Revision ID: 69bd7d0be885
Revises: 134ee6995cd4
Create Date: 2026-12-05 23:41:17.460208

"""

from alembic import op
import sqlalchemy as sa

ROLES = ("source", "mp4_360", "mp4_720", "mp4_1080", "hls", "poster", "image")


def _role_check(roles):
    with op.batch_alter_table("media_asset", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_media_asset_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_media_asset_role"), sa.column("role").in_(roles))


# revision identifiers, used by Alembic.
revision = "69bd7d0be885"
down_revision = "134ee6995cd4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "caption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column(
            "lang",
            sa.Enum("zh-CN", "en", name="lang", native_enum=False, create_constraint=True, length=24),
            nullable=False,
        ),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("cues", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["updated_by_id"], ["user.id"], name=op.f("fk_caption_updated_by_id_user")),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], name=op.f("fk_caption_work_id_work")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caption")),
        sa.UniqueConstraint("work_id", "lang", name="uq_caption_work_lang"),
    )
    with op.batch_alter_table("caption", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_caption_work_id"), ["work_id"], unique=False)

    _role_check(ROLES + ("storyboard",))


def downgrade():
    op.execute("DELETE FROM media_asset WHERE role = 'storyboard'")
    _role_check(ROLES)
    with op.batch_alter_table("caption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_caption_work_id"))

    op.drop_table("caption")
