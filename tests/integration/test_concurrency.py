"""Two people acting on the same step at the same moment: exactly one wins, the other is told."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from approvals.rules.errors import AlreadyDecided, SignoffError
from approvals.services import Service
from approvals.store import models as m
from tests.conftest import Personas


def at_reviewer(svc: Service, who: Personas) -> tuple[int, str]:
    pid = svc.create_post(drafter=who.drafter, title="并发审核测试", body="正文内容")
    svc.act(pid, "new_revision", who.operator)
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    svc.act(pid, "approve", who.head, revision_hash=h)
    return pid, h


def race(calls: list[Callable[[], object]]) -> list[object]:
    """Start every call at the same moment on its own thread; return results or exceptions."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait(10)
        try:
            results[i] = calls[i]()
        except SignoffError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def reviewer_decisions(svc: Service, pid: int) -> int:
    with svc.deps.sessions() as s:
        return s.scalar(select(func.count()).select_from(m.Decision).where(
            m.Decision.post_id == pid, m.Decision.step == "reviewer")) or 0


def test_a_leader_and_his_deputy_deciding_at_once_one_wins_the_other_hears_already_decided(
        service: Service, who: Personas) -> None:
    for _ in range(5):
        pid, h = at_reviewer(service, who)
        results = race([
            lambda pid=pid, h=h: service.act(pid, "approve", who.leader, revision_hash=h),
            lambda pid=pid, h=h: service.act(pid, "approve", who.deputy, revision_hash=h),
        ])
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1, results
        assert isinstance(errors[0], AlreadyDecided)
        assert reviewer_decisions(service, pid) == 1
    assert service.verify_audit().ok


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_on_postgresql_both_read_before_either_writes_and_still_only_one_wins(
        service: Service, who: Personas, engine: Engine) -> None:
    # Hold every transaction at its conditional UPDATE until both have read the same version:
    # the interleaving where a check-then-write without the version condition would let both in.
    pid, h = at_reviewer(service, who)
    gate = threading.Barrier(2)

    def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE POSTS"):
            gate.wait(10)

    event.listen(engine, "before_cursor_execute", hold)
    try:
        results = race([
            lambda: service.act(pid, "approve", who.leader, revision_hash=h),
            lambda: service.act(pid, "approve", who.leader, revision_hash=h),
        ])
    finally:
        event.remove(engine, "before_cursor_execute", hold)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], AlreadyDecided), results
    assert "刷新" in errors[0].message("zh-CN")
    assert reviewer_decisions(service, pid) == 1
    assert service.view(pid).post.version == 4
    assert service.verify_audit().ok


def test_many_posts_decided_in_parallel_keep_one_unbroken_audit_chain(
        service: Service, who: Personas) -> None:
    posts = [at_reviewer(service, who) for _ in range(6)]
    results = race([lambda p=p, h=h: service.act(p, "approve", who.leader, revision_hash=h)
                    for p, h in posts])
    assert not [r for r in results if isinstance(r, Exception)]
    report = service.verify_audit()
    assert report.ok and report.rows == 6 * 4 + 6
