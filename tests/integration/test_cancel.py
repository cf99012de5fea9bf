"""Cancel publication on a real database: who may, what it does to the post, its outbox and its
notifications, and why it is refused once WeChat holds the submission (nothing is sent twice)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals.bootstrap import Core
from approvals.rules.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound, Text
from approvals.rules.notices import Event
from approvals.rules.states import Action, PostStatus
from approvals.views import Handoff, OutboxKind
from tests.conftest import Clock, HandedOff, Personas
from tests.integration.test_outbox import signed


def publish_intents(core: Core) -> list[int]:
    return [p.id for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]


def test_a_signed_post_waiting_for_its_time_is_cancelled_held_and_its_job_cancelled(
        core: Core, who: Personas, clock: Clock, handed_off: HandedOff) -> None:
    svc = core.service
    pid = signed(svc, who, at=clock.now + timedelta(hours=3))
    (intent,) = publish_intents(core)
    assert Action.CANCEL in svc.allowed_actions(pid, who.operator)
    handed_off.clear()
    out = svc.act(pid, "cancel", who.operator, comment="活动改期")
    assert (out.status_before, out.status_after) == (PostStatus.SIGNED, PostStatus.ON_HOLD)
    view = svc.view(pid)
    assert view.post.status is PostStatus.ON_HOLD and view.post.scheduled_at is None
    assert "何静取消了发布：活动改期" in view.post.problem.zh
    assert "cancelled publishing: 活动改期" in view.post.problem.en
    # The waiting job is cancelled after the commit, and no publish intent is left pending.
    assert handed_off.of(OutboxKind.PUBLISH) == [Handoff(OutboxKind.PUBLISH, intent, cancel=True)]
    assert publish_intents(core) == []
    assert core.publishing.claim(pid, "w1", 60, intent_id=intent).reason == \
        "the publish intent was cancelled or is done"
    last = view.timeline[-1]
    assert (last.actor, last.action, last.detail["from"], last.detail["to"]) == (
        who.operator, "post.cancel", "signed", "on_hold")
    assert last.detail["comment"] == "活动改期" and last.detail["at"] is None
    told = [n for n in svc.notifications_for(post_id=pid) if n.event is Event.ON_HOLD]
    assert {n.recipient for n in told} >= {who.drafter, who.issuer, *core.org.admins}
    assert who.operator not in {n.recipient for n in told}
    assert all("何静取消了发布：活动改期" in n.text for n in told if n.language == "zh-CN")
    assert svc.verify_audit().ok  # the cleared schedule is backed by the log
    # Published only after a new decision: the issuer signs the same revision again.
    h = view.revision.content_hash  # type: ignore[union-attr]
    assert svc.act(pid, "sign", who.issuer, revision_hash=h).status_after is PostStatus.SIGNED
    (again,) = [p for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]
    assert again.due_at == clock.now  # the old time is not silently reused
    assert svc.verify_audit().ok


def test_only_an_admin_or_the_operator_cancels_and_only_with_a_reason(
        core: Core, who: Personas) -> None:
    svc = core.service
    pid = signed(svc, who)
    for person in (who.drafter, who.head, who.issuer, who.colleague):
        assert Action.CANCEL not in svc.allowed_actions(pid, person)
        with pytest.raises(NotAllowed):
            svc.act(pid, "cancel", person, comment="不发了")
    with pytest.raises(NotFound):
        svc.act(pid, "cancel", who.stranger, comment="不发了")
    with pytest.raises(InvalidInput) as said:
        svc.act(pid, "cancel", who.admin, comment="  ")
    assert "必须填写" in said.value.message() and "needs a comment" in said.value.message("en")
    assert svc.view(pid).post.status is PostStatus.SIGNED and len(publish_intents(core)) == 1
    assert Action.CANCEL in svc.allowed_actions(pid, who.admin)


def test_a_post_not_yet_signed_has_no_publication_to_cancel(core: Core, who: Personas) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body="正文。")
    assert Action.CANCEL not in svc.allowed_actions(pid, who.admin)
    with pytest.raises(InvalidTransition):
        svc.act(pid, "cancel", who.admin, comment="不发了")


def test_a_claimed_post_not_yet_submitted_is_cancelled_and_its_worker_may_not_submit(
        core: Core, who: Personas) -> None:
    svc = core.service
    pid = signed(svc, who)
    (intent,) = publish_intents(core)
    claim = core.publishing.claim(pid, "w1", 60, intent_id=intent)
    assert claim.snapshot is not None
    h = claim.snapshot.revision_hash
    core.publishing.record_cover(pid, h, "thumb-1")  # uploads so far: WeChat holds no submission
    assert Action.CANCEL in svc.allowed_actions(pid, who.admin)
    svc.act(pid, "cancel", who.admin, comment="领导要求暂缓")
    assert svc.view(pid).post.status is PostStatus.ON_HOLD
    # The worker, still running, comes to the point of no return: it may not pass it.
    assert core.publishing.record_draft(pid, h, "draft-1", "c" * 64, submit_started=True,
                                        claimed_by="w1") is False
    ids = core.publishing.publication(pid, h)
    assert ids.submit_started_at is None and ids.draft_media_id == "draft-1"  # the draft is known
    assert core.publishing.record_clientmsgid(pid, h, "so1-0-abc", claimed_by="w1") is False
    assert core.publishing.publication(pid, h).clientmsgid is None
    assert not core.publishing.renew(pid, "w1", 60)
    assert not core.publishing.mark_published(pid, "w1", url="https://x", article_id="a")
    assert svc.view(pid).post.status is PostStatus.ON_HOLD and svc.verify_audit().ok


def test_the_worker_still_submits_while_it_holds_the_claim(core: Core, who: Personas) -> None:
    pid = signed(core.service, who)
    (intent,) = publish_intents(core)
    claim = core.publishing.claim(pid, "w1", 60, intent_id=intent)
    assert claim.snapshot is not None
    h = claim.snapshot.revision_hash
    assert core.publishing.record_draft(pid, h, "draft-1", "c" * 64, submit_started=True,
                                        claimed_by="w1") is True
    assert core.publishing.publication(pid, h).submit_started_at is not None
    assert core.publishing.record_draft(pid, h, "draft-1", "c" * 64, submit_started=True,
                                        claimed_by="w2") is False  # not w2's claim


@pytest.mark.parametrize("held", ["submit_started", "publish_id", "clientmsgid"])
def test_once_wechat_holds_the_submission_cancel_is_refused_and_says_why(
        core: Core, who: Personas, held: str) -> None:
    svc = core.service
    pid = signed(svc, who)
    (intent,) = publish_intents(core)
    claim = core.publishing.claim(pid, "w1", 60, intent_id=intent)
    assert claim.snapshot is not None
    h = claim.snapshot.revision_hash
    if held == "submit_started":
        assert core.publishing.record_draft(pid, h, "d-1", "c" * 64, submit_started=True,
                                            claimed_by="w1")
    elif held == "publish_id":
        core.publishing.record_publish_id(pid, h, "2247483649")
    else:
        assert core.publishing.record_clientmsgid(pid, h, "so1-0-abc", claimed_by="w1")
    assert Action.CANCEL not in svc.allowed_actions(pid, who.admin)
    with pytest.raises(InvalidTransition) as said:
        svc.act(pid, "cancel", who.admin, comment="不发了")
    assert "微信已收到本稿的发布提交" in said.value.message()
    assert "Deleting a published article is a separate operation" in said.value.message("en")
    if held == "publish_id":
        assert "publish_id 2247483649" in said.value.message("en")
    assert svc.view(pid).post.status is PostStatus.PUBLISHING
    # It failing afterwards does not make it cancellable: WeChat still holds it.
    assert core.publishing.mark_failed(pid, "w1", Text("失败", "failed"))
    with pytest.raises(InvalidTransition):
        svc.act(pid, "cancel", who.admin, comment="不发了")
    assert svc.view(pid).post.status is PostStatus.FAILED


def test_a_failure_wechat_never_took_can_be_cancelled_instead_of_retried(
        core: Core, who: Personas) -> None:
    svc = core.service
    pid = signed(svc, who)
    (intent,) = publish_intents(core)
    core.publishing.claim(pid, "w1", 60, intent_id=intent)
    assert core.publishing.mark_failed(pid, "w1", Text("无发布权限", "no permission"))
    assert {Action.RETRY, Action.CANCEL} <= set(svc.allowed_actions(pid, who.admin))
    svc.act(pid, "cancel", who.admin, comment="本月不再发布")
    assert svc.view(pid).post.status is PostStatus.ON_HOLD
    assert "本月不再发布" in svc.view(pid).post.problem.zh


def test_a_published_post_cannot_be_cancelled_and_is_told_where_to_delete_it(
        core: Core, who: Personas) -> None:
    svc = core.service
    pid = signed(svc, who)
    (intent,) = publish_intents(core)
    core.publishing.claim(pid, "w1", 60, intent_id=intent)
    assert core.publishing.mark_published(pid, "w1", url="https://mp.weixin.qq.com/s/x",
                                          article_id="a")
    with pytest.raises(InvalidTransition) as said:
        svc.act(pid, "cancel", who.admin, comment="撤下")
    assert "不能取消发布" in said.value.message() and "公众号后台" in said.value.message()
    assert "separate operation in the account backend" in said.value.message("en")
    assert svc.view(pid).post.status is PostStatus.PUBLISHED
