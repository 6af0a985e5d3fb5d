"""vote flags, the likes' time index, views per day

Revision ID: 3e5f8a1c2d90
Revises: bf083814fd31
Create Date: 2026-12-01 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '3e5f8a1c2d90'
down_revision = 'bf083814fd31'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('vote_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'dismissed', 'voided', name='flag_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_vote_flag_decided_by_id_user')),
    sa.ForeignKeyConstraint(['work_id'], ['work.id'], name=op.f('fk_vote_flag_work_id_work')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vote_flag'))
    )
    with op.batch_alter_table('vote_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vote_flag_work_id'), ['work_id'], unique=False)
        batch_op.create_index('ix_vote_flag_status_score', ['status', 'score'], unique=False)
    with op.batch_alter_table('like', schema=None) as batch_op:
        batch_op.create_index('ix_like_created_at', ['created_at'], unique=False)
    op.create_table('view_day',
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['work_id'], ['work.id'], name=op.f('fk_view_day_work_id_work')),
    sa.PrimaryKeyConstraint('work_id', 'day', name=op.f('pk_view_day'))
    )
    with op.batch_alter_table('view_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_view_day_day'), ['day'], unique=False)


def downgrade():
    with op.batch_alter_table('view_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_view_day_day'))
    op.drop_table('view_day')
    with op.batch_alter_table('like', schema=None) as batch_op:
        batch_op.drop_index('ix_like_created_at')
    with op.batch_alter_table('vote_flag', schema=None) as batch_op:
        batch_op.drop_index('ix_vote_flag_status_score')
        batch_op.drop_index(batch_op.f('ix_vote_flag_work_id'))
    op.drop_table('vote_flag')
