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
    with pytest.raises((NotAllowed, InvalidTransition)) as info:
        service.act(pid, action, who.colleague, comment="x",
                    revision_hash=current_hash(service, pid))
    if action in ("confirm", "approve", "sign", "withdraw", "new_revision"):
        assert isinstance(info.value, NotAllowed)
    with pytest.raises(NotFound):  # someone not in the org chart is named as such, first
        service.act(pid, action, who.stranger, comment="x",
                    revision_hash=current_hash(service, pid))
    assert service.view(pid).post.status == PostStatus.IN_REVIEW


def test_a_head_cannot_approve_a_post_he_drafted(service: Service, who: Personas) -> None:
    pid = laid_out(service, who, drafter=who.head)
    h = current_hash(service, pid)
    service.act(pid, "confirm", who.head, revision_hash=h)
    with pytest.raises(NotAllowed) as info:
        service.act(pid, "approve", who.head, revision_hash=h)
    assert "周建" in info.value.message("zh-CN")
    service.act(pid, "approve", who.principal, revision_hash=h)


def test_material_longer_than_any_post_is_refused_where_it_is_handed_in(
        service: Service, who: Personas) -> None:
    from approvals.services.handin import BODY_MAX_HANDIN

    with pytest.raises(InvalidInput) as info:
        hand_in(service, who, body="演" * (BODY_MAX_HANDIN + 1))
    assert "正文过长" in info.value.message("zh-CN") and "too long" in info.value.message("en")
    assert service.count_posts() == 0
    assert hand_in(service, who, body="演" * BODY_MAX_HANDIN)


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


@pytest.mark.parametrize("classification", ["on_request", "not_disclosed"])
def test_information_not_classed_proactive_is_refused_at_hand_in(
        service: Service, who: Personas, classification: str) -> None:
    with pytest.raises(InvalidInput) as info:
        hand_in(service, who, classification=classification)
    assert "第十三条" in info.value.message("zh-CN")
    assert ("依申请公开" if classification == "on_request" else "不予公开") in \
        info.value.message("zh-CN")
    assert service.count_posts() == 0


def test_a_drafter_hands_in_only_for_a_department_she_belongs_to(
        service: Service, who: Personas) -> None:
    with pytest.raises(InvalidInput) as info:
        hand_in(service, who, department="fxk")  # 李娜 is in 应急救援科
    assert "李娜不属于法宣科" in info.value.message("zh-CN")
    with pytest.raises(InvalidInput) as unknown:
        hand_in(service, who, department="nope")
    assert "fxk" in unknown.value.message("en")  # the departments are listed
    assert service.count_posts() == 0
    assert hand_in(service, who, department="jyk") == 1


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
    assert "notice (announcement / notice), publicity (work publicity)" in info.value.message("en")
    assert "notice（公告通知）、publicity（工作宣传）" in info.value.message("zh-CN")
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


def test_a_title_with_markup_or_a_control_character_is_refused_at_hand_in(
        service: Service, who: Personas) -> None:
    for title in ("关于<b>防汛</b>的通知", "防汛通知\x1b[31m", "防汛&nbsp;通知"):
        with pytest.raises(InvalidInput) as info:
            hand_in(service, who, title=title)
        assert "标题" in info.value.message("zh-CN")
    assert service.count_posts() == 0


def test_layout_refuses_an_image_from_outside_and_the_post_stays_as_it_was(
        service: Service, who: Personas) -> None:
    pid = hand_in(service, who, body='<p>演练现场</p><p><img src="https://example.com/a.jpg"></p>',
                  body_format="html")
    rows = len(service.view(pid).timeline)
    with pytest.raises(InvalidInput) as info:
        service.act(pid, "new_revision", who.operator)
    assert "https://example.com/a.jpg" in info.value.message("zh-CN")
    with pytest.raises(InvalidInput):
        service.act(pid, "new_revision", who.operator,
                    revision=RevisionInput(author="吴江\u202e应急", digest="摘要"))
    view = service.view(pid)
    assert view.post.status is PostStatus.DRAFT and view.revision is None
    assert len(view.timeline) == rows
    service.act(pid, "new_revision", who.operator,
                revision=RevisionInput(body="<p>演练现场</p>"))  # without it, it lays out
    assert service.view(pid).post.status is PostStatus.IN_REVIEW


def test_a_revision_hash_that_is_malformed_foreign_or_unknown_is_named_as_such(
        service: Service, who: Personas) -> None:
    other = laid_out(service, who)
    pid = laid_out(service, who, body=BODY.replace("150", "170"))
    foreign = current_hash(service, other)
    assert foreign != current_hash(service, pid)
    cases = {"zz-not-hex": "is not a revision hash", "abc": "at least 8 characters",
             foreign: f"belongs to post #{other}", foreign[:10]: f"belongs to post #{other}",
             "0123abcd" * 8: f"Post #{pid} has no revision"}
    for given, said in cases.items():
        with pytest.raises(InvalidInput) as info:
            service.act(pid, "confirm", who.drafter, revision_hash=given)
        assert said in info.value.message("en"), given
    assert service.view(pid).post.status is PostStatus.IN_REVIEW
    assert all(not e.action.startswith("post.confirm") for e in service.view(pid).timeline)


def test_an_unknown_person_is_not_found_with_a_suggestion_for_every_action(
        service: Service, who: Personas) -> None:
    pid = laid_out(service, who)
    for action in ("confirm", "approve", "sign", "withdraw", "schedule"):
        with pytest.raises(NotFound) as info:
            service.act(pid, action, "li_nna")
        assert "您是不是要找：李娜（li_na）" in info.value.message("zh-CN")
    with pytest.raises(NotFound) as by_name:
        hand_in(service, who, drafter="王明")  # 王敏 mistyped
    assert "Did you mean 王敏 (wang_min)" in by_name.value.message("en")
    with pytest.raises(NotFound) as nothing_close:
        hand_in(service, who, drafter="mallory")
    assert "Did you mean" not in nothing_close.value.message("en")


def test_an_unknown_action_lists_only_what_people_do(service: Service, who: Personas) -> None:
    pid = laid_out(service, who)
    with pytest.raises(InvalidInput) as info:
        service.act(pid, "aprove", who.head)
    said = info.value.message("zh-CN")
    assert "approve（审核同意）" in said
    for worker_only in ("claim", "mark_published", "hold", "fail", "cannot_confirm"):
        assert worker_only not in said
    with pytest.raises(NotAllowed):  # typed anyway, it is the publisher's
        service.act(pid, "claim", who.operator)


def test_a_clearance_for_a_revision_without_personal_data_is_refused(
        service: Service, who: Personas) -> None:
    pid = laid_out(service, who)
    h = to_issuer(service, who, pid)
    with pytest.raises(InvalidInput) as info:
        service.act(pid, "clear_pii", who.issuer, basis="consent", comment="同意",
                    revision_hash=h)
    assert "nothing to clear" in info.value.message("en")
    assert service.act(pid, "sign", who.issuer, revision_hash=h).status_after is PostStatus.SIGNED


def test_the_same_step_decided_twice_in_a_row_answers_already_decided(
        service: Service, who: Personas) -> None:
    pid, h = at_reviewer(service, who)
    with pytest.raises(AlreadyDecided):
        service.act(pid, "approve", who.head, revision_hash=h)
    with service.deps.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Decision)) == 2


def test_a_failed_gate_run_is_written_but_the_post_does_not_move(service: Service,
                                                                 who: Personas) -> None:
    pid = laid_out(service, who, body=BODY + "获救群众身份证号：11010519491231002X。")
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
