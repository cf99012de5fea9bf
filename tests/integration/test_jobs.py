"""The jobs page's use cases on a real database: the overview of publishing and notification
work, sending a failed notification again and re-dispatching work, for admins and the operator
only."""

from __future__ import annotations

import pytest

from approvals import present
from approvals.bootstrap import Core
from approvals.rules.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound, Text
from approvals.rules.notices import Event
from approvals.rules.states import Action, PostStatus
from approvals.views import DeliveryState, Handoff, OutboxKind, Permanent
from tests.conftest import ZONE, HandedOff, Personas
from tests.integration.test_outbox import FakeChannel, pending_notice, signed


def failed_post(core: Core, who: Personas) -> int:
    pid = signed(core.service, who)
    (intent,) = [p.id for p in core.publishing.pending()
                 if p.kind is OutboxKind.PUBLISH and p.post_id == pid]
    claim = core.publishing.claim(pid, "w1", 60, intent_id=intent)
    assert claim.snapshot is not None
    core.publishing.record_error(pid, claim.snapshot.revision_hash, "errcode 48001")
    assert core.publishing.mark_failed(pid, "w1", Text("无发布权限（错误码 48001）",
                                                       "no permission (errcode 48001)"))
    return pid


def test_the_overview_shows_the_work_and_what_each_person_may_do_to_it(
        core: Core, who: Personas) -> None:
    svc = core.service
    waiting, failed = signed(svc, who), failed_post(core, who)
    over = svc.jobs_overview(who.admin)
    rows = {w.post_id: w for w in over.publishing}
    assert set(rows) == {waiting, failed} and not over.queue_known
    assert rows[waiting].status is PostStatus.SIGNED and rows[waiting].intent_id is not None
    assert rows[waiting].offered == (Action.CANCEL,) and not rows[waiting].redispatch
    assert rows[failed].status is PostStatus.FAILED and rows[failed].intent_id is None
    assert rows[failed].offered == (Action.RETRY, Action.CANCEL)
    assert rows[failed].last_error == "errcode 48001" and "48001" in rows[failed].problem.zh
    operator = {w.post_id: w for w in svc.jobs_overview(who.operator).publishing}
    assert operator[failed].offered == (Action.CANCEL,)  # retrying is an admin's action
    assert {n.post_id for n in over.notifications} == {waiting, failed}  # none delivered yet
    assert all(n.state is DeliveryState.PENDING for n in over.notifications)
    for person in (who.drafter, who.issuer, who.colleague):
        assert not svc.may_run_jobs(person)
        with pytest.raises(NotAllowed):
            svc.jobs_overview(person)
    with pytest.raises(NotFound):
        svc.jobs_overview(who.stranger)
    assert svc.may_run_jobs(who.admin) and svc.may_run_jobs("何静")


def test_a_failed_notification_is_sent_again_with_fresh_attempts(
        core: Core, who: Personas, handed_off: HandedOff) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body="正文。")
    svc.act(pid, "new_revision", who.operator)
    nid = pending_notice(core, pid, who.drafter, Event.STEP_OPENED)
    with pytest.raises(InvalidTransition):
        svc.retry_notification(nid, who.admin)  # it did not fail
    core.notifications.deliver(nid, {"log": FakeChannel([Permanent("chat blocked the bot")])})
    (failed,) = [n for n in svc.jobs_overview(who.operator).notifications if n.id == nid]
    assert failed.state is DeliveryState.FAILED and failed.retry
    assert failed.last_error == "chat blocked the bot"
    with pytest.raises(NotAllowed):
        svc.retry_notification(nid, who.drafter)
    handed_off.clear()
    svc.retry_notification(nid, who.operator)
    (row,) = [n for n in svc.notifications_for(post_id=pid) if n.id == nid]
    assert row.state is DeliveryState.PENDING and row.attempts == 0
    assert handed_off == [Handoff(OutboxKind.NOTIFY, nid)]
    assert core.notifications.deliver(nid, {"log": FakeChannel()}) == "delivered"
    view = svc.view(pid)
    assert view.timeline[-1].action == "notification.retry"
    assert "重发失败的通知" in present.post_view(view, core.org, ZONE, "zh-CN")
    with pytest.raises(NotFound):
        svc.retry_notification(10**30, who.admin)
    assert svc.verify_audit().ok


def test_pending_work_is_dispatched_again_and_finished_work_is_not(
        core: Core, who: Personas, handed_off: HandedOff) -> None:
    svc = core.service
    pid = signed(svc, who)
    (intent,) = [p.id for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]
    handed_off.clear()
    svc.redispatch("publish", intent, who.admin)
    assert handed_off == [Handoff(OutboxKind.PUBLISH, intent)]
    assert svc.view(pid).timeline[-1].action == "outbox.redispatch"
    with pytest.raises(InvalidInput):
        svc.redispatch("everything", intent, who.admin)
    with pytest.raises(NotFound):
        svc.redispatch("preview", intent, who.admin)  # not a preview intent
    with pytest.raises(NotAllowed):
        svc.redispatch("publish", intent, who.drafter)
    svc.act(pid, "cancel", who.admin, comment="不发了")
    with pytest.raises(InvalidTransition):
        svc.redispatch("publish", intent, who.admin)
    with pytest.raises(NotFound):
        svc.retry_job("no-such-job", who.admin)
    assert svc.verify_audit().ok
