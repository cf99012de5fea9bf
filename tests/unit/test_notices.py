"""Who is told what when a post moves (art. 27): pure rules over the example org chart."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from approvals.rules import chain
from approvals.rules.notices import Event, Notice, channels_for, notices
from approvals.rules.org import OrgChart
from approvals.rules.records import PostState
from approvals.rules.states import PostStatus, Step
from tests.conftest import Personas
from tests.helpers import DAY, act, draft, laid_out, revision, through_reviewer


def told(before: PostState, after: PostState, actor: str, org: OrgChart,
         on: date = DAY) -> set[tuple[Event, str]]:
    return {(n.event, n.recipient) for n in notices(before, after, actor, org, on)}


def test_a_laid_out_revision_asks_the_drafter_to_confirm(org: OrgChart, who: Personas) -> None:
    before = draft()
    after = laid_out(org)
    assert told(before, after, who.operator, org) == {(Event.STEP_OPENED, who.drafter)}


def test_each_approval_opens_the_next_step_and_the_drafter_and_admins_follow(
        org: OrgChart, who: Personas) -> None:
    state = laid_out(org)
    confirmed = act(state, org, "confirm", who.drafter)
    follow = {(Event.PROGRESS, p) for p in (who.drafter, *org.admins)}
    # The drafter is never told of her own step.
    assert told(state, confirmed, who.drafter, org) == \
        {(Event.STEP_OPENED, who.head)} | (follow - {(Event.PROGRESS, who.drafter)})
    approved = act(confirmed, org, "approve", who.head)
    reviewed = act(approved, org, "approve", who.leader)
    assert told(approved, reviewed, who.leader, org) == {(Event.STEP_OPENED, who.issuer)} | follow
    signed = act(reviewed, org, "sign", who.issuer)
    assert signed.status is PostStatus.SIGNED
    progress = [n for n in notices(reviewed, signed, who.issuer, org, DAY)]
    assert {(n.event, n.recipient) for n in progress} == follow
    assert {n.step for n in progress} == {Step.ISSUER}
    # A comment or a clearance on the same step decides nothing: nobody is told.
    assert told(signed, signed, who.admin, org) == set()


def test_a_deputy_hears_of_a_step_they_may_take_for_the_leader(org: OrgChart,
                                                                who: Personas) -> None:
    confirmed = act(laid_out(org), org, "confirm", who.drafter)
    approved = act(confirmed, org, "approve", who.head)
    found = [n for n in notices(confirmed, approved, who.head, org, DAY)
             if n.event is Event.STEP_OPENED]
    assert found == [Notice(Event.STEP_OPENED, who.leader, Step.REVIEWER),
                     Notice(Event.STEP_OPENED, who.deputy, Step.REVIEWER,
                            on_behalf_of=who.leader)]
    # Outside the delegation's dates (2026-12-07..18) only the leader is told.
    later = notices(confirmed, approved, who.head, org, date(2026, 12, 21))
    assert [n.recipient for n in later if n.event is Event.STEP_OPENED] == [who.leader]


def test_changes_requested_tell_the_admins_the_operator_and_the_drafter(
        org: OrgChart, who: Personas) -> None:
    confirmed = act(laid_out(org), org, "confirm", who.drafter)
    sent_back = act(confirmed, org, "request_changes", who.head)
    assert sent_back.status is PostStatus.CHANGES_REQUESTED
    expected = {(Event.CHANGES_REQUESTED, p) for p in (*org.admins, *org.operators, who.drafter)}
    assert told(confirmed, sent_back, who.head, org) == expected


def test_a_rejection_tells_the_chain_so_far_and_the_admins_never_the_one_who_rejected(
        org: OrgChart, who: Personas) -> None:
    reviewed = through_reviewer(org)
    rejected = act(reviewed, org, "reject", who.issuer)
    expected = {(Event.REJECTED, p) for p in (who.drafter, who.head, who.leader, *org.admins)}
    assert told(reviewed, rejected, who.issuer, org) == expected


def test_a_withdrawal_tells_the_chain_except_whoever_withdrew(org: OrgChart,
                                                              who: Personas) -> None:
    confirmed = act(laid_out(org), org, "confirm", who.drafter)
    result = chain.withdraw(confirmed, who.drafter, org, on=DAY)
    gone = chain.apply(confirmed, result)
    assert told(confirmed, gone, who.drafter, org) == {(Event.WITHDRAWN, p) for p in org.admins}


def test_the_outcome_of_publishing_reaches_everyone_in_the_chain(org: OrgChart,
                                                                 who: Personas) -> None:
    signed = act(through_reviewer(org), org, "sign", who.issuer)
    publishing = replace(signed, status=PostStatus.PUBLISHING)
    chain_people = {who.drafter, who.head, who.leader, who.issuer, *org.admins}
    for status, event in ((PostStatus.PUBLISHED, Event.PUBLISHED),
                          (PostStatus.FAILED, Event.FAILED)):
        after = replace(publishing, status=status)
        assert told(publishing, after, "worker", org) == {(event, p) for p in chain_people}


def test_a_hold_also_tells_whoever_may_sign_again_under_the_chart_as_it_stands(
        org: OrgChart, who: Personas) -> None:
    signed = act(through_reviewer(org), org, "sign", who.issuer)
    reorganised = replace(org, issuer=who.principal)  # the issuer was replaced after the sign-off
    held = replace(signed, status=PostStatus.ON_HOLD)
    recipients = {p for _, p in told(signed, held, "worker", reorganised)}
    assert who.principal in recipients and who.issuer in recipients
    assert set(org.admins) <= recipients


def test_a_person_holding_two_roles_is_told_once(org: OrgChart, who: Personas) -> None:
    # A 法宣科 post by 赵雪 (an admin): 刘洋 approves as head and is an admin too; 王敏 reviews,
    # so the principal leader signs (four eyes).
    state = laid_out(org, drafter="zhao_xue", department="fxk")
    for action, person in (("confirm", "zhao_xue"), ("approve", "liu_yang"),
                           ("approve", who.issuer), ("sign", who.principal)):
        state = act(state, org, action, person)
    publishing = replace(state, status=PostStatus.PUBLISHING)
    found = notices(publishing, replace(state, status=PostStatus.PUBLISHED), "worker", org, DAY)
    assert sorted(n.recipient for n in found) == sorted(
        ["zhao_xue", "liu_yang", who.issuer, who.principal])


def test_a_step_nobody_may_take_is_reported_to_the_admins(org: OrgChart, who: Personas) -> None:
    bare = replace(org, principal_leader=None, chain=replace(org.chain, fallback=()))
    state = laid_out(bare, drafter="guo_qiang", department="bgs")  # 办公室: its leader issues
    state = act(state, bare, "confirm", "guo_qiang")
    state = act(state, bare, "approve", "ma_lin")
    reviewed = act(state, bare, "approve", who.issuer)
    found = notices(state, reviewed, who.issuer, bare, DAY)
    assert {(n.event, n.recipient, n.step) for n in found if n.event is not Event.PROGRESS} == {
        (Event.NO_ONE_FOR_STEP, a, Step.ISSUER) for a in bare.admins}


def test_recording_a_clearance_or_a_schedule_opens_no_new_step(org: OrgChart,
                                                               who: Personas) -> None:
    body = "<p>联系人郭强，电话 13912345678。</p>"
    reviewed = through_reviewer(org, laid_out(org, revision(body=body)))
    h = reviewed.revision.content_hash  # type: ignore[union-attr]
    cleared = chain.apply(reviewed, chain.clear_pii(reviewed, who.issuer, org, on=DAY,
                                                    basis="consent", reason="本人同意",
                                                    revision_hash=h))
    assert notices(reviewed, cleared, who.issuer, org, DAY) == []


def test_the_log_channel_reaches_everyone_and_unknown_channels_no_one(org: OrgChart) -> None:
    person = org.people["li_na"]
    assert channels_for(person, ("log",)) == ["log"]
    assert channels_for(person, ("pager",)) == []
    assert channels_for(person, ()) == []
