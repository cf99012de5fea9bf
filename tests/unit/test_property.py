"""Property tests of the pure chain: random people take random verbs on random revisions.

A state machine walks one post from its draft: the operator, admins, leaders, staff of other
departments and the stranger "mallory" lay out revisions (some carrying a classification marking
or personal data, art. 15, 16, 18), confirm, approve, sign, request changes, reject, withdraw,
resubmit, record personal-data clearances and retry, on days inside and outside the example
delegation, sometimes with a stale revision hash, while the org chart changes under them (the
issuer replaced, the delegation removed). The publishing worker's own transitions are modelled as
status changes along `states.TRANSITIONS`.

Every verb either succeeds or raises a named error; StaleRevision comes exactly when a decision
the post would otherwise consider carries a hash other than the current one; statuses move only
along the transition table and a closed post accepts nothing. After every step: each decision of
the run is on the current revision; no one approves their own draft or layout, and no one fills two
steps (art. 25, 27, 28); a signed post passes every gate under the org chart it was signed under,
with every step approved; and `allowed_actions` offers exactly what the verbs then accept.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from approvals.config.orgfile import load_org
from approvals.rules import assign, chain, gates, permits
from approvals.rules.errors import (
    AlreadyDecided,
    GateBlocked,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    SignoffError,
    StaleRevision,
)
from approvals.rules.records import Outcome, PostState, RevisionInfo
from approvals.rules.revisions import RevisionContent
from approvals.rules.states import (
    STEP_VERB,
    SYSTEM_ACTIONS,
    TRANSITIONS,
    Action,
    Category,
    Classification,
    PostStatus,
    Step,
    next_status,
)
from tests.conftest import EXAMPLE_ORG
from tests.helpers import DAY

# Every error a verb of the chain may raise; anything else escaping a verb fails the test.
NAMED_ERRORS = (InvalidTransition, NotAllowed, InvalidInput, GateBlocked)
CLOSED = frozenset({PostStatus.REJECTED, PostStatus.WITHDRAWN, PostStatus.PUBLISHED})
# The worker's states: the post and its decisions stay as they were when it was signed.
AFTER_SIGNING = frozenset({PostStatus.SIGNED, PostStatus.PUBLISHING, PostStatus.PUBLISHED,
                           PostStatus.FAILED})

EXAMPLE = load_org(EXAMPLE_ORG)
assert not EXAMPLE.chain.allow_same_person_in_two_steps  # the four-eyes invariant relies on it

ORG_VARIANTS = {
    "example": EXAMPLE,
    "issuer_zhou_jian": replace(EXAMPLE, issuer="zhou_jian"),  # the fallback becomes the issuer
    "issuer_chen_gang": replace(EXAMPLE, issuer="chen_gang"),  # 应急救援科's reviewer
    "issuer_sun_li": replace(EXAMPLE, issuer="sun_li"),  # the reviewer's deputy
    "no_delegation": replace(EXAMPLE, delegations=()),
    "issuer_zhou_jian_no_delegation": replace(EXAMPLE, issuer="zhou_jian", delegations=()),
}
PEOPLE = (*sorted(EXAMPLE.people), "mallory")
DAYS = (DAY, date(2026, 12, 6), date(2026, 12, 7), date(2026, 12, 18), date(2026, 12, 19))

ID_NUMBER = "320500198503171249"  # a valid resident ID (GB 11643 check character)
BODIES = {
    "plain": "<p>12月7日，我局开展应急演练。</p>",
    "corrected": "<p>12月7日，我局开展应急演练，120人参加。</p>",
    "marker": "<p>机密★1年 会议纪要</p>",
    "mention": "<p>依据《中华人民共和国保守国家秘密法》开展培训。</p>",
    "resident_id": f"<p>联系人身份证号{ID_NUMBER}。</p>",
    "mobile": "<p>咨询电话13812345678。</p>",
}
SOURCES = (None, "https://www.mem.gov.cn/xw/yjglbgzdt/", "应急管理部", None, "https://gov.cn.evil.com/")
# Benign layouts are drawn more often, so that enough walks get as far as the issuer.
BODY_CHOICES = ("plain", "plain", "corrected", "corrected", "mention", "marker", "resident_id",
                "mobile")
STRANGE_HASH = "f" * 64


def _mostly(usual: tuple[str, ...]) -> st.SearchStrategy[str]:
    """One of `usual` three times in four, else anyone at all (mallory included)."""
    return st.one_of(*[st.sampled_from(usual)] * 3, st.sampled_from(PEOPLE))


# Symbolic choices ("@...") are resolved against the post as it stands, so that random walks
# reach the issuer's step often enough; plain keys are anyone in the chart, or mallory.
ROLES = ("@holder", "@deputy", "@drafter", "@issuer", "@admin", "@operator", "@admin2")
ACTORS = st.one_of(st.sampled_from(ROLES), st.sampled_from(PEOPLE))
DECISIONS = st.one_of(st.just("@verb"), st.sampled_from(sorted(chain.DECISION_ACTIONS)))
HASHES = st.sampled_from(("current", "current", "current", "older", "strange", "none"))
COMMENTS = st.sampled_from(("同意", "人数有误，请核实", "", "  "))


def _content(body: str, source: str | None, category: Category) -> RevisionContent:
    return RevisionContent(title="我局开展应急演练", body_html=body, category=category.value,
                           author="吴江应急", repost_source=source).normalized()


# A layout never used by the walk, to ask whether someone may lay out a new revision.
FRESH = {c: RevisionInfo(99, (f := _content("<p>核对用排版稿</p>", None, c)), f.content_hash(), "")
         for c in Category}


# (state, org chart variant, day, person) the allowed-actions invariant already found consistent.
ALREADY_ASKED: set[tuple[PostState, str, date, str]] = set()


class ChainWalk(RuleBasedStateMachine):
    """One post, one org chart (that may change), and every verb anyone may try on it."""

    state: PostState

    @initialize(
        department=st.sampled_from(("jyk", "fxk", "jck", "bgs")),  # 李娜's first: the delegation
        drafter=_mostly(("@member0", "@member1")),
        category=st.sampled_from(list(Category)),
        classification=st.sampled_from((Classification.PROACTIVE,) * 5 + tuple(Classification)),
        body=st.one_of(*[st.sampled_from(BODY_CHOICES)] * 4, st.none()),
        source=st.sampled_from(SOURCES),
        clean=st.sampled_from((True, False)),
        maker=st.sampled_from(("@operator", "@operator", "@admin", "@admin2")),
    )
    def draft(self, department: str, drafter: str, category: Category,
              classification: Classification, body: str | None, source: str | None,
              clean: bool, maker: str) -> None:
        if clean:  # half the walks start from a post only its content may keep from signing
            drafter, classification = "@member1", Classification.PROACTIVE
            body, source = body or "plain", source or SOURCES[1]
        if drafter.startswith("@member"):
            members = EXAMPLE.departments[department].members
            drafter = members[int(drafter[-1]) % len(members)]
        self.org, self.org_name = EXAMPLE, "example"
        self.day = DAY
        self.sign_org = EXAMPLE  # the org chart the post was last signed under
        self.hashes: list[str] = []  # every revision hash the post has had
        self.state = PostState(id=1, status=PostStatus.DRAFT, department=department,
                               drafter=drafter, category=category, classification=classification)
        if body is not None:  # most walks start from a first layout
            self.lay_out(maker, body, source, DAY)

    # --- resolving symbolic choices -----------------------------------------------------------

    def _open_step(self) -> Step | None:
        if self.state.status is PostStatus.ON_HOLD:
            return Step.ISSUER
        return permits.current_step(self.state, self.org)

    def _actor(self, choice: str) -> str:
        org, step = self.org, self._open_step()
        holder = self.state.drafter
        if step is not None:
            holder = assign.resolve_assignee(self.state, step, org).person or org.issuer
        return {
            "@holder": holder,
            "@deputy": next((g.deputy for g in org.delegations if g.principal == holder),
                            org.delegations[0].deputy if org.delegations else holder),
            "@drafter": self.state.drafter,
            "@issuer": org.issuer,
            "@admin": org.admins[0],
            "@admin2": org.admins[-1],  # 刘洋, also the 法宣科 head
            "@operator": org.operators[0],
        }.get(choice, choice)

    def _action(self, choice: str) -> Action:
        if choice == "@verb":
            step = self._open_step()
            return STEP_VERB[step] if step is not None else Action.SIGN
        return Action(choice)

    def _hash(self, choice: str) -> str | None:
        current = self.state.revision.content_hash if self.state.revision else None
        if choice == "current":
            return current
        if choice == "older":
            return next((h for h in reversed(self.hashes) if h != current), STRANGE_HASH)
        return STRANGE_HASH if choice == "strange" else None

    # --- applying results ---------------------------------------------------------------------

    def _advance(self, result: chain.Result) -> None:
        """Check a successful verb against the transition table and apply it."""
        before = self.state
        assert before.status not in CLOSED, f"{result.action} was accepted on a {before.status} post"
        assert result.status_before is before.status
        assert TRANSITIONS.get((before.status, result.action)) is result.status_after
        assert result.actor in self.org.people, "someone outside the org chart acted"
        self.state = chain.apply(before, result)
        assert self.state.status is result.status_after
        event(f"reached {self.state.status.value}")

    def _refused(self, err: SignoffError) -> None:
        assert err.text.zh and err.text.en
        if self.state.status in CLOSED:
            assert isinstance(err, InvalidTransition), f"{self.state.status} post answered {err!r}"

    # --- the verbs ------------------------------------------------------------------------------

    @rule(action=DECISIONS, actor=ACTORS, which=HASHES, comment=COMMENTS,
          day=st.sampled_from(DAYS))
    def decide(self, action: str, actor: str, which: str, comment: str, day: date) -> None:
        verb, who, digest = self._action(action), self._actor(actor), self._hash(which)
        state, org, self.day = self.state, self.org, day
        considered = (next_status(state.status, verb) is not None and who in org.people
                      and state.revision is not None)
        stale = considered and digest is not None and digest != state.revision.content_hash
        try:
            result = chain.decide(state, verb, who, org, on=day, revision_hash=digest,
                                  comment=comment)
        except NAMED_ERRORS as err:
            self._refused(err)
            assert isinstance(err, StaleRevision) == stale, (
                f"{verb} by {who} with hash {which}: StaleRevision expected={stale}, got {err!r}")
            if next_status(state.status, verb) is None:
                assert type(err) is InvalidTransition
            if isinstance(err, GateBlocked):
                assert gates.blocking(list(err.findings))
                # Signing runs every gate; confirming and approving stop only a classified revision.
                assert verb is Action.SIGN or (
                    verb in (Action.CONFIRM, Action.APPROVE)
                    and {f.code for f in err.findings} == {"classified_marker"})
            if isinstance(err, InvalidInput):
                assert verb in chain.COMMENT_REQUIRED and not comment.strip()
            return
        assert not stale, f"{verb} by {who} on a stale hash was accepted"
        decision = result.decision
        assert decision is not None and state.revision is not None
        assert decision.actor == who and decision.run == state.run and decision.decided_on == day
        assert decision.revision_hash == state.revision.content_hash
        if decision.on_behalf_of is not None:  # 代签 only inside a delegation's dates and steps
            assert any(g.deputy == who and g.principal == decision.on_behalf_of
                       and g.start <= day <= g.end and (not g.steps or decision.step in g.steps)
                       for g in org.delegations)
        self._advance(result)
        if result.status_after is PostStatus.SIGNED:
            self.sign_org = org

    @rule(count=st.sampled_from((4, 2, 1)), actor=st.sampled_from(("@holder", "@holder", "@deputy")),
          day=st.sampled_from(DAYS),
          last=st.sampled_from(("@verb",) * 4 + (Action.REQUEST_CHANGES, Action.REJECT)))
    def take_the_open_steps(self, count: int, actor: str, day: date, last: str) -> None:
        """Whoever holds the open step takes it with the current hash, `count` times in a row;
        the last of them may send the post back or reject it instead."""
        for i in range(count):
            verb = last if i == count - 1 else "@verb"
            self.decide(verb, actor, "current", "请核实后再报" if verb != "@verb" else "同意", day)
            self._check_everything()

    # Registered twice: the chain moves on about as often as anything else happens to the post.
    keep_taking_the_open_steps = take_the_open_steps

    @rule(actor=ACTORS, body=st.sampled_from(BODY_CHOICES), source=st.sampled_from(SOURCES),
          day=st.sampled_from(DAYS))
    def lay_out(self, actor: str, body: str, source: str | None, day: date) -> None:
        who, state = self._actor(actor), self.state
        content = _content(BODIES[body], source, state.category)
        number = state.revision.number + 1 if state.revision else 1
        revision = RevisionInfo(number, content, content.content_hash(), who)
        identical = state.revision is not None and state.revision.content_hash == revision.content_hash
        try:
            result = chain.new_revision(state, who, self.org, revision, on=day)
        except NAMED_ERRORS as err:
            self._refused(err)
            assert not isinstance(err, (StaleRevision, GateBlocked))
            if isinstance(err, InvalidInput):
                assert identical
            return
        assert not identical, "a revision identical to the current one was accepted"
        assert result.restart and result.revision == revision
        self.hashes.append(revision.content_hash)
        self._advance(result)
        assert self.state.decisions == () and self.state.run == state.run + 1
        assert self.state.revision == revision

    @rule(verb=st.sampled_from((Action.RESUBMIT, Action.RETRY, Action.WITHDRAW)),
          actor=st.sampled_from((*PEOPLE, "@admin", "@drafter", "@issuer")),
          comment=COMMENTS, day=st.sampled_from(DAYS))
    def withdraw_resubmit_or_retry(self, verb: Action, actor: str, comment: str, day: date) -> None:
        who, state, org = self._actor(actor), self.state, self.org
        try:
            if verb is Action.WITHDRAW:
                result = chain.withdraw(state, who, org, on=day, comment=comment)
            elif verb is Action.RESUBMIT:
                result = chain.resubmit(state, who, org, on=day, comment=comment)
            else:
                result = chain.retry(state, who, org, on=day, comment=comment)
        except NAMED_ERRORS as err:
            self._refused(err)
            assert not isinstance(err, (StaleRevision, AlreadyDecided, GateBlocked))
            if isinstance(err, InvalidInput):
                assert verb is Action.RESUBMIT and not comment.strip()
            return
        self._advance(result)
        if verb is Action.RESUBMIT:  # the same revision walks the chain again from the drafter
            assert comment.strip()
            assert self.state.decisions == () and self.state.run == state.run + 1
            assert self.state.revision == state.revision

    @rule(actor=st.one_of(st.sampled_from(("@holder", "@issuer", "@deputy")), ACTORS),
          which=HASHES, day=st.sampled_from(DAYS),
          basis=st.sampled_from(("consent", "public_interest", "because")),
          reason=st.sampled_from(("经本人书面同意公开", " ")))
    def clear_pii(self, actor: str, which: str, day: date, basis: str, reason: str) -> None:
        who, digest, state, org = self._actor(actor), self._hash(which), self.state, self.org
        try:
            permits.permit(state, Action.CLEAR_PII, who, org, day)
            permitted = True
        except (InvalidTransition, NotAllowed):
            permitted = False
        current = state.revision.content_hash if state.revision else None
        # As in decide: a stale hash is refused as stale once the action applies to the status
        # and the actor is known, before entitlement is judged.
        considered = (next_status(state.status, Action.CLEAR_PII) is not None
                      and who in org.people and state.revision is not None)
        stale = considered and digest is not None and digest != current
        try:
            result = chain.clear_pii(state, who, org, on=day, basis=basis, reason=reason,
                                     revision_hash=digest)
        except NAMED_ERRORS as err:
            self._refused(err)
            assert isinstance(err, StaleRevision) == stale, (
                f"clear_pii by {who} with hash {which}: StaleRevision expected={stale}, got {err!r}")
            if isinstance(err, InvalidInput):
                assert basis == "because" or not reason.strip() \
                    or not gates.gate_personal_data(state, org)  # nothing to clear
            assert not isinstance(err, GateBlocked)
            return
        assert permitted and not stale
        assert result.clearance is not None and result.clearance.revision_hash == current
        self._advance(result)
        assert self.state.clearance == result.clearance

    @precondition(lambda self: self.state.status in (PostStatus.SIGNED, PostStatus.PUBLISHING))
    @rule(action=st.sampled_from(sorted(SYSTEM_ACTIONS)))
    def worker(self, action: Action) -> None:
        """The publishing worker claims, publishes, holds or fails the post (a later part)."""
        after = next_status(self.state.status, action)
        if after is not None:
            self.state = replace(self.state, status=after)
            event(f"reached {after.value}")

    # Rules that only run where they apply, so that the later statuses are reached as well.

    @precondition(lambda self: self._open_step() is Step.ISSUER and any(
        f.code == "personal_data" for f in gates.gate_personal_data(self.state, self.org)))
    @rule(actor=st.sampled_from(("@holder", "@deputy", "@drafter", "mallory")), which=HASHES,
          basis=st.sampled_from(("consent", "public_interest")), day=st.sampled_from(DAYS))
    def the_issuer_records_a_clearance(self, actor: str, which: str, basis: str, day: date) -> None:
        self.clear_pii(actor, which, day, basis, "经本人书面同意公开")

    @precondition(lambda self: self._open_step() is not None and any(
        g.principal == self._actor("@holder") for g in self.org.delegations))
    @rule(day=st.sampled_from((date(2026, 12, 19), date(2026, 12, 6), *DAYS)))
    def a_deputy_takes_the_open_step(self, day: date) -> None:
        """代签: only on the days the delegation covers (the example's runs 2026-12-07..18)."""
        self.decide("@verb", "@deputy", "current", "同意", day)

    @precondition(lambda self: self.state.status in (PostStatus.CHANGES_REQUESTED,
                                                     PostStatus.FAILED))
    @rule(actor=st.sampled_from(("@admin", "@drafter", "@issuer")), day=st.sampled_from(DAYS))
    def an_admin_picks_the_post_up_again(self, actor: str, day: date) -> None:
        verb = Action.RETRY if self.state.status is PostStatus.FAILED else Action.RESUBMIT
        self.withdraw_resubmit_or_retry(verb, actor, "已核实无误", day)

    @rule(variant=st.sampled_from(sorted(ORG_VARIANTS)))
    def change_org_chart(self, variant: str) -> None:
        self.org, self.org_name = ORG_VARIANTS[variant], variant

    # --- invariants -------------------------------------------------------------------------

    def _check_everything(self) -> None:
        self.every_decision_of_the_run_is_on_the_current_revision()
        self.nobody_approves_their_own_work_or_fills_two_steps()
        self.a_classified_revision_travels_no_step()
        self.a_signed_post_passed_every_gate_with_every_step_approved()
        self.allowed_actions_agree_with_what_the_verbs_do()

    @invariant()
    def every_decision_of_the_run_is_on_the_current_revision(self) -> None:
        s = self.state
        if s.revision is None:  # only a draft has none, or a draft withdrawn before layout
            assert s.status in (PostStatus.DRAFT, PostStatus.WITHDRAWN) and s.run == 0
        for d in s.decisions:
            assert d.run == s.run
            assert s.revision is not None and d.revision_hash == s.revision.content_hash

    @invariant()
    def nobody_approves_their_own_work_or_fills_two_steps(self) -> None:
        s = self.state
        maker = s.revision.made_by if s.revision else None
        steps_of: dict[str, set[Step]] = defaultdict(set)
        for d in s.decisions:
            who = {d.actor, d.principal}
            for person in who:
                steps_of[person].add(d.step)
            if d.step is not Step.DRAFTER_CONFIRM:
                assert s.drafter not in who, f"the drafter took {d.step}"
                assert maker not in who, f"the revision's maker took {d.step}"
        twice = {p: steps for p, steps in steps_of.items() if len(steps) > 1}
        assert not twice, f"one person in two steps: {twice}"

    @invariant()
    def a_classified_revision_travels_no_step(self) -> None:
        s = self.state
        if gates.classified_blocking(s):
            assert not [d for d in s.decisions if d.outcome is Outcome.APPROVED], \
                "a revision with a classification marking was confirmed or approved"

    @invariant()
    def a_signed_post_passed_every_gate_with_every_step_approved(self) -> None:
        s = self.state
        if s.status not in AFTER_SIGNING:
            return
        findings = gates.blocking(gates.evaluate(s, self.sign_org))
        assert not findings, [f.code for f in findings]
        for step in self.sign_org.chain.steps:
            d = s.decision_for(step)
            assert d is not None and d.outcome is Outcome.APPROVED, f"{step} not approved"

    @invariant()
    def allowed_actions_agree_with_what_the_verbs_do(self) -> None:
        s, org, day = self.state, self.org, self.day
        fresh = FRESH[s.category]
        for person in PEOPLE:
            if (key := (s, self.org_name, day, person)) in ALREADY_ASKED:
                continue  # the functions are pure: walks share prefixes, ask each question once
            listed = permits.allowed_actions(s, person, org, day)
            if s.status in CLOSED:
                assert listed == [], f"{person} is offered {listed} on a {s.status} post"
            calls = {
                Action.WITHDRAW: lambda p=person: chain.withdraw(s, p, org, on=day),
                Action.RESUBMIT: lambda p=person: chain.resubmit(s, p, org, on=day, comment="已核实"),
                Action.RETRY: lambda p=person: chain.retry(s, p, org, on=day),
                Action.NEW_REVISION: lambda p=person: chain.new_revision(
                    s, p, org, replace(fresh, made_by=p), on=day),
                **{a: (lambda p=person, a=a: chain.decide(
                    s, a, p, org, on=day, comment="意见",
                    revision_hash=s.revision.content_hash if s.revision else None))
                   for a in chain.DECISION_ACTIONS},
            }
            for action, call in calls.items():
                if next_status(s.status, action) is None:
                    # every verb refuses these first (the walk's rules check it); none is offered
                    assert action not in listed, f"{action} is offered on a {s.status} post"
                    continue
                try:
                    call()
                except (InvalidTransition, NotAllowed) as err:
                    assert action not in listed, f"{action} is offered to {person} but: {err!r}"
                except GateBlocked:
                    # Signing is offered and then runs the gates; a classified revision is not
                    # offered for confirming or approving at all.
                    assert (action is Action.SIGN) == (action in listed), (action, listed)
                else:
                    assert action in listed, f"{action} works for {person} but is not offered"
            # A clearance is offered only where there is personal data to clear (art. 16).
            try:
                chain.clear_pii(s, person, org, on=day, basis="consent", reason="经本人书面同意",
                                revision_hash=s.revision.content_hash if s.revision else None)
            except (InvalidTransition, NotAllowed, InvalidInput) as err:
                assert Action.CLEAR_PII not in listed, f"clear_pii offered to {person}: {err!r}"
            else:
                has_pii = any(f.code.startswith("personal_data")
                              for f in gates.gate_personal_data(s, org))
                assert (Action.CLEAR_PII in listed) == has_pii
            ALREADY_ASKED.add(key)  # only once answered right, so a failure replays when shrunk


def test_random_walks_through_the_chain_keep_every_invariant() -> None:
    run_state_machine_as_test(
        ChainWalk, settings=settings(max_examples=200, deadline=None, stateful_step_count=30))
