"""The chain as pure functions: who may do what, on which revision, in which state."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from approvals.rules import chain, permits
from approvals.rules.errors import (
    AlreadyDecided,
    GateBlocked,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    StaleRevision,
)
from approvals.rules.org import ChainConfig, OrgChart
from approvals.rules.records import Outcome, PostState
from approvals.rules.states import (
    TERMINAL,
    TRANSITIONS,
    Action,
    PostStatus,
    PublishMode,
    Step,
    advance,
)
from tests.helpers import DAY, act, draft, laid_out, rebound, revision, through_reviewer


def test_a_full_chain_ends_signed_with_every_step_on_the_current_revision(org: OrgChart) -> None:
    state = through_reviewer(org)
    state = act(state, org, "sign", "wang_min")
    assert state.status is PostStatus.SIGNED
    assert [d.step for d in state.decisions] == list(org.chain.steps)
    assert {d.revision_hash for d in state.decisions} == {state.revision.content_hash}


def test_the_open_step_follows_the_configured_order(org: OrgChart) -> None:
    state = laid_out(org)
    seen = []
    for action, actor in [("confirm", "li_na"), ("approve", "zhang_wei"),
                          ("approve", "chen_gang")]:
        seen.append(permits.current_step(state, org))
        state = act(state, org, action, actor)
    seen.append(permits.current_step(state, org))
    assert seen == [Step.DRAFTER_CONFIRM, Step.DEPT_HEAD, Step.REVIEWER, Step.ISSUER]


def test_allowed_actions_name_exactly_the_open_step_holders_buttons(org: OrgChart) -> None:
    state = act(laid_out(org), org, "confirm", "li_na")
    assert permits.allowed_actions(state, "zhang_wei", org, DAY) == [
        Action.APPROVE, Action.REQUEST_CHANGES, Action.REJECT]
    assert permits.allowed_actions(state, "li_na", org, DAY) == [Action.WITHDRAW]
    assert Action.NEW_REVISION in permits.allowed_actions(state, "he_jing", org, DAY)
    for outsider in ("xu_fang", "mallory", "chen_gang", "wang_min"):
        assert permits.allowed_actions(state, outsider, org, DAY) == []


@pytest.mark.parametrize("outsider", ["xu_fang", "mallory"])
@pytest.mark.parametrize("action", ["confirm", "approve", "sign", "request_changes", "reject"])
def test_an_outsider_can_take_no_decision_at_any_step(org: OrgChart, outsider: str,
                                                      action: str) -> None:
    states = [laid_out(org)]
    for a, actor in [("confirm", "li_na"), ("approve", "zhang_wei"), ("approve", "chen_gang")]:
        states.append(act(states[-1], org, a, actor))
    for state in states:
        with pytest.raises((NotAllowed, InvalidTransition)) as info:
            act(state, org, action, outsider)
        assert not isinstance(info.value, AlreadyDecided)


@pytest.mark.parametrize("outsider", ["xu_fang", "mallory"])
def test_an_outsider_cannot_withdraw_lay_out_resubmit_or_retry(org: OrgChart,
                                                              outsider: str) -> None:
    state = laid_out(org)
    with pytest.raises(NotAllowed):
        chain.withdraw(state, outsider, org, on=DAY)
    with pytest.raises(NotAllowed):
        chain.new_revision(state, outsider, org, revision(2, body="<p>x</p>"), on=DAY)
    changes = act(state, org, "request_changes", "li_na", comment="日期写错")
    with pytest.raises(NotAllowed):
        chain.resubmit(changes, outsider, org, on=DAY, comment="同原稿")


def test_a_decision_on_a_stale_revision_is_refused_with_both_hashes(org: OrgChart) -> None:
    state = act(laid_out(org), org, "confirm", "li_na")
    old = state.revision.content_hash
    state = chain.apply(state, chain.new_revision(state, "he_jing", org,
                                                  revision(2, body="<p>改正后的正文</p>"), on=DAY))
    state = act(state, org, "confirm", "li_na")
    with pytest.raises(StaleRevision) as info:
        chain.decide(state, Action.APPROVE, "zhang_wei", org, on=DAY, revision_hash=old)
    assert old[:12] in info.value.message("zh-CN")
    assert "older revision" in info.value.message("en")


def test_a_new_revision_voids_every_approval_and_restarts_from_the_drafter(org: OrgChart) -> None:
    state = through_reviewer(org)
    state = chain.apply(state, chain.new_revision(state, "he_jing", org,
                                                  revision(2, body="<p>新版</p>"), on=DAY))
    assert state.decisions == ()
    assert state.run == 2
    assert permits.current_step(state, org) is Step.DRAFTER_CONFIRM
    with pytest.raises(NotAllowed):
        act(state, org, "sign", "wang_min")


def test_an_identical_new_revision_is_refused_in_favour_of_resubmit(org: OrgChart) -> None:
    state = laid_out(org)
    with pytest.raises(InvalidInput):
        chain.new_revision(state, "he_jing", org, revision(2), on=DAY)


def test_request_changes_needs_a_comment_and_sends_the_post_back_to_layout(org: OrgChart) -> None:
    state = act(laid_out(org), org, "confirm", "li_na")
    with pytest.raises(InvalidInput):
        act(state, org, "request_changes", "zhang_wei", comment="  ")
    back = act(state, org, "request_changes", "zhang_wei", comment="人数有误")
    assert back.status is PostStatus.CHANGES_REQUESTED
    assert back.decisions[-1].outcome is Outcome.CHANGES_REQUESTED


def test_an_admin_resubmits_unchanged_content_with_a_comment_and_the_chain_restarts(
        org: OrgChart) -> None:
    state = act(act(laid_out(org), org, "confirm", "li_na"), org, "request_changes", "zhang_wei",
                comment="请核实")
    with pytest.raises(InvalidInput):
        chain.resubmit(state, "zhao_xue", org, on=DAY, comment="")
    with pytest.raises(NotAllowed):
        chain.resubmit(state, "he_jing", org, on=DAY, comment="已核实无误")
    again = chain.apply(state, chain.resubmit(state, "zhao_xue", org, on=DAY,
                                              comment="已核实无误"))
    assert again.status is PostStatus.IN_REVIEW and again.decisions == () and again.run == 2
    assert permits.current_step(again, org) is Step.DRAFTER_CONFIRM


def test_reject_is_terminal_and_not_offered_at_the_drafters_step(org: OrgChart) -> None:
    state = laid_out(org)
    with pytest.raises(InvalidTransition):
        act(state, org, "reject", "li_na")
    state = act(act(state, org, "confirm", "li_na"), org, "reject", "zhang_wei",
                comment="不宜发布")
    assert state.status is PostStatus.REJECTED
    for action in ("confirm", "approve", "sign"):
        with pytest.raises(InvalidTransition):
            act(state, org, action, "zhang_wei")


def test_the_wrong_verb_for_the_open_step_is_an_invalid_transition(org: OrgChart) -> None:
    state = laid_out(org)
    with pytest.raises(InvalidTransition):
        act(state, org, "approve", "li_na")
    state = through_reviewer(org)
    with pytest.raises(InvalidTransition):
        act(state, org, "approve", "wang_min")


def test_deciding_twice_is_answered_as_already_decided(org: OrgChart) -> None:
    state = act(act(laid_out(org), org, "confirm", "li_na"), org, "approve", "zhang_wei")
    with pytest.raises(AlreadyDecided) as info:
        act(state, org, "approve", "zhang_wei")
    assert "张伟" in info.value.message("zh-CN")


def test_a_deputy_signs_for_the_leader_inside_the_delegation_range(org: OrgChart) -> None:
    state = act(act(laid_out(org), org, "confirm", "li_na"), org, "approve", "zhang_wei")
    reviewed = act(state, org, "approve", "sun_li")
    d = reviewed.decisions[-1]
    assert (d.step, d.actor, d.on_behalf_of, d.principal) == (
        Step.REVIEWER, "sun_li", "chen_gang", "chen_gang")
    signed = act(reviewed, org, "sign", "wang_min")
    assert signed.status is PostStatus.SIGNED


def test_a_deputy_cannot_sign_outside_the_delegation_range_or_for_other_steps(
        org: OrgChart) -> None:
    state = act(act(laid_out(org), org, "confirm", "li_na"), org, "approve", "zhang_wei")
    with pytest.raises(NotAllowed):
        act(state, org, "approve", "sun_li", on=date(2026, 12, 19))
    with pytest.raises(NotAllowed):
        act(act(state, org, "approve", "chen_gang"), org, "sign", "sun_li")


def test_nobody_approves_their_own_draft_the_step_goes_to_the_fallback(org: OrgChart) -> None:
    # 张伟 drafts as a member of his own department: the head step cannot be his.
    state = laid_out(org, drafter="zhang_wei")
    state = act(state, org, "confirm", "zhang_wei")
    with pytest.raises(NotAllowed) as info:
        act(state, org, "approve", "zhang_wei")
    assert "周建" in info.value.message("zh-CN")
    state = act(state, org, "approve", "zhou_jian")
    assert state.decisions[-1].note == "fallback_for:zhang_wei"


def test_the_same_person_never_fills_two_steps_the_fallback_takes_the_later_one(
        org: OrgChart) -> None:
    # 办公室's supervising leader is the issuer: sign-off goes to the principal leader.
    state = laid_out(org, drafter="guo_qiang", department="bgs")
    state = act(act(state, org, "confirm", "guo_qiang"), org, "approve", "ma_lin")
    state = act(state, org, "approve", "wang_min")
    with pytest.raises(NotAllowed):
        act(state, org, "sign", "wang_min")
    assert act(state, org, "sign", "zhou_jian").status is PostStatus.SIGNED


def test_without_a_fallback_the_step_is_refused_saying_what_to_configure(org: OrgChart) -> None:
    bare = replace(org, principal_leader=None, chain=replace(org.chain, fallback=()))
    state = laid_out(bare, drafter="guo_qiang", department="bgs")
    state = act(act(state, bare, "confirm", "guo_qiang"), bare, "approve", "ma_lin")
    state = act(state, bare, "approve", "wang_min")
    with pytest.raises(NotAllowed) as info:
        act(state, bare, "sign", "wang_min")
    assert "fallback" in info.value.message("zh-CN")
    assert "allow_same_person_in_two_steps" in info.value.message("en")


def test_configuration_may_allow_one_person_in_two_steps_and_the_decision_says_so(
        org: OrgChart) -> None:
    lax = replace(org, chain=replace(org.chain, allow_same_person_in_two_steps=True))
    state = laid_out(lax, drafter="guo_qiang", department="bgs")
    state = act(act(state, lax, "confirm", "guo_qiang"), lax, "approve", "ma_lin")
    state = act(act(state, lax, "approve", "wang_min"), lax, "sign", "wang_min")
    assert state.status is PostStatus.SIGNED
    assert state.decisions[-1].note == "same_person_allowed_by_config"


def test_whoever_made_a_revision_does_not_approve_it(org: OrgChart) -> None:
    # 刘洋 (法宣科 head and admin) lays out a 法宣科 post: the head step goes to the fallback.
    state = draft(drafter="zhao_xue", department="fxk")
    state = chain.apply(state, chain.new_revision(state, "liu_yang", org, revision(
        made_by="liu_yang"), on=DAY))
    state = act(state, org, "confirm", "zhao_xue")
    with pytest.raises(NotAllowed):
        act(state, org, "approve", "liu_yang")


def test_a_classified_revision_is_stopped_at_the_first_step_and_can_only_go_back(
        org: OrgChart) -> None:
    state = laid_out(org, revision(body="<p>机密★1年 会议纪要</p>"))
    with pytest.raises(GateBlocked) as info:
        act(state, org, "confirm", "li_na")
    assert {f.code for f in info.value.findings} == {"classified_marker"}
    zh = info.value.message("zh-CN")
    assert "不得进入审批" in zh and "机密★1年" in zh and "第十五、十八、二十六条" in zh
    assert "。；" not in zh and "must not go through the chain" in info.value.message("en")
    listed = permits.allowed_actions(state, "li_na", org, DAY)
    assert Action.CONFIRM not in listed and Action.REQUEST_CHANGES in listed
    back = act(state, org, "request_changes", "li_na", comment="含密级标识，请重新排版")
    assert back.status is PostStatus.CHANGES_REQUESTED
    assert chain.withdraw(state, "liu_yang", org, on=DAY).status_after is PostStatus.WITHDRAWN


def test_a_classified_revision_is_not_approved_at_a_later_step_either(org: OrgChart) -> None:
    # Approved before the marking was recognised (rows written before this rule): the next
    # leader is still refused.
    clean = act(laid_out(org), org, "confirm", "li_na")
    state = rebound(clean, revision(body="<p>【秘密】关于演练的通知</p>"))
    assert Action.APPROVE not in permits.allowed_actions(state, "zhang_wei", org, DAY)
    with pytest.raises(GateBlocked):
        act(state, org, "approve", "zhang_wei")


def test_signing_runs_every_gate_and_a_blocking_finding_refuses_it(org: OrgChart) -> None:
    state = rebound(through_reviewer(org), revision(body="<p>机密★1年 会议纪要</p>"))
    with pytest.raises(GateBlocked) as info:
        act(state, org, "sign", "wang_min")
    assert {f.code for f in info.value.findings if f.blocking} == {"classified_marker"}
    assert "第十五、十八、二十六条" in info.value.message("zh-CN")


def test_withdraw_rules_follow_the_status(org: OrgChart) -> None:
    state = laid_out(org)
    assert chain.apply(state, chain.withdraw(state, "li_na", org, on=DAY)).status is \
        PostStatus.WITHDRAWN
    signed = act(through_reviewer(org), org, "sign", "wang_min")
    with pytest.raises(NotAllowed):
        chain.withdraw(signed, "li_na", org, on=DAY)
    assert chain.withdraw(signed, "zhao_xue", org, on=DAY).status_after is PostStatus.WITHDRAWN
    assert chain.withdraw(signed, "wang_min", org, on=DAY).status_after is PostStatus.WITHDRAWN
    publishing = replace(signed, status=PostStatus.PUBLISHING)
    with pytest.raises(InvalidTransition):
        chain.withdraw(publishing, "zhao_xue", org, on=DAY)


def test_system_actions_are_not_for_people(org: OrgChart) -> None:
    signed = act(through_reviewer(org), org, "sign", "wang_min")
    for action in (Action.CLAIM, Action.MARK_PUBLISHED, Action.HOLD, Action.FAIL):
        with pytest.raises(NotAllowed):
            permits.permit(signed, action, "zhao_xue", org, DAY)


def test_an_on_hold_post_is_re_signed_by_the_currently_entitled_issuer(org: OrgChart) -> None:
    signed = act(through_reviewer(org), org, "sign", "wang_min")
    held = replace(signed, status=PostStatus.ON_HOLD)
    new_org = replace(org, issuer="zhou_jian")  # the issuer was replaced
    with pytest.raises(NotAllowed):
        act(held, new_org, "sign", "wang_min")
    resigned = act(held, new_org, "sign", "zhou_jian")
    assert resigned.status is PostStatus.SIGNED
    assert resigned.decision_for(Step.ISSUER).attempt == 1


def test_terminal_statuses_lead_nowhere() -> None:
    assert not [k for k in TRANSITIONS if k[0] in TERMINAL]


def test_a_chain_without_the_dept_head_step_skips_it(org: OrgChart) -> None:
    short = replace(org, chain=ChainConfig(steps=(Step.DRAFTER_CONFIRM, Step.REVIEWER,
                                                  Step.ISSUER), fallback=("zhou_jian",)))
    state = act(laid_out(short), short, "confirm", "li_na")
    assert permits.current_step(state, short) is Step.REVIEWER
    state = act(act(state, short, "approve", "chen_gang"), short, "sign", "wang_min")
    assert state.status is PostStatus.SIGNED


def test_an_on_hold_post_can_be_resubmitted_to_the_people_entitled_now(org: OrgChart) -> None:
    signed = act(through_reviewer(org), org, "sign", "wang_min")
    held = replace(signed, status=PostStatus.ON_HOLD)
    again = chain.apply(held, chain.resubmit(held, "zhao_xue", org, on=DAY,
                                             comment="分管领导调整，重新审批"))
    assert again.status is PostStatus.IN_REVIEW and again.decisions == ()
    assert permits.current_step(again, org) is Step.DRAFTER_CONFIRM


def _in_every_status(org: OrgChart) -> dict[PostStatus, PostState]:
    signed = act(through_reviewer(org), org, "sign", "wang_min")
    laid = laid_out(org)
    return {
        PostStatus.DRAFT: replace(laid, status=PostStatus.DRAFT, revision=None),
        PostStatus.IN_REVIEW: laid,
        PostStatus.CHANGES_REQUESTED: act(laid, org, "request_changes", "li_na", comment="改"),
        PostStatus.SIGNED: signed,
        PostStatus.ON_HOLD: replace(signed, status=PostStatus.ON_HOLD),
        PostStatus.FAILED: replace(signed, status=PostStatus.FAILED),
        PostStatus.PUBLISHING: replace(signed, status=PostStatus.PUBLISHING),
        PostStatus.PUBLISHED: replace(signed, status=PostStatus.PUBLISHED),
        PostStatus.REJECTED: replace(signed, status=PostStatus.REJECTED),
        PostStatus.WITHDRAWN: replace(signed, status=PostStatus.WITHDRAWN),
    }


def test_schedule_is_offered_to_the_admins_and_the_operator_until_publishing_starts(
        org: OrgChart) -> None:
    open_for_it = {PostStatus.DRAFT, PostStatus.IN_REVIEW, PostStatus.CHANGES_REQUESTED,
                   PostStatus.SIGNED, PostStatus.ON_HOLD, PostStatus.FAILED}
    for status, state in _in_every_status(org).items():
        for person in ("zhao_xue", "liu_yang", "he_jing"):  # the admins and the operator
            offered = Action.SCHEDULE in permits.allowed_actions(state, person, org, DAY)
            assert offered is (status in open_for_it), (status, person)
        for person in ("li_na", "zhang_wei", "chen_gang", "wang_min", "zhou_jian", "xu_fang",
                       "mallory"):
            assert Action.SCHEDULE not in permits.allowed_actions(state, person, org, DAY), \
                (status, person)


def test_scheduling_keeps_the_status_and_records_when_and_how(org: OrgChart) -> None:
    signed = act(through_reviewer(org), org, "sign", "wang_min")
    now = datetime(2026, 12, 8, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    at = now + timedelta(days=1)
    result = chain.schedule(signed, "he_jing", org, on=DAY, now=now, at=at, mode="mass_send")
    assert result.status_after is PostStatus.SIGNED
    assert result.schedule == chain.Schedule(at, PublishMode.MASS_SEND)
    with pytest.raises(NotAllowed):
        chain.schedule(signed, "wang_min", org, on=DAY, now=now, at=at, mode="publish")


@pytest.mark.parametrize(("at", "mode", "says"), [
    (datetime(2026, 12, 8, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")), "publish", "has passed"),
    (datetime(2026, 12, 9, 9, 0), "publish", "time zone"),
    (None, "broadcast", "publish or mass_send"),
])
def test_scheduling_refuses_a_past_or_naive_time_and_an_unknown_mode(
        org: OrgChart, at: datetime | None, mode: str, says: str) -> None:
    now = datetime(2026, 12, 8, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with pytest.raises(InvalidInput) as info:
        chain.schedule(laid_out(org), "zhao_xue", org, on=DAY, now=now, at=at, mode=mode)
    assert says in info.value.message("en")


def test_the_workers_moves_are_in_the_one_transition_table() -> None:
    assert advance(PostStatus.SIGNED, Action.CLAIM) is PostStatus.PUBLISHING
    assert advance(PostStatus.PUBLISHING, Action.CLAIM) is PostStatus.PUBLISHING  # a takeover
    assert advance(PostStatus.PUBLISHING, Action.MARK_PUBLISHED) is PostStatus.PUBLISHED
    assert advance(PostStatus.SIGNED, Action.HOLD) is PostStatus.ON_HOLD
    for status, action in ((PostStatus.SIGNED, Action.MARK_PUBLISHED),
                           (PostStatus.IN_REVIEW, Action.CLAIM),
                           (PostStatus.PUBLISHED, Action.FAIL)):
        with pytest.raises(InvalidTransition):
            advance(status, action)


def test_an_unconfirmed_outcome_is_settled_by_a_person_never_by_a_retry(org: OrgChart) -> None:
    assert advance(PostStatus.PUBLISHING, Action.CANNOT_CONFIRM) is PostStatus.UNCONFIRMED
    unconfirmed = replace(act(through_reviewer(org), org, "sign", "wang_min"),
                          status=PostStatus.UNCONFIRMED)
    with pytest.raises(InvalidTransition):
        chain.retry(unconfirmed, "zhao_xue", org, on=DAY)
    with pytest.raises(NotAllowed):
        permits.permit(unconfirmed, Action.CANNOT_CONFIRM, "zhao_xue", org, DAY)
    published = chain.confirm_published(unconfirmed, "he_jing", org, on=DAY,
                                        url="https://mp.weixin.qq.com/s/x")
    assert published.status_after is PostStatus.PUBLISHED
    absent = chain.confirm_absent(unconfirmed, "zhao_xue", org, on=DAY, comment="后台没有")
    assert absent.status_after is PostStatus.SIGNED
    for person in ("li_na", "wang_min", "xu_fang", "mallory"):
        assert permits.allowed_actions(unconfirmed, person, org, DAY) == []
