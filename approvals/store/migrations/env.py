"""Alembic environment: runs migrations on the engine handed in by approvals.store.db."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from approvals.store.db import create_db_engine
from approvals.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on the engine in config.attributes (or SIGNOFF settings' database)."""
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        from approvals.config.settings import load_settings

        engine = create_db_engine(load_settings().database_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
