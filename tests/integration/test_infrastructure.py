"""The services the later parts stand on: the schema migrations and the Redis the tests use."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from approvals.store import db
from approvals.store.models import Base


def test_the_migrations_build_exactly_the_schema_the_models_describe(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert db.current_revision(engine) == db.head_revision(engine)


def test_upgrading_an_up_to_date_database_is_a_no_op(engine: Engine) -> None:
    before = db.current_revision(engine)
    db.upgrade(engine)
    assert db.current_revision(engine) == before


def test_the_redis_server_answers_commands_and_lua_scripts(redis_conn: object) -> None:
    # RQ's scheduler lock and unique jobs, and aiogram's event isolation, all need Lua.
    r = redis_conn
    r.set("signoff:test", "1")  # type: ignore[attr-defined]
    assert r.eval("return redis.call('INCR', KEYS[1])", 1, "signoff:test") == 2  # type: ignore[attr-defined]
