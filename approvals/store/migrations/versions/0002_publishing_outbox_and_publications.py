"""publishing outbox and publications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:02:45.267421
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('revision_hash', sa.String(length=64), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('thumb_media_id', sa.String(length=128), nullable=True),
    sa.Column('images', sa.Text(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=True),
    sa.Column('draft_media_id', sa.String(length=128), nullable=True),
    sa.Column('preview_url', sa.String(length=1024), nullable=True),
    sa.Column('submit_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('publish_id', sa.String(length=64), nullable=True),
    sa.Column('clientmsgid', sa.String(length=32), nullable=True),
    sa.Column('msg_id', sa.String(length=64), nullable=True),
    sa.Column('article_id', sa.String(length=128), nullable=True),
    sa.Column('article_url', sa.String(length=1024), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_publications_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publications')),
    sa.UniqueConstraint('post_id', 'revision_hash', name=op.f('uq_publications_post_id'))
    )
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publications_post_id'), ['post_id'], unique=False)

    op.create_table('publish_intents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('revision_hash', sa.String(length=64), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.String(length=80), nullable=True),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('enqueue_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_publish_intents_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publish_intents'))
    )
    with op.batch_alter_table('publish_intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publish_intents_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_publish_intents_state'), ['state'], unique=False)

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publish_mode', sa.String(length=16), nullable=False, server_default='publish'))
        batch_op.add_column(sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('article_url', sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('problem_zh', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('problem_en', sa.Text(), nullable=False, server_default=''))



def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('problem_en')
        batch_op.drop_column('problem_zh')
        batch_op.drop_column('published_at')
        batch_op.drop_column('article_url')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('scheduled_at')
        batch_op.drop_column('publish_mode')

    with op.batch_alter_table('publish_intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publish_intents_state'))
        batch_op.drop_index(batch_op.f('ix_publish_intents_post_id'))

    op.drop_table('publish_intents')
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publications_post_id'))

    op.drop_table('publications')
