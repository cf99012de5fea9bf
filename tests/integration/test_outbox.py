"""The outboxes on a real database: what each commit hands to the queue, the notifications it
writes in the same transaction, their delivery, scheduling, and the worker's bookkeeping."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from approvals.bootstrap import Core, bootstrap
from approvals.config.settings import Settings
from approvals.rules.errors import (
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleRevision,
    Text,
)
from approvals.rules.notices import Event
from approvals.rules.org import OrgChart
from approvals.rules.states import Action, PostStatus, PublishMode
from approvals.services import Service
from approvals.services.notifications import MAX_ATTEMPTS
from approvals.store import models as m
from approvals.views import (
    Delivered,
    Delivery,
    DeliveryState,
    Handoff,
    Message,
    OutboxKind,
    Permanent,
    RetryAfter,
    RevisionInput,
    ScheduleInput,
)
from tests.conftest import EXAMPLE_ORG, Clock, HandedOff, Personas

BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


@dataclass
class FakeChannel:
    """A channel at the edge of the world: answers as told and remembers what it was handed."""

    answers: list[Delivery] = field(default_factory=list)
    name: str = "log"
    seen: list[Message] = field(default_factory=list)

    def deliver(self, message: Message) -> Delivery:
        self.seen.append(message)
        answer = self.answers.pop(0) if self.answers else Delivered("m1")
        if isinstance(answer, Exception):
            raise answer
        return answer


def signed(svc: Service, who: Personas, **kw: object) -> int:
    pid = svc.create_post(drafter=who.drafter, title="我局开展冬季防汛应急演练", body=BODY)
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
    if kw:
        svc.act(pid, "schedule", who.admin, schedule=ScheduleInput(**kw))  # type: ignore[arg-type]
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    for action, person in [("confirm", who.drafter), ("approve", who.head),
                           ("approve", who.leader), ("sign", who.issuer)]:
        svc.act(pid, action, person, revision_hash=h)
    return pid


def pending_notice(core: Core, post_id: int, recipient: str, event: Event) -> int:
    (n,) = [n for n in core.service.notifications_for(post_id=post_id)
            if n.recipient == recipient and n.event is event]
    return n.id


# --- the hand-off -------------------------------------------------------------------------------


def test_each_commit_hands_its_new_outbox_items_to_the_queue(
        service: Service, who: Personas, handed_off: HandedOff) -> None:
    pid = service.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    assert handed_off == []  # handing in tells nobody yet and queues nothing
    service.act(pid, "new_revision", who.operator)
    assert [h.kind for h in handed_off] == [OutboxKind.PREVIEW, OutboxKind.NOTIFY]
    rows = service.notifications_for(post_id=pid)
    assert [(n.recipient, n.event) for n in rows] == [(who.drafter, Event.STEP_OPENED)]
    assert handed_off.of(OutboxKind.NOTIFY) == [Handoff(OutboxKind.NOTIFY, rows[0].id)]


def test_a_refused_action_writes_and_hands_off_nothing(
        service: Service, who: Personas, handed_off: HandedOff) -> None:
    pid = service.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    service.act(pid, "new_revision", who.operator)
    first = service.view(pid).revision
    assert first is not None
    older = first.content_hash
    service.act(pid, "new_revision", who.operator, revision=RevisionInput(title="测试稿（二）"))
    before = (list(handed_off), service.notifications_for(post_id=pid))
    with pytest.raises(StaleRevision):
        service.act(pid, "confirm", who.drafter, revision_hash=older)
    assert (list(handed_off), service.notifications_for(post_id=pid)) == before


def test_a_failing_hand_off_never_undoes_the_commit(
        engine: Engine, org: OrgChart, clock: Clock, who: Personas,
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(items: object) -> None:
        raise ConnectionError("Redis is down")

    core = bootstrap(Settings(org_file=EXAMPLE_ORG), engine=engine, org=org, clock=clock,
                     enqueue=lambda _core: broken)
    pid = core.service.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    out = core.service.act(pid, "new_revision", who.operator)
    assert out.status_after is PostStatus.IN_REVIEW
    assert core.service.view(pid).post.status is PostStatus.IN_REVIEW
    assert [p.kind for p in core.publishing.pending()] == [OutboxKind.PREVIEW]  # for the reconciler
    assert len(core.notifications.pending()) == 1
    assert any("the reconciler will enqueue them" in r.getMessage() for r in caplog.records)


# --- scheduling as an action ----------------------------------------------------------------------


def test_rescheduling_a_signed_post_replaces_its_publish_intent_and_cancels_the_old_job(
        core: Core, who: Personas, handed_off: HandedOff, clock: Clock) -> None:
    svc = core.service
    pid = signed(svc, who, at=clock.now + timedelta(hours=2))
    (first,) = [p for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]
    assert first.due_at == clock.now + timedelta(hours=2)
    handed_off.clear()
    out = svc.act(pid, "schedule", who.operator,
                  schedule=ScheduleInput(clock.now + timedelta(hours=5), "mass_send"))
    assert out.status_after is PostStatus.SIGNED and out.publish_mode is PublishMode.MASS_SEND
    (second,) = [p for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]
    assert second.due_at == clock.now + timedelta(hours=5) and second.id != first.id
    assert handed_off.of(OutboxKind.PUBLISH) == [Handoff(OutboxKind.PUBLISH, first.id, cancel=True),
                                                 Handoff(OutboxKind.PUBLISH, second.id)]
    post = svc.view(pid).post
    assert post.publish_mode is PublishMode.MASS_SEND and post.scheduled_at == second.due_at
    assert svc.view(pid).timeline[-1].action == "post.schedule"


def test_scheduling_before_the_sign_off_sets_the_time_the_sign_off_uses(
        core: Core, who: Personas, clock: Clock) -> None:
    at = clock.now + timedelta(days=1)
    signed(core.service, who, at=at)
    (intent,) = [p for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]
    assert intent.due_at == at


def test_nobody_but_an_admin_or_the_operator_schedules(service: Service, who: Personas) -> None:
    pid = service.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    for person in (who.drafter, who.head, who.issuer, who.colleague):
        with pytest.raises(NotAllowed):
            service.act(pid, "schedule", person, schedule=ScheduleInput())
    with pytest.raises(NotFound):
        service.act(pid, "schedule", who.stranger, schedule=ScheduleInput())
    assert Action.SCHEDULE in service.allowed_actions(pid, who.admin)
    assert Action.SCHEDULE in service.allowed_actions(pid, who.operator)
    assert Action.SCHEDULE not in service.allowed_actions(pid, who.drafter)


# --- notifications: written with the change ------------------------------------------------------


def test_every_notification_carries_its_causes_audit_row_and_an_idempotency_key(
        core: Core, who: Personas) -> None:
    pid = signed(core.service, who)
    rows = core.service.notifications_for(post_id=pid)
    timeline = {e.seq: e for e in core.service.view(pid).timeline}
    assert len({n.key for n in rows}) == len(rows)
    with core.deps.sessions() as s:
        seqs = dict(s.execute(select(m.Notification.id, m.Notification.audit_seq)).all())
    for n in rows:
        assert timeline[seqs[n.id]].action.startswith("post.")
        assert n.key.startswith(f"p{pid}-a{seqs[n.id]}-{n.event.value}-{n.recipient}-")
    # Each step that opened told its holder, in their own language (郭强 would read English).
    opened = [(n.recipient, n.text[:6]) for n in rows if n.event is Event.STEP_OPENED]
    assert [r for r, _ in opened] == [who.drafter, who.head, who.leader, who.deputy, who.issuer]
    assert all(text.startswith("【待您办理】") for _, text in opened)


def test_a_notification_is_written_in_the_recipients_language(core: Core, who: Personas) -> None:
    pid = core.service.create_post(drafter="guo_qiang", title="关于设立咨询专线的通知", body=BODY)
    core.service.act(pid, "new_revision", who.operator)
    (n,) = core.service.notifications_for(post_id=pid)
    assert n.recipient == "guo_qiang" and n.language == "en"
    assert n.text.startswith("[waiting for you] post #") and "drafter confirms" in n.text


def test_every_approver_is_told_the_findings_before_deciding(core: Core, who: Personas) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="寻亲启事", body=BODY)
    # 18 digits with a right check digit for a real-shaped date: personal data (art. 16).
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput(
        body="寻找张某，身份证号 11010519491231002X，请知情人联系。", body_format="text"))
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    told = [n.text for n in svc.notifications_for(post_id=pid)
            if n.event is Event.STEP_OPENED and n.recipient == who.head]
    assert len(told) == 1 and "审查提示" in told[0] and "第十六条" in told[0]
    assert "11010519491231002X" not in told[0]

    classified = svc.create_post(drafter=who.drafter, title="演练方案", body=BODY)
    svc.act(classified, "new_revision", who.operator, revision=RevisionInput(
        body="秘密★1年\n" + BODY, body_format="text"))
    (n,) = [n for n in svc.notifications_for(post_id=classified) if n.recipient == who.drafter]
    assert "秘密★1年" in n.text and "不能确认或同意，请退回修改" in n.text
    assert "。；" not in n.text


def test_the_admins_are_told_what_is_missing_when_a_step_has_no_one(
        engine: Engine, org: OrgChart, clock: Clock, who: Personas) -> None:
    one = replace(org, chain=replace(org.chain, fallback=("zhou_jian",)))
    svc = bootstrap(Settings(org_file=EXAMPLE_ORG), engine=engine, org=one, clock=clock).service
    pid = svc.create_post(drafter="liu_yang", title="普法宣传周活动", body=BODY)  # 法宣科 head
    svc.act(pid, "new_revision", who.operator)
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    for action, person in [("confirm", "liu_yang"), ("approve", "zhou_jian"),
                           ("approve", "wang_min")]:
        svc.act(pid, action, person, revision_hash=h)
    told = [n for n in svc.notifications_for(post_id=pid) if n.event is Event.NO_ONE_FOR_STEP]
    assert {n.recipient for n in told} == set(one.admins)
    assert all("备选人员（周建）也都已参与本稿" in n.text for n in told), told


def test_a_person_no_channel_reaches_gets_a_visible_row_not_silence(
        engine: Engine, org: OrgChart, clock: Clock, who: Personas) -> None:
    core = bootstrap(Settings(org_file=EXAMPLE_ORG), engine=engine, org=org, clock=clock)
    core.deps.channels = ()  # no channel switched on reaches anybody
    pid = core.service.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    core.service.act(pid, "new_revision", who.operator)
    (n,) = core.service.notifications_for(post_id=pid)
    assert n.state is DeliveryState.NO_CHANNEL and n.channel == ""
    assert core.notifications.pending() == []


# --- notifications: delivery through the port ----------------------------------------------------


def test_delivery_records_the_answer_and_a_second_job_sends_nothing_more(
        core: Core, who: Personas) -> None:
    pid = core.service.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    core.service.act(pid, "new_revision", who.operator)
    nid = pending_notice(core, pid, who.drafter, Event.STEP_OPENED)
    channel = FakeChannel()
    assert core.notifications.deliver(nid, {"log": channel}) == "delivered"
    assert core.notifications.deliver(nid, {"log": channel}) == "skipped (delivered)"
    (message,) = channel.seen
    assert message.person.key == who.drafter and message.attempt == 1 and message.key
    (row,) = core.service.notifications_for(post_id=pid)
    assert row.state is DeliveryState.DELIVERED and row.delivered_at is not None


def test_retry_after_waits_at_least_as_long_as_the_channel_asked_and_is_handed_off_again(
        core: Core, who: Personas, clock: Clock, handed_off: HandedOff) -> None:
    pid = core.service.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    core.service.act(pid, "new_revision", who.operator)
    nid = pending_notice(core, pid, who.drafter, Event.STEP_OPENED)
    channel = FakeChannel([RetryAfter(30, "429 Too Many Requests"), ConnectionError("reset")])
    handed_off.clear()
    assert core.notifications.deliver(nid, {"log": channel}).startswith("retry in 30 s")
    (row,) = core.service.notifications_for(post_id=pid)
    assert row.state is DeliveryState.PENDING and row.attempts == 1
    assert row.due_at == clock.now + timedelta(seconds=30) and "429" in row.last_error
    assert handed_off == [Handoff(OutboxKind.NOTIFY, nid)]  # to be scheduled at due_at
    assert core.notifications.deliver(nid, {"log": channel}).startswith("skipped (not due")
    clock.advance(seconds=30)
    assert core.notifications.deliver(nid, {"log": channel}).startswith("retry")  # it raised
    clock.advance(seconds=30)
    assert core.notifications.deliver(nid, {"log": channel}) == "delivered"
    assert [m.attempt for m in channel.seen] == [1, 2, 3]


def test_a_permanent_refusal_or_too_many_attempts_fail_the_notification_for_a_person(
        core: Core, who: Personas, clock: Clock) -> None:
    pid = signed(core.service, who)
    refused = pending_notice(core, pid, who.head, Event.STEP_OPENED)
    out = core.notifications.deliver(refused, {"log": FakeChannel([Permanent("chat blocked")])})
    assert out == "failed (chat blocked)"
    flaky = pending_notice(core, pid, who.leader, Event.STEP_OPENED)
    channel = FakeChannel([RetryAfter(1, "busy")] * MAX_ATTEMPTS)
    for _ in range(MAX_ATTEMPTS):
        clock.advance(hours=1)
        core.notifications.deliver(flaky, {"log": channel})
    states = {n.id: n for n in core.service.notifications_for(post_id=pid)}
    assert states[refused].state is DeliveryState.FAILED and states[refused].attempts == 1
    assert states[flaky].state is DeliveryState.FAILED and states[flaky].attempts == MAX_ATTEMPTS
    assert len(channel.seen) == MAX_ATTEMPTS


def test_a_channel_this_worker_lacks_fails_the_notification_with_the_reason(
        core: Core, who: Personas) -> None:
    pid = core.service.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    core.service.act(pid, "new_revision", who.operator)
    nid = pending_notice(core, pid, who.drafter, Event.STEP_OPENED)
    assert "not set up" in core.notifications.deliver(nid, {})


# --- the worker's bookkeeping --------------------------------------------------------------------


def test_the_workers_moves_write_their_audit_rows_and_tell_the_chain(
        core: Core, who: Personas) -> None:
    pid = signed(core.service, who)
    (intent,) = [p for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]
    claim = core.publishing.claim(pid, "w1", 60, intent_id=intent.id)
    assert claim.snapshot is not None and claim.snapshot.mode is PublishMode.PUBLISH
    assert "审核：陈刚" in claim.snapshot.footer
    assert not core.publishing.mark_published(pid, "w2", url="https://x", article_id="a")
    assert core.publishing.mark_failed(pid, "w1", Text("微信系统繁忙", "WeChat is busy"))
    view = core.service.view(pid)
    assert view.post.status is PostStatus.FAILED and view.post.problem.en == "WeChat is busy"
    assert [e.action for e in view.timeline][-2:] == ["post.claim", "post.fail"]
    failed = [n for n in core.service.notifications_for(post_id=pid) if n.event is Event.FAILED]
    assert {n.recipient for n in failed} == {who.drafter, who.head, who.leader, who.issuer,
                                             *core.org.admins}
    assert all("微信系统繁忙" in n.text or "WeChat is busy" in n.text for n in failed)
    assert [p for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH] == []
    # A claim on a post that is no longer signed is refused by the transition table.
    assert core.publishing.claim(pid, "w1", 60).reason == "status is failed"
    with pytest.raises(InvalidTransition):
        core.service.act(pid, "confirm", who.drafter)


def test_ids_are_saved_one_by_one_and_read_back_as_plain_values(core: Core, who: Personas) -> None:
    pid = signed(core.service, who)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    assert core.publishing.publication(pid, h).thumb_media_id is None
    core.publishing.record_cover(pid, h, "thumb-1")
    core.publishing.record_images(pid, h, {"a" * 64: "https://mmbiz/1"})
    core.publishing.record_draft(pid, h, "draft-1", "c" * 64)
    core.publishing.record_submit_started(pid, h)
    core.publishing.record_publish_id(pid, h, "2247483649")
    ids = core.publishing.publication(pid, h)
    assert (ids.thumb_media_id, ids.images, ids.draft_media_id, ids.publish_id) == (
        "thumb-1", {"a" * 64: "https://mmbiz/1"}, "draft-1", "2247483649")
    assert ids.submit_started_at is not None
    with core.deps.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Publication)) == 1


# --- a retry follows what WeChat holds ----------------------------------------------------------


def _fail_after_submit(core: Core, pid: int, *, status: str | None) -> str:
    """Claim, record a submission (and what WeChat said of it), then fail the post."""
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    (intent,) = [p for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]
    assert core.publishing.claim(pid, "w1", 60, intent_id=intent.id).snapshot is not None
    core.publishing.record_draft(pid, h, "draft-1", "c" * 64)
    core.publishing.record_publish_id(pid, h, "2247483649")
    if status is not None:
        core.publishing.record_wechat_status(pid, h, status)
    assert core.publishing.mark_failed(pid, "w1", Text("失败", "failed"))
    return h


def test_a_retry_after_a_failure_follows_the_publish_id_wechat_holds(
        core: Core, who: Personas) -> None:
    pid = signed(core.service, who)
    h = _fail_after_submit(core, pid, status=None)  # e.g. 45009 while polling
    core.service.act(pid, "retry", who.admin, comment="重试")
    ids = core.publishing.publication(pid, h)
    assert (ids.publish_id, ids.attempt, ids.draft_media_id) == ("2247483649", 0, "draft-1")


@pytest.mark.parametrize("status", ["2", "3", "4", "SEND_FAIL"])
def test_a_retry_after_wechat_reported_the_failure_starts_a_new_attempt(
        core: Core, who: Personas, status: str) -> None:
    pid = signed(core.service, who)
    h = _fail_after_submit(core, pid, status=status)
    core.service.act(pid, "retry", who.admin, comment="重试")
    ids = core.publishing.publication(pid, h)
    assert (ids.publish_id, ids.wechat_status, ids.attempt) == (None, None, 1)
    assert ids.draft_media_id == "draft-1"  # kept for reuse; a gone draft is made again


def _unconfirmed(core: Core, who: Personas) -> tuple[int, str]:
    pid = signed(core.service, who)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    (intent,) = [p for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]
    core.publishing.claim(pid, "w1", 60, intent_id=intent.id)
    core.publishing.record_submit_started(pid, h)
    assert core.publishing.mark_unconfirmed(pid, "w1", Text("回复丢失", "the reply was lost"))
    return pid, h


def test_an_unconfirmed_post_takes_no_blind_retry_only_a_persons_answer(
        core: Core, who: Personas) -> None:
    pid, _ = _unconfirmed(core, who)
    assert core.service.view(pid).post.status is PostStatus.UNCONFIRMED
    assert core.service.allowed_actions(pid, who.admin) == [Action.CONFIRM_PUBLISHED,
                                                            Action.CONFIRM_ABSENT]
    assert core.service.allowed_actions(pid, who.operator) == [Action.CONFIRM_PUBLISHED,
                                                               Action.CONFIRM_ABSENT]
    for person in (who.drafter, who.issuer, *who.outsiders):
        with pytest.raises((NotAllowed, NotFound)):
            core.service.act(pid, "confirm_absent", person, comment="查过了")
    with pytest.raises(InvalidTransition):
        core.service.act(pid, "retry", who.admin, comment="重试")
    told = {n.recipient for n in core.service.notifications_for(post_id=pid)
            if n.event is Event.UNCONFIRMED}
    assert told == {*core.org.admins, *core.org.operators}


def test_confirm_absent_starts_a_fresh_submission(core: Core, who: Personas,
                                                  handed_off: HandedOff) -> None:
    pid, h = _unconfirmed(core, who)
    with pytest.raises(InvalidInput):
        core.service.act(pid, "confirm_absent", who.admin)  # say what was checked
    handed_off.clear()
    out = core.service.act(pid, "confirm_absent", who.admin, comment="后台已发表列表中没有")
    assert out.status_after is PostStatus.SIGNED
    assert core.publishing.publication(pid, h).submit_started_at is None
    (intent,) = [p for p in core.publishing.pending() if p.kind is OutboxKind.PUBLISH]
    assert Handoff(OutboxKind.PUBLISH, intent.id) in handed_off


def test_confirm_published_records_the_url_and_tells_the_chain(core: Core, who: Personas) -> None:
    pid, h = _unconfirmed(core, who)
    for bad in ("", "mp.weixin.qq.com/s/abc", "javascript:alert(1)", "https://"):
        with pytest.raises(InvalidInput):
            core.service.act(pid, "confirm_published", who.operator, url=bad)
    url = "https://mp.weixin.qq.com/s/AbCdEf"
    core.service.act(pid, "confirm_published", who.operator, url=url, comment="后台已见")
    view = core.service.view(pid)
    assert view.post.status is PostStatus.PUBLISHED and view.post.article_url == url
    assert view.post.published_at is not None and view.post.problem.en == ""
    assert core.publishing.publication(pid, h).article_url == url
    assert view.timeline[-1].action == "post.confirm_published" and view.timeline[-1].detail["url"] == url
    told = {n.recipient for n in core.service.notifications_for(post_id=pid)
            if n.event is Event.PUBLISHED}
    assert told == {who.drafter, who.head, who.leader, who.issuer, *core.org.admins} - {who.operator}


# --- WeChat's limits where the input enters -------------------------------------------------------


def test_a_cover_that_is_no_image_is_refused_at_hand_in_and_nothing_is_stored(
        core: Core, who: Personas) -> None:
    before = core.service.count_posts()
    with pytest.raises(InvalidInput) as info:
        core.service.create_post(drafter=who.drafter, title="测试稿", body=BODY,
                                 cover=("cover.jpg", b"%PDF-1.7 not an image", "image/jpeg"))
    assert "not an image" in info.value.message("en")
    assert core.service.count_posts() == before
    with core.deps.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Asset)) == 0


def test_pictures_handed_in_are_checked_as_wechat_will_and_laid_out_after_the_text(
        core: Core, who: Personas) -> None:
    import io

    from PIL import Image

    def png(shade: int) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (40, 30), (shade, shade, shade)).save(out, "PNG")
        return out.getvalue()

    svc, before = core.service, core.service.count_posts()
    for bad, says in [([("a.jpg", b"%PDF-1.7 not an image")], "JPG or PNG"),
                      ([("big.png", png(1) + b"\0" * (1024 * 1024))], "1 MB"),
                      ([(f"{n}.png", png(n)) for n in range(21)], "at most 20")]:
        with pytest.raises(InvalidInput) as info:
            svc.create_post(drafter=who.drafter, title="测试稿", body=BODY, pictures=bad)
        assert says in info.value.message("en"), info.value.message("en")
    assert svc.count_posts() == before
    with core.deps.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Asset)) == 0
    pictures = [(f"{n}.png", png(n)) for n in (10, 20)]
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body=BODY, pictures=pictures)
    shas = [hashlib.sha256(data).hexdigest() for _, data in pictures]
    with core.deps.sessions() as s:
        post = s.get(m.Post, pid)
        assert post is not None and post.material_format == "html"
        body = post.material_body
        assert set(s.scalars(select(m.Asset.sha256))) == set(shas)
    assert body.index("太浦河") < body.index(shas[0]) < body.index(shas[1])
    # The operator's layout takes them as they are.
    svc.act(pid, "new_revision", who.operator)
    assert svc.view(pid).revision is not None


def test_a_body_referring_to_an_image_never_uploaded_is_refused_at_layout(
        core: Core, who: Personas) -> None:
    pid = core.service.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    body = f'<p>图：</p><img src="/assets/{"b" * 64}">'
    with pytest.raises(InvalidInput) as info:
        core.service.act(pid, "new_revision", who.operator,
                         revision=RevisionInput(body=body, body_format="html"))
    assert "never uploaded" in info.value.message("en")
    assert core.service.view(pid).post.status is PostStatus.DRAFT


# --- the worker's warm-up --------------------------------------------------------------------------


def test_the_workers_warm_up_rehearses_publishing_and_leaves_the_database_as_it_was(
        core: Core, who: Personas, engine: Engine) -> None:
    from approvals.services.warmup import warm_up

    pid = signed(core.service, who)

    def snapshot() -> dict[str, int]:
        with engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in m.Base.metadata.sorted_tables}

    before = snapshot()
    compiled = len(engine._compiled_cache)  # type: ignore[attr-defined]
    assert warm_up(core.deps, engine) is True
    assert snapshot() == before
    assert len(engine._compiled_cache) > compiled  # type: ignore[attr-defined]
    assert core.service.verify_audit().ok
    assert core.service.view(pid).post.status is PostStatus.SIGNED
    assert core.service.count_posts() == 1
