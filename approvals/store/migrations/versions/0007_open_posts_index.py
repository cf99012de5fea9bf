"""a partial index of the open (not archived) posts, for the console's queue

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_posts_open', 'posts', ['id'], unique=False,
                    postgresql_where=sa.text('NOT archived'), sqlite_where=sa.text('NOT archived'))


def downgrade() -> None:
    op.drop_index('ix_posts_open', table_name='posts')
