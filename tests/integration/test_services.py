"""The use cases on a real database (SQLite; PostgreSQL too when SIGNOFF_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from types import MappingProxyType

import pytest
from sqlalchemy import Engine, func, select

from approvals import present
from approvals.bootstrap import bootstrap
from approvals.config.settings import Settings
from approvals.rules import chain
from approvals.rules.deadlines import WorkCalendar, YearSchedule
from approvals.rules.errors import (
    AlreadyDecided,
    GateBlocked,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleRevision,
)
from approvals.rules.org import OrgChart
from approvals.rules.states import Action, PostStatus
from approvals.services import Service
from approvals.services.state import load_state
from approvals.store import models as m
from approvals.views import Handoff, OutboxKind, RevisionInput
from tests.conftest import EXAMPLE_ORG, Clock, HandedOff, Personas

BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


def hand_in(svc: Service, who: Personas, **kw: object) -> int:
    args: dict[str, object] = {"drafter": who.drafter, "title": "我局开展冬季防汛应急演练",
                               "body": BODY, "category": "publicity"}
    args.update(kw)
    return svc.create_post(**args)  # type: ignore[arg-type]


def current_hash(svc: Service, pid: int) -> str:
    rev = svc.view(pid).revision
    assert rev is not None
    return rev.content_hash


def to_issuer(svc: Service, who: Personas, pid: int) -> str:
    h = current_hash(svc, pid)
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    svc.act(pid, "approve", who.head, revision_hash=h)
    svc.act(pid, "approve", who.leader, revision_hash=h)
    return h


def laid_out(svc: Service, who: Personas, body: str | None = None, **kw: object) -> int:
    pid = hand_in(svc, who, **kw)
    svc.act(pid, "new_revision", who.operator,
            revision=RevisionInput(body=body, body_format="text") if body else None)
    return pid


def test_a_post_walks_the_whole_chain_and_is_handed_to_the_queue(
        service: Service, who: Personas, handed_off: HandedOff, engine: Engine) -> None:
    pid = laid_out(service, who)
    h = to_issuer(service, who, pid)
    assert handed_off.of(OutboxKind.PUBLISH) == []
    out = service.act(pid, "sign", who.issuer, revision_hash=h)
    assert out.status_after is PostStatus.SIGNED
    with engine.connect() as conn:
        intent = conn.execute(select(m.PublishIntent.id, m.PublishIntent.revision_hash).where(
            m.PublishIntent.post_id == pid, m.PublishIntent.kind == "publish")).one()
    assert handed_off.of(OutboxKind.PUBLISH) == [Handoff(OutboxKind.PUBLISH, intent.id)]
    assert intent.revision_hash == h
    view = service.view(pid)
    assert [e.action for e in view.timeline] == [
        "post.created", "post.new_revision", "post.confirm", "post.approve", "post.approve",
        "post.sign", "gates.passed"]
    assert view.post.due_on == date(2027, 1, 6)  # New Year's Day is not a working day


def test_the_stored_state_matches_the_pure_model_after_every_action(
        service: Service, who: Personas, engine: Engine, org: object) -> None:
    pid = laid_out(service, who)
    sessions = service.deps.sessions
    with sessions() as s:
        before = load_state(s, s.get(m.Post, pid))
    for action, actor in [("confirm", who.drafter), ("approve", who.head),
                          ("request_changes", who.leader)]:
        result = chain.decide(before, Action(action), actor, service.org, on=service.today(),
                              revision_hash=before.revision.content_hash, comment="意见")
        service.act(pid, action, actor, revision_hash=before.revision.content_hash,
                    comment="意见")
        with sessions() as s:
            after = load_state(s, s.get(m.Post, pid))
        expected = chain.apply(before, result)
        assert (after.status, after.run, after.revision, len(after.decisions)) == (
            expected.status, expected.run, expected.revision, len(expected.decisions))
        before = after


def test_a_decision_on_a_stale_revision_is_refused_and_nothing_is_written(
        service: Service, who: Personas) -> None:
    pid = laid_out(service, who)
    old = current_hash(service, pid)
    service.act(pid, "confirm", who.drafter, revision_hash=old)
    service.act(pid, "new_revision", who.operator,
                revision=RevisionInput(body=BODY.replace("150", "160"), body_format="text"))
    service.act(pid, "confirm", who.drafter, revision_hash=current_hash(service, pid))
    rows = len(service.view(pid).timeline)
    with pytest.raises(StaleRevision) as info:
        service.act(pid, "approve", who.head, revision_hash=old[:10])
    assert "第2版" in info.value.message("zh-CN")
    assert len(service.view(pid).timeline) == rows


@pytest.mark.parametrize("action", ["confirm", "approve", "sign", "request_changes", "reject",
                                    "withdraw", "new_revision", "resubmit", "retry"])
def test_outsiders_are_refused_every_action(service: Service, who: Personas, action: str) -> None:
    pid = laid_out(service, who)
    for outsider in who.outsiders:
        with pytest.raises((NotAllowed, InvalidTransition)) as info:
            service.act(pid, action, outsider, comment="x",
                        revision_hash=current_hash(service, pid))
        if action in ("confirm", "approve", "sign", "withdraw", "new_revision"):
            assert isinstance(info.value, NotAllowed)
    assert service.view(pid).post.status == PostStatus.IN_REVIEW


def test_a_head_cannot_approve_a_post_he_drafted(service: Service, who: Personas) -> None:
    pid = laid_out(service, who, drafter=who.head)
    h = current_hash(service, pid)
    service.act(pid, "confirm", who.head, revision_hash=h)
    with pytest.raises(NotAllowed) as info:
        service.act(pid, "approve", who.head, revision_hash=h)
    assert "周建" in info.value.message("zh-CN")
    service.act(pid, "approve", who.principal, revision_hash=h)


def test_a_repost_from_a_source_off_the_allowlist_is_refused_citing_art_28(
        service: Service, who: Personas) -> None:
    with pytest.raises(InvalidInput) as info:
        hand_in(service, who, category="repost", repost_source="https://www.example.com/news/1")
    assert "第二十八条" in info.value.message("zh-CN")
    with pytest.raises(InvalidInput):
        hand_in(service, who, category="repost")
    pid = hand_in(service, who, category="repost",
                  repost_source="https://www.mem.gov.cn/xw/yjglbgzdt/202612/t1.shtml")
    # The operator's layout changes the source to an unofficial one: sign-off is refused.
    service.act(pid, "new_revision", who.operator,
                revision=RevisionInput(repost_source="某自媒体公众号"))
    h = to_issuer(service, who, pid)
    with pytest.raises(GateBlocked) as blocked:
        service.act(pid, "sign", who.issuer, revision_hash=h)
    assert "art. 28" in blocked.value.message("en")
    assert service.view(pid).post.status == PostStatus.IN_REVIEW


def test_a_valid_resident_id_blocks_sign_off_until_the_issuer_records_a_reason(
        service: Service, who: Personas) -> None:
    pid = laid_out(service, who, body=BODY + "获救群众身份证号：11010519491231002X。")
    h = to_issuer(service, who, pid)
    with pytest.raises(GateBlocked) as info:
        service.act(pid, "sign", who.issuer, revision_hash=h)
    assert "第十六条" in info.value.message("zh-CN")
    assert "11010519491231002X" not in info.value.message("zh-CN")
    refused = service.view(pid).timeline[-1]
    assert refused.action == "gates.refused"
    with pytest.raises(InvalidInput):
        service.act(pid, "clear_pii", who.issuer, basis="consent", comment="", revision_hash=h)
    with pytest.raises(NotAllowed):
        service.act(pid, "clear_pii", who.leader, basis="consent", comment="同意",
                    revision_hash=h)
    service.act(pid, "clear_pii", who.issuer, basis="public_interest",
                comment="寻找失联人员亲属，公开有重大公共利益", revision_hash=h)
    assert service.act(pid, "sign", who.issuer, revision_hash=h).status_after is PostStatus.SIGNED


def test_a_classified_revision_is_refused_at_the_drafters_step_and_nothing_is_written(
        service: Service, who: Personas) -> None:
    pid = laid_out(service, who, body="机密★1年\n" + BODY)
    h = current_hash(service, pid)
    before = service.view(pid)
    assert "confirm" not in [a.value for a in service.allowed_actions(pid, who.drafter)]
    with pytest.raises(GateBlocked) as info:
        service.act(pid, "confirm", who.drafter, revision_hash=h)
    assert "机密★1年" in info.value.message("zh-CN")
    assert "art. 15, 18, 26" in info.value.message("en")
    after = service.view(pid)  # the post stays where it was; the refusal is on the record
    assert (after.post.version, after.post.status) == (before.post.version, PostStatus.IN_REVIEW)
    assert [e.action for e in after.timeline[len(before.timeline):]] == ["gates.refused"]
    service.act(pid, "request_changes", who.drafter, comment="含密级标识", revision_hash=h)
    assert service.view(pid).post.status == PostStatus.CHANGES_REQUESTED
    assert service.verify_audit().ok


def test_information_not_classed_proactive_cannot_be_signed(service: Service,
                                                            who: Personas) -> None:
    pid = laid_out(service, who, classification="on_request")
    h = to_issuer(service, who, pid)
    with pytest.raises(GateBlocked) as info:
        service.act(pid, "sign", who.issuer, revision_hash=h)
    assert "第十三条" in info.value.message("zh-CN")


def at_reviewer(svc: Service, who: Personas) -> tuple[int, str]:
    """A laid-out post confirmed by the drafter and approved by her head: the reviewer is next."""
    pid = laid_out(svc, who)
    h = current_hash(svc, pid)
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    svc.act(pid, "approve", who.head, revision_hash=h)
    return pid, h


def test_a_deputy_signs_for_the_leader_and_the_record_says_so(service: Service,
                                                              who: Personas) -> None:
    pid, h = at_reviewer(service, who)
    out = service.act(pid, "approve", who.deputy, revision_hash=h)
    assert out.on_behalf_of == who.leader
    assert service.view(pid).timeline[-1].detail["on_behalf_of"] == who.leader
    with service.deps.sessions() as s:
        d = s.scalars(select(m.Decision).order_by(m.Decision.id.desc())).first()
        assert (d.actor, d.on_behalf_of) == (who.deputy, who.leader)


def test_after_the_delegation_ends_the_deputy_is_refused(service: Service, who: Personas,
                                                         clock: Clock) -> None:
    clock.set_day(2026, 12, 21)
    pid, h = at_reviewer(service, who)
    with pytest.raises(NotAllowed):
        service.act(pid, "approve", who.deputy, revision_hash=h)


def test_withdraw_archives_the_post_and_keeps_its_history(service: Service,
                                                          who: Personas) -> None:
    pid = laid_out(service, who)
    service.act(pid, "withdraw", who.drafter, comment="活动延期")
    view = service.view(pid)
    assert view.post.status == PostStatus.WITHDRAWN and view.post.archived
    assert pid not in [p.id for p in service.list_posts()]
    assert pid in [p.id for p in service.list_posts(include_archived=True)]
    assert len(view.timeline) == 3


def test_bad_input_is_refused_with_a_clear_message(service: Service, who: Personas) -> None:
    with pytest.raises(NotFound):
        hand_in(service, who, drafter="nobody")
    with pytest.raises(InvalidInput) as info:
        hand_in(service, who, category="gossip")
    assert "notice, publicity, policy, repost, other" in info.value.message("en")
    with pytest.raises(InvalidInput):
        hand_in(service, who, formed_on=date(2030, 1, 1))
    with pytest.raises(InvalidInput):
        hand_in(service, who, title=" ")
    with pytest.raises(NotFound):
        service.act(999, "approve", who.head)
    pid = hand_in(service, who)
    with pytest.raises(InvalidInput) as long_title:
        service.act(pid, "new_revision", who.operator, revision=RevisionInput(title="长" * 33))
    assert "32" in long_title.value.message("zh-CN")
    with pytest.raises(InvalidInput):
        service.act(pid, "fly", who.operator)
    assert service.count_posts() == 1


def test_the_same_step_decided_twice_in_a_row_answers_already_decided(
        service: Service, who: Personas) -> None:
    pid, h = at_reviewer(service, who)
    with pytest.raises(AlreadyDecided):
        service.act(pid, "approve", who.head, revision_hash=h)
    with service.deps.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Decision)) == 2


def test_a_failed_gate_run_is_written_but_the_post_does_not_move(service: Service,
                                                                 who: Personas) -> None:
    pid = laid_out(service, who, classification="on_request")
    h = to_issuer(service, who, pid)
    version = service.view(pid).post.version
    with pytest.raises(GateBlocked):
        service.act(pid, "sign", who.issuer, revision_hash=h)
    view = service.view(pid)
    assert view.post.version == version and view.post.status == PostStatus.IN_REVIEW
    assert service.verify_audit().ok


def test_the_due_date_uses_the_schedule_the_bureau_entered(
        engine: Engine, org: OrgChart, clock: Clock, who: Personas) -> None:
    estimated = hand_in(bootstrap(Settings(org_file=EXAMPLE_ORG), engine=engine, org=org,
                                  clock=clock).service, who, formed_on=date(2026, 12, 7))
    entered = replace(org, calendar=WorkCalendar(MappingProxyType({2027: YearSchedule(
        2027, frozenset({date(2027, 1, 1), date(2027, 1, 4)}))})))
    svc = bootstrap(Settings(org_file=EXAMPLE_ORG), engine=engine, org=entered,
                    clock=clock).service
    known = hand_in(svc, who, formed_on=date(2026, 12, 7))
    first, second = svc.view(estimated).post, svc.view(known).post
    assert (first.due_on, first.due_estimated) == (date(2027, 1, 5), True)
    assert (second.due_on, second.due_estimated) == (date(2027, 1, 6), False)
    lines = {p.id: present.post_line(p, entered, "zh-CN") for p in svc.list_posts()}
    assert "2027-01-05（预估）" in lines[estimated] and "预估" not in lines[known]
