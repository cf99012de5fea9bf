"""The services the later parts stand on: the schema migrations and the Redis the tests use."""

from __future__ import annotations

import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

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


@pytest.mark.parametrize("foreign", ["9999", "ae1027a6acf"])  # a newer release's, another app's
def test_a_schema_revision_this_code_does_not_know_is_named_not_upgraded(
        engine: Engine, foreign: str) -> None:
    from approvals.rules.errors import ConfigError

    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": foreign})
    try:
        for step in (db.require_current_schema, db.upgrade):
            with pytest.raises(ConfigError) as info:
                step(engine)
            assert f"{foreign}，本程序的迁移中没有这个版本" in info.value.message("zh-CN")
            assert "SIGNOFF_DATABASE_URL" in info.value.message("en")
        assert db.current_revision(engine) == foreign  # nothing was touched
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"),
                         {"v": db.head_revision(engine)})


def test_the_redis_server_answers_commands_and_lua_scripts(redis_conn: object) -> None:
    # RQ's scheduler lock and unique jobs, and aiogram's event isolation, all need Lua.
    r = redis_conn
    r.set("signoff:test", "1")  # type: ignore[attr-defined]
    assert r.eval("return redis.call('INCR', KEYS[1])", 1, "signoff:test") == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_pooled_connection_the_server_closed_is_replaced_and_a_busy_one_is_not_pinged(
        engine: Engine) -> None:
    pings: list[object] = []
    own = db.create_db_engine(engine.url.render_as_string(hide_password=False))
    ping = own.dialect.do_ping
    own.dialect.do_ping = lambda conn: pings.append(conn) or ping(conn)  # type: ignore[method-assign]
    try:
        with own.connect() as conn:
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        for _ in range(20):  # in use all the time: no round trip before each use
            with own.connect() as conn:
                conn.execute(text("SELECT 2"))
        assert pings == []
        with engine.connect() as conn:  # the server ends it (a restart, an idle timeout)
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": backend})
            conn.commit()
        time.sleep(0.2)
        with own.connect() as conn:  # handed out is a new connection, not the closed one
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != backend
    finally:
        own.dispose()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_pooled_connection_unused_for_a_while_is_pinged_before_use(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[object] = []
    own = db.create_db_engine(engine.url.render_as_string(hide_password=False))
    ping = own.dialect.do_ping
    own.dialect.do_ping = lambda conn: pings.append(conn) or ping(conn)  # type: ignore[method-assign]
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    try:
        for _ in range(3):
            with own.connect() as conn:
                conn.execute(text("SELECT 2"))
        assert len(pings) == 2  # not the new connection; each later checkout
    finally:
        own.dispose()
