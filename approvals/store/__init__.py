"""Storage: SQLAlchemy models, engine and session set-up, the audit chain, Alembic migrations."""
