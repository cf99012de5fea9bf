"""The lookup indexes of migration 0010: in the migrated schema, used by the queries they serve
(each backend's own query plan says so), and gone again after a downgrade."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text

from approvals.store import db
from approvals.store import models as m

# index -> (table, column): what migration 0010 adds
LOOKUP_INDEXES = {
    "ix_decisions_decided_at": ("decisions", "decided_at"),
    "ix_publications_publish_id": ("publications", "publish_id"),
    "ix_publications_msg_id": ("publications", "msg_id"),
    "ix_notifications_audit_seq": ("notifications", "audit_seq"),
}
PUBS, DEC, NOTES = m.Publication.__table__, m.Decision.__table__, m.Notification.__table__


def _indexes(engine: Engine) -> dict[str, tuple[str, list[str]]]:
    found = inspect(engine)
    return {ix["name"]: (table, list(ix["column_names"]))
            for table in {t for t, _ in LOOKUP_INDEXES.values()}
            for ix in found.get_indexes(table)}


def _plan(engine: Engine, query: object) -> str:
    """The backend's own plan of `query` (PostgreSQL told not to scan a table it can avoid)."""
    with engine.begin() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":
            # The test tables are nearly empty: a scan would be cheapest whatever the indexes.
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            rows = conn.execute(text(f"EXPLAIN {compiled}")).scalars()
        else:
            rows = (r[-1] for r in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        return "\n".join(rows)


def test_the_migrated_schema_has_the_lookup_indexes(engine: Engine) -> None:
    indexes = _indexes(engine)
    for name, (table, column) in LOOKUP_INDEXES.items():
        assert indexes.get(name) == (table, [column]), name


@pytest.mark.parametrize(("name", "query"), [
    # WeChat's callback: the publication a PUBLISHJOBFINISH / MASSSENDJOBFINISH event names
    ("ix_publications_publish_id", select(PUBS.c.post_id).where(PUBS.c.publish_id == "2247483651")),
    ("ix_publications_msg_id", select(PUBS.c.post_id).where(PUBS.c.msg_id == "1000000001")),
    # the reports' time per step: the posts with a decision in the year
    ("ix_decisions_decided_at", select(DEC.c.post_id).where(
        DEC.c.decided_at >= datetime(2026, 1, 1, tzinfo=UTC),
        DEC.c.decided_at < datetime(2027, 1, 1, tzinfo=UTC)).distinct()),
    # the reminder pass: what was already sent for the audit rows that opened the steps
    ("ix_notifications_audit_seq", select(NOTES.c.key).where(NOTES.c.audit_seq.in_([3, 5, 8]))),
])
def test_each_lookup_is_planned_through_its_index(engine: Engine, name: str, query: object) -> None:
    assert name in _plan(engine, query)


def test_the_migration_downgrades_and_upgrades_cleanly(engine: Engine) -> None:
    try:
        command.downgrade(db.alembic_config(engine), "0009")
        assert db.current_revision(engine) == "0009"
        assert not set(LOOKUP_INDEXES) & set(_indexes(engine))
    finally:
        db.upgrade(engine)  # the PostgreSQL database is shared by the whole session
    assert db.current_revision(engine) == db.head_revision(engine)
    assert set(LOOKUP_INDEXES) <= set(_indexes(engine))
