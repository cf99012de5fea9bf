"""The audit log is append-only and hash-chained; verify names an edited, inserted or deleted row."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from approvals.services import Service
from approvals.store import audit
from approvals.store.models import AuditEntry
from approvals.views import RevisionInput
from tests.conftest import Personas


def busy_log(svc: Service, who: Personas) -> None:
    """A few posts' worth of history: 8 rows."""
    for title in ("一号稿", "二号稿"):
        pid = svc.create_post(drafter=who.drafter, title=title, body="正文内容")
        svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
        h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
        svc.act(pid, "confirm", who.drafter, revision_hash=h)
        svc.act(pid, "approve", who.head, revision_hash=h)


def problems(svc: Service) -> list[tuple[int, str]]:
    return [(seq, t.en) for seq, t in svc.verify_audit().problems]


def test_a_clean_log_verifies(service: Service, who: Personas) -> None:
    busy_log(service, who)
    report = service.verify_audit()
    assert report.ok and report.rows == 8 and len(report.head_hash) == 64


def test_a_direct_sql_edit_is_named_by_row(service: Service, who: Personas,
                                           engine: Engine) -> None:
    busy_log(service, who)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'wang_min' WHERE seq = 4"))
    assert problems(service) == [(4, "row 4 was edited (its content no longer matches its hash)")]


def test_an_edit_that_also_rewrites_the_rows_hash_breaks_the_next_link(
        service: Service, who: Personas, engine: Engine) -> None:
    busy_log(service, who)
    with Session(engine) as s, s.begin():
        row = s.get(AuditEntry, 3)
        row.detail = row.detail.replace("approved", "rejected")
        row.hash = audit.row_hash(row.prev_hash, 3, row.at, row.actor, row.post_id, row.action,
                                  row.detail)
    assert [seq for seq, _ in problems(service)] == [4]
    assert "no longer links" in problems(service)[0][1]


def test_a_deleted_row_is_named(service: Service, who: Personas, engine: Engine) -> None:
    busy_log(service, who)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    found = problems(service)
    assert found[0] == (6, "rows 5–5 are missing (deleted)")
    assert {seq for seq, _ in found} == {6}


def test_deleting_the_last_rows_is_noticed_through_the_chain_head(
        service: Service, who: Personas, engine: Engine) -> None:
    busy_log(service, who)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 7"))
    assert problems(service) == [(8, "the last rows 7–8 are missing (deleted)")]


def test_an_inserted_row_is_named(service: Service, who: Personas, engine: Engine) -> None:
    busy_log(service, who)
    with Session(engine) as s, s.begin():
        last = s.get(AuditEntry, 8)
        at = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
        s.add(AuditEntry(seq=9, at=at, actor="mallory", post_id=None, action="post.sign",
                         detail="{}", prev_hash=last.hash,
                         hash=audit.row_hash(last.hash, 9, at, "mallory", None, "post.sign",
                                             "{}")))
    assert [seq for seq, _ in problems(service)] == [9]


def test_appends_keep_the_chain_whole_across_many_posts(service: Service, who: Personas) -> None:
    for i in range(15):
        service.create_post(drafter=who.drafter, title=f"稿件{i}", body="正文")
    report = service.verify_audit()
    assert report.ok and report.rows == 15


def test_a_deleted_chain_head_is_reported(service: Service, who: Personas, engine: Engine) -> None:
    busy_log(service, who)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_head"))
    assert problems(service) == [(8, "the chain head row is missing (deleted)")]


@given(seq=st.integers(1, 2**62), at=st.datetimes(timezones=st.just(UTC)), actor=st.text(),
       post_id=st.none() | st.integers(-(2**31), 2**31 - 1), action=st.text(),
       detail=st.dictionaries(st.text(), st.text() | st.integers() | st.none()),
       prev=st.text("0123456789abcdef", min_size=64, max_size=64))
def test_the_hashed_text_put_together_around_seq_and_the_previous_hash_is_what_is_hashed(
        seq: int, at: datetime, actor: str, post_id: int | None, action: str,
        detail: dict[str, object], prev: str) -> None:
    # PostgreSQL appends in one statement, hashing this text with the head it has just locked.
    text_ = audit.canonical_json(detail)
    put_together = audit.hashed_text(seq, at, actor, post_id, action, text_, prev)
    assert hashlib.sha256(put_together.encode()).hexdigest() == audit.row_hash(
        prev, seq, at, actor, post_id, action, text_)


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_on_postgresql_appends_from_many_connections_at_once_keep_one_chain(
        engine: Engine) -> None:
    sessions = sessionmaker(engine)
    start = threading.Barrier(6)

    def appender(n: int) -> None:
        start.wait(10)
        for i in range(10):
            with sessions() as s, s.begin():
                audit.append(s, actor="li_na", action="post.confirm", post_id=None,
                             at=datetime.now(UTC), detail={"n": n, "i": i, "text": "中文“引号”\\\"\n"})

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with sessions() as s:
        report = audit.verify(s)
        assert report.ok and report.rows == 60, report.problems
        assert audit.anchor(s).seq == 60
