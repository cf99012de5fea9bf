"""The rows the rules read are checked against the audit log: a decision, status, clearance,
revision or publish intent written behind the application's back is caught by `audit verify`,
refused at sign-off and held at the worker's claim; the log's head can be anchored elsewhere."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from approvals.bootstrap import Core
from approvals.rules.errors import GateBlocked, InvalidInput
from approvals.rules.states import PostStatus
from approvals.services import Service
from approvals.store import audit
from approvals.store.models import AuditEntry, AuditHead
from approvals.views import RevisionInput
from tests.conftest import Personas

BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


def at_reviewer(svc: Service, who: Personas, **kw: object) -> tuple[int, str]:
    pid = svc.create_post(drafter=who.drafter, title="我局开展冬季防汛应急演练", body=BODY, **kw)  # type: ignore[arg-type]
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    svc.act(pid, "approve", who.head, revision_hash=h)
    return pid, h


def signed(svc: Service, who: Personas) -> tuple[int, str]:
    pid, h = at_reviewer(svc, who)
    svc.act(pid, "approve", who.leader, revision_hash=h)
    svc.act(pid, "sign", who.issuer, revision_hash=h)
    return pid, h


def row_problems(svc: Service) -> list[tuple[int, str]]:
    report = svc.verify_audit()
    assert report.problems == []  # the log itself is intact: only the tables were touched
    return [(pid, t.en) for pid, t in report.rows_problems]


def test_a_post_walked_through_the_application_is_backed_everywhere(
        service: Service, who: Personas) -> None:
    pid, _ = signed(service, who)
    other, h2 = at_reviewer(service, who)
    service.act(other, "request_changes", who.leader, comment="请补充时间", revision_hash=h2)
    service.act(other, "new_revision", who.operator,
                revision=RevisionInput(body=BODY + "（已补充）", body_format="text"))
    service.act(other, "withdraw", who.admin, comment="活动取消")
    assert service.verify_audit().ok
    assert [f.code for f in service.view(pid).findings] == []


def test_an_approval_inserted_into_decisions_is_refused_at_sign_off_and_named_by_verify(
        service: Service, who: Personas, engine: Engine) -> None:
    pid, h = at_reviewer(service, who)
    with engine.begin() as conn:  # the reviewer's approval, forged
        conn.execute(text(
            "INSERT INTO decisions (post_id, run, step, attempt, outcome, actor, revision_hash, "
            "comment, note, decided_on, decided_at) VALUES (:p, 1, 'reviewer', 0, 'approved', "
            ":a, :h, '', '', :d, :at)"),
            {"p": pid, "a": who.leader, "h": h, "d": date(2026, 12, 8), "at": "2026-12-08 02:00:00"})
    with pytest.raises(GateBlocked) as info:
        service.act(pid, "sign", who.issuer, revision_hash=h)
    assert "审计日志" in info.value.message("zh-CN") and "signoff audit verify" in \
        info.value.message("en")
    view = service.view(pid)
    assert view.post.status == PostStatus.IN_REVIEW
    assert view.timeline[-1].action == "gates.refused"
    assert "not_in_audit_log" in [f.code for f in view.findings]  # `post show` shows it too
    found = row_problems(service)
    assert len(found) == 1 and found[0][0] == pid
    assert "decision in the database (run 1, “supervising leader (reviewer)”, approved by" in \
        found[0][1]
    assert "not in the audit log" in found[0][1]


def test_a_status_set_by_sql_is_named_and_the_worker_holds_instead_of_publishing(
        core: Core, who: Personas, engine: Engine) -> None:
    svc = core.service
    pid, h = at_reviewer(svc, who)
    with engine.begin() as conn:
        conn.execute(text("UPDATE posts SET status = 'signed' WHERE id = :p"), {"p": pid})
        intent = conn.execute(text(
            "INSERT INTO publish_intents (post_id, kind, revision_hash, due_at, state, "
            "enqueue_count, created_at) VALUES (:p, 'publish', :h, '2026-12-08 01:00:00', "
            "'pending', 0, '2026-12-08 01:00:00') RETURNING id"), {"p": pid, "h": h}).scalar()
    found = [t for _, t in row_problems(svc)]
    assert "The post's status is “signed, queued” but the audit log says “in review”" in found[0]
    assert any("publish intent in the database (publish, revision" in t and "not in the audit log" in t
               for t in found)
    claim = core.publishing.claim(pid, "w1", 60, intent_id=intent)
    assert claim.snapshot is None and claim.held
    assert {f.code for f in claim.held} == {"not_in_audit_log", "reviewer_missing",
                                            "issuer_missing"}
    view = svc.view(pid)
    assert view.post.status == PostStatus.ON_HOLD
    assert "审计日志" in view.post.problem.zh


def test_a_changed_decision_a_deleted_one_and_an_edited_revision_are_each_named(
        service: Service, who: Personas, engine: Engine) -> None:
    pid, h = signed(service, who)
    with engine.begin() as conn:
        conn.execute(text("UPDATE decisions SET actor = 'zhou_jian' WHERE post_id = :p AND "
                          "step = 'dept_head'"), {"p": pid})
        conn.execute(text("DELETE FROM decisions WHERE post_id = :p AND step = 'drafter_confirm'"),
                     {"p": pid})
        conn.execute(text("UPDATE revisions SET body_html = '<p>改过的正文</p>' WHERE post_id = :p"),
                     {"p": pid})
    found = " | ".join(t for _, t in row_problems(service))
    assert "“drafter confirms”, approved by li_na) is missing from the database" in found
    assert "“department head”, approved by zhang_wei) is missing" in found  # the edited one…
    assert "“department head”, approved by zhou_jian) is not in the audit log" in found  # …as is
    assert f"The content of revision 1 ({h[:8]}) was changed" in found


def test_a_classification_changed_by_sql_is_refused_at_sign_off(
        service: Service, who: Personas, engine: Engine) -> None:
    # Hand-in refuses anything but proactive disclosure (art. 13): a forged row is the only way.
    pid, h = at_reviewer(service, who)
    service.act(pid, "approve", who.leader, revision_hash=h)
    with engine.begin() as conn:
        conn.execute(text("UPDATE posts SET classification = 'on_request', category = 'policy' "
                          "WHERE id = :p"), {"p": pid})
    with pytest.raises(GateBlocked) as info:
        service.act(pid, "sign", who.issuer, revision_hash=h)
    said = info.value.message("en")
    assert "classification is “disclosure on request” but the audit log says “proactive " \
        "disclosure”" in said
    assert "category is “policy interpretation” but the audit log says “work publicity”" in said
    assert "公开属性为“依申请公开”，审计日志记载为“主动公开”" in info.value.message("zh-CN")


def test_dates_the_report_counts_from_and_the_archived_mark_changed_by_sql_are_named(
        service: Service, who: Personas, engine: Engine) -> None:
    # A late post made "on time" by moving its due date, or a live one hidden from every list.
    pid, h = at_reviewer(service, who)
    service.act(pid, "approve", who.leader, revision_hash=h)
    due = service.view(pid).post.due_on
    with engine.begin() as conn:
        conn.execute(text("UPDATE posts SET due_on = '2027-06-01', formed_on = '2026-12-01', "
                          "archived = true WHERE id = :p"), {"p": pid})
    report = service.verify_audit()
    found = " ".join(t.en for _, t in report.rows_problems)
    assert not report.ok and f"due date is “2027-06-01” but the audit log says “{due.isoformat()}”" in found, found
    assert "formation date is “2026-12-01”" in found and "archived mark is “True”" in found
    with pytest.raises(GateBlocked):
        service.act(pid, "sign", who.issuer, revision_hash=h)


def test_rows_written_before_the_full_record_was_kept_still_verify(
        service: Service, who: Personas, engine: Engine) -> None:
    # Audit rows of earlier releases carried no "decision", "clearance", "intent" or "drafter":
    # strip them and re-chain, as such a log would be, and everything is still backed.
    signed(service, who)
    with Session(engine) as s, s.begin():
        prev = audit.GENESIS
        for row in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            detail = {k: v for k, v in json.loads(row.detail).items()
                      if k not in ("decision", "clearance", "intent", "drafter")}
            row.detail, row.prev_hash = audit.canonical_json(detail), prev
            row.hash = audit.row_hash(prev, row.seq, row.at, row.actor, row.post_id, row.action,
                                      row.detail)
            prev = row.hash
        s.flush()
        s.get(AuditHead, 1).hash = prev  # type: ignore[union-attr]
    assert service.verify_audit().ok


def test_the_anchor_catches_the_newest_rows_deleted_with_the_head(
        service: Service, who: Personas, engine: Engine) -> None:
    pid = service.create_post(drafter=who.drafter, title="一号稿", body=BODY)
    for _ in range(3):
        service.view(pid)
    kept = service.audit_head()
    service.act(pid, "withdraw", who.admin, comment="活动取消")
    anchor = str(service.audit_head())
    assert service.verify_audit(anchor).ok and service.verify_audit(str(kept)).ok
    with Session(engine) as s, s.begin():  # the withdrawal, its row and the head all rolled back
        s.execute(text("DELETE FROM audit_log WHERE seq > :k"), {"k": kept.seq})
        s.execute(text("UPDATE audit_head SET seq = :k, hash = :h"), {"k": kept.seq, "h": kept.hash})
        s.execute(text("UPDATE posts SET status = 'draft', archived = false WHERE id = :p"),
                  {"p": pid})
    assert service.verify_audit().ok  # consistent on its own …
    report = service.verify_audit(anchor)  # … but not with the head kept elsewhere
    assert [seq for seq, _ in report.problems] == [kept.seq + 1]
    assert "newest rows were deleted together with the head" in report.problems[0][1].en
    with pytest.raises(InvalidInput):
        service.verify_audit("12:abc")
