"""vote integrity cohorts: registration address, likes by time per work, one open flag per work,
detector passes

Revision ID: 134ee6995cd4
Revises: e1f2a3b4c5d6
Create Date: 2026-12-05 17:25:06.241672

"""
from alembic import op
import sqlalchemy as sa


revision = '134ee6995cd4'
down_revision = 'e1f2a3b4c5d6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('integrity_pass',
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_integrity_pass'))
    )
    with op.batch_alter_table('like', schema=None) as batch_op:
        # (work_id, created_at) serves everything ix_like_work_id did, and one work's window too.
        batch_op.create_index('ix_like_work_id_created_at', ['work_id', 'created_at'], unique=False)
        batch_op.drop_index(batch_op.f('ix_like_work_id'))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registration_ip', sa.String(length=45), nullable=True))

    # Before this revision two detector processes could each open a flag for one work; the
    # newest stays open, so the unique index below can be built.
    op.execute(
        "UPDATE vote_flag SET status = 'dismissed' WHERE status = 'open' AND id NOT IN "
        "(SELECT max(id) FROM vote_flag WHERE status = 'open' GROUP BY work_id)"
    )
    with op.batch_alter_table('vote_flag', schema=None) as batch_op:
        batch_op.create_index('uq_vote_flag_open_work', ['work_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))


def downgrade():
    with op.batch_alter_table('vote_flag', schema=None) as batch_op:
        batch_op.drop_index('uq_vote_flag_open_work', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('registration_ip')

    with op.batch_alter_table('like', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_like_work_id'), ['work_id'], unique=False)
        batch_op.drop_index('ix_like_work_id_created_at')

    op.drop_table('integrity_pass')
