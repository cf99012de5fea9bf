"""the language a person's chat app reports, for what they are told until they choose one

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chat_links') as batch:
        batch.add_column(sa.Column('app_language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chat_links') as batch:
        batch.drop_column('app_language')
