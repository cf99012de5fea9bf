"""indexes for lookups that read whole tables: decisions by time, publications by WeChat's ids,
notifications by the audit row that caused them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_decisions_decided_at'), 'decisions', ['decided_at'], unique=False)
    op.create_index(op.f('ix_publications_publish_id'), 'publications', ['publish_id'], unique=False)
    op.create_index(op.f('ix_publications_msg_id'), 'publications', ['msg_id'], unique=False)
    op.create_index(op.f('ix_notifications_audit_seq'), 'notifications', ['audit_seq'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_notifications_audit_seq'), table_name='notifications')
    op.drop_index(op.f('ix_publications_msg_id'), table_name='publications')
    op.drop_index(op.f('ix_publications_publish_id'), table_name='publications')
    op.drop_index(op.f('ix_decisions_decided_at'), table_name='decisions')
