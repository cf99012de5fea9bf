"""The approval chain as pure functions: what a person may do, and what each verb does."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from approvals.rules import gates
from approvals.rules.errors import (
    AlreadyDecided,
    GateBlocked,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    StaleRevision,
    Text,
)
from approvals.rules.gates import Assignment, Finding
from approvals.rules.org import OrgChart
from approvals.rules.records import (
    Clearance,
    ClearanceBasis,
    DecisionRecord,
    Outcome,
    PostState,
    RevisionInfo,
)
from approvals.rules.states import (
    ACTION_LABEL,
    STATUS_LABEL,
    STEP_LABEL,
    STEP_VERB,
    SYSTEM_ACTIONS,
    Action,
    PostStatus,
    Step,
    next_status,
)

PERSON_ACTIONS = tuple(a for a in Action if a not in SYSTEM_ACTIONS)
DECISION_ACTIONS = frozenset({Action.CONFIRM, Action.APPROVE, Action.SIGN,
                              Action.REQUEST_CHANGES, Action.REJECT})
COMMENT_REQUIRED = frozenset({Action.REQUEST_CHANGES, Action.REJECT, Action.RESUBMIT})


@dataclass(frozen=True)
class Result:
    """What a verb decided: the new status and the records the store must write."""

    action: Action
    status_before: PostStatus
    status_after: PostStatus
    actor: str
    step: Step | None = None
    decision: DecisionRecord | None = None
    restart: bool = False  # a new run begins; every earlier decision is void
    revision: RevisionInfo | None = None
    clearance: Clearance | None = None
    findings: tuple[Finding, ...] = ()
    assignment: Assignment | None = None
    comment: str = ""


@dataclass(frozen=True)
class Permit:
    """Why an action is allowed: the step it completes and for whom (代签)."""

    step: Step | None = None
    on_behalf_of: str | None = None
    assignment: Assignment | None = None


def current_step(state: PostState, org: OrgChart) -> Step | None:
    """The first step of the chain not yet approved in this run (None outside review)."""
    if state.status is not PostStatus.IN_REVIEW:
        return None
    done = state.approved_steps()
    return next((s for s in org.chain.steps if s not in done), None)


def _name(org: OrgChart, key: str) -> str:
    return org.name_of(key)


def _check_transition(state: PostState, action: Action) -> PostStatus:
    after = next_status(state.status, action)
    if after is None:
        raise InvalidTransition(
            Text("稿件当前状态为“{s}”，不能执行“{a}”。",
                 "The post is “{s_en}”; “{a_en}” does not apply.")
            .format(s=STATUS_LABEL[state.status].zh, s_en=STATUS_LABEL[state.status].en,
                    a=ACTION_LABEL[action].zh, a_en=ACTION_LABEL[action].en)
        )
    return after


def _not_allowed(org: OrgChart, actor: str, action: Action, why: Text | None = None) -> NotAllowed:
    who = _name(org, actor) if actor in org.people else actor
    base = Text("{p}无权对本稿执行“{a}”。", "{p} may not “{a_en}” this post.").format(
        p=who, a=ACTION_LABEL[action].zh, a_en=ACTION_LABEL[action].en)
    if why is not None:
        base = Text(base.zh + why.zh, base.en + " " + why.en)
    return NotAllowed(base)


def permit(state: PostState, action: Action, actor: str, org: OrgChart, on: date) -> Permit:
    """Check state and entitlement for `action` by `actor` on day `on`.

    Raises:
        InvalidTransition: the action does not apply in the post's status.
        AlreadyDecided: the actor already took the step this action belongs to.
        NotAllowed: the actor is not entitled to the action.
    """
    if action in SYSTEM_ACTIONS:
        raise _not_allowed(org, actor, action, Text("该操作仅由发布程序执行。",
                                                    "Only the publishing worker does that."))
    _check_transition(state, action)
    if actor not in org.people:
        raise _not_allowed(org, actor, action, Text("此人不在组织架构中。",
                                                    "They are not in the org chart."))
    if action in (Action.CONFIRM, Action.APPROVE, Action.SIGN, Action.REQUEST_CHANGES,
                  Action.REJECT, Action.CLEAR_PII):
        return _permit_step(state, action, actor, org, on)
    if action is Action.WITHDRAW:
        if state.status in (PostStatus.SIGNED, PostStatus.ON_HOLD, PostStatus.FAILED):
            # A signed post waiting for its time: the admin or the issuer may withdraw it.
            signed = state.decision_for(Step.ISSUER)
            if org.is_admin(actor) or actor == org.issuer or (
                    signed is not None and actor in (signed.actor, signed.principal)):
                return Permit()
            raise _not_allowed(org, actor, action, Text("已签发的稿件只能由管理员或签发人撤回。",
                                                        "Only an admin or the issuer may withdraw "
                                                        "a signed post."))
        if actor == state.drafter or org.is_admin(actor):
            return Permit()
        raise _not_allowed(org, actor, action, Text("只有拟稿人或管理员可以撤回。",
                                                    "Only the drafter or an admin may withdraw."))
    if action is Action.NEW_REVISION:
        if org.is_operator(actor) or org.is_admin(actor):
            return Permit()
        raise _not_allowed(org, actor, action, Text("排版由运营方或管理员负责（第二十五条）。",
                                                    "Layout belongs to the operator or an admin "
                                                    "(art. 25)."))
    if action in (Action.RESUBMIT, Action.RETRY):
        if org.is_admin(actor):
            return Permit()
        raise _not_allowed(org, actor, action, Text("只有管理员可以执行此操作。",
                                                    "Only an admin may do that."))
    raise _not_allowed(org, actor, action)  # pragma: no cover - every person action is handled


def _permit_step(state: PostState, action: Action, actor: str, org: OrgChart, on: date) -> Permit:
    # On hold: the issuer re-signs (or records a clearance for) the same revision.
    step = Step.ISSUER if state.status is PostStatus.ON_HOLD else current_step(state, org)
    if step is None:
        raise InvalidTransition(Text("审批链已没有待办环节。", "No step of the chain is open."))
    granted = gates.acting_for(state, step, actor, org, on)
    if granted is None and state.status is PostStatus.IN_REVIEW:
        _raise_if_decided_earlier(state, step, action, actor, org)
    if granted is None:
        assignment = gates.resolve_assignee(state, step, org)
        if assignment.person is None and assignment.problem is not None:
            raise _not_allowed(org, actor, action, assignment.problem)
        raise _not_allowed(
            org, actor, action,
            Text("当前环节“{s}”应由{p}办理。", "The open step “{s_en}” belongs to {p}.")
            .format(s=STEP_LABEL[step].zh, s_en=STEP_LABEL[step].en,
                    p=_name(org, assignment.person or "—")))
    verb = STEP_VERB[step]
    if action in (Action.CONFIRM, Action.APPROVE, Action.SIGN) and action is not verb:
        raise InvalidTransition(
            Text("当前环节是“{s}”，应执行“{v}”而不是“{a}”。",
                 "The open step is “{s_en}”: it takes “{v_en}”, not “{a_en}”.")
            .format(s=STEP_LABEL[step].zh, s_en=STEP_LABEL[step].en, v=ACTION_LABEL[verb].zh,
                    v_en=ACTION_LABEL[verb].en, a=ACTION_LABEL[action].zh,
                    a_en=ACTION_LABEL[action].en))
    if action is Action.REJECT and step not in org.chain.reject_allowed_at:
        raise InvalidTransition(
            Text("“{s}”环节不能否决，只能退回修改。",
                 "The “{s_en}” step cannot reject; request changes instead.")
            .format(s=STEP_LABEL[step].zh, s_en=STEP_LABEL[step].en))
    if action is Action.CLEAR_PII and step is not Step.ISSUER:
        raise InvalidTransition(Text("个人信息公开依据须在签发环节由签发人记录（第十六条）。",
                                     "The personal-data clearance is recorded by the issuer at "
                                     "the sign-off step (art. 16)."))
    assignment, on_behalf_of = granted
    return Permit(step, on_behalf_of, assignment)


def _raise_if_decided_earlier(state: PostState, step: Step, action: Action, actor: str,
                              org: OrgChart) -> None:
    """AlreadyDecided when `actor` repeats the verb of a step they held that is already decided."""
    for d in state.decisions:
        if d.step is step or d.outcome is not Outcome.APPROVED or STEP_VERB[d.step] is not action:
            continue
        could = actor in (d.actor, d.principal) or any(
            g.deputy == actor for g in org.deputies_for(d.principal, d.step, d.decided_on))
        if could:
            by = org.name_of(d.actor)
            raise AlreadyDecided(
                Text("“{s}”环节已由{p}处理，本稿已转到“{n}”。",
                     "The “{s_en}” step was already decided by {p}; the post has moved on to "
                     "“{n_en}”.")
                .format(s=STEP_LABEL[d.step].zh, s_en=STEP_LABEL[d.step].en, p=by,
                        n=STEP_LABEL[step].zh, n_en=STEP_LABEL[step].en))


def allowed_actions(state: PostState, person: str, org: OrgChart, on: date) -> list[Action]:
    """The actions `person` may take on the post now: the bot's buttons and the console's forms."""
    allowed = []
    for action in PERSON_ACTIONS:
        try:
            permit(state, action, person, org, on)
        except (InvalidTransition, NotAllowed):
            continue
        if action is Action.CLEAR_PII and not _has_personal_data(state, org):
            continue
        allowed.append(action)
    return allowed


def _has_personal_data(state: PostState, org: OrgChart) -> bool:
    return any(f.code.startswith("personal_data") for f in gates.gate_personal_data(state, org))


def _check_revision(state: PostState, revision_hash: str | None) -> str:
    if state.revision is None:
        raise InvalidTransition(Text("本稿还没有排版稿。", "The post has no laid-out revision."))
    current = state.revision.content_hash
    if revision_hash is not None and revision_hash != current:
        raise StaleRevision(
            Text("您看到的是旧版本（{old}），当前版本为第{n}版（{new}），请查看最新预览后再操作。",
                 "You acted on an older revision ({old}); the current one is revision {n} "
                 "({new}). Open the latest preview and decide again.")
            .format(old=revision_hash[:12], new=current[:12], n=state.revision.number))
    return current


def _require_comment(action: Action, comment: str) -> str:
    comment = comment.strip()
    if action in COMMENT_REQUIRED and not comment:
        raise InvalidInput(Text("“{a}”必须填写意见或理由。", "“{a_en}” needs a comment.")
                           .format(a=ACTION_LABEL[action].zh, a_en=ACTION_LABEL[action].en))
    return comment


def decide(
    state: PostState,
    action: Action,
    actor: str,
    org: OrgChart,
    *,
    on: date,
    now: datetime | None = None,
    revision_hash: str | None = None,
    comment: str = "",
) -> Result:
    """Confirm, approve, sign, request changes or reject the open step.

    Raises:
        InvalidTransition: wrong status or step; StaleRevision when `revision_hash` is not current.
        NotAllowed: the actor does not hold the step and is not a valid deputy.
        InvalidInput: a required comment is missing.
        GateBlocked: signing with a blocking gate finding.
    """
    if action not in DECISION_ACTIONS:
        raise InvalidTransition(Text("“{a}”不是审批决定。", "“{a_en}” is not a decision.")
                                .format(a=ACTION_LABEL[action].zh, a_en=ACTION_LABEL[action].en))
    after = _check_transition(state, action)
    if actor not in org.people:
        raise _not_allowed(org, actor, action, Text("此人不在组织架构中。",
                                                    "They are not in the org chart."))
    # A button pressed on a stale preview is refused as stale before anything else is judged.
    current = _check_revision(state, revision_hash)
    granted = permit(state, action, actor, org, on)
    comment = _require_comment(action, comment)
    assert granted.step is not None and granted.assignment is not None
    outcome = {Action.REQUEST_CHANGES: Outcome.CHANGES_REQUESTED,
               Action.REJECT: Outcome.REJECTED}.get(action, Outcome.APPROVED)
    previous = state.decision_for(granted.step)
    notes = []
    if granted.assignment.via_fallback:
        notes.append(f"fallback_for:{granted.assignment.usual}")
    if granted.assignment.same_person_allowed:
        notes.append("same_person_allowed_by_config")
    decision = DecisionRecord(
        step=granted.step, outcome=outcome, actor=actor, revision_hash=current, run=state.run,
        decided_on=on, decided_at=now, on_behalf_of=granted.on_behalf_of, comment=comment,
        note=";".join(notes),
        attempt=previous.attempt + 1 if previous is not None else 0,
    )
    findings: tuple[Finding, ...] = ()
    if action is Action.SIGN:
        kept = tuple(d for d in state.decisions if d.step is not Step.ISSUER)
        findings = tuple(gates.evaluate(replace(state, decisions=(*kept, decision)), org))
        refused = gates.blocking(list(findings))
        if refused:
            raise GateBlocked(
                Text("签发被拒绝：" + "；".join(f.text.zh for f in refused),
                     "Sign-off refused: " + " ".join(f.text.en for f in refused)),
                findings,
            )
    return Result(action, state.status, after, actor, granted.step, decision,
                  revision=state.revision, findings=findings, assignment=granted.assignment,
                  comment=comment)


def apply(state: PostState, result: Result) -> PostState:
    """The state after `result`: the pure model of what the store persists."""
    decisions = () if result.restart else state.decisions
    if result.decision is not None:
        decisions = (*decisions, result.decision)
    revision = result.revision if result.revision is not None else state.revision
    clearance = result.clearance or (
        state.clearance if revision is not None and state.clearance is not None
        and state.clearance.revision_hash == revision.content_hash else None)
    return replace(state, status=result.status_after, run=state.run + result.restart,
                   revision=revision, decisions=decisions, clearance=clearance)


def confirm(state: PostState, actor: str, org: OrgChart, **kw: object) -> Result:
    """The drafter confirms the laid-out preview is accurate (art. 25). Raises as `decide`."""
    return decide(state, Action.CONFIRM, actor, org, **kw)  # type: ignore[arg-type]


def approve(state: PostState, actor: str, org: OrgChart, **kw: object) -> Result:
    """The department head or the reviewer approves. Raises as `decide`."""
    return decide(state, Action.APPROVE, actor, org, **kw)  # type: ignore[arg-type]


def sign(state: PostState, actor: str, org: OrgChart, **kw: object) -> Result:
    """The issuer signs off (签发) after every gate holds. Raises as `decide`."""
    return decide(state, Action.SIGN, actor, org, **kw)  # type: ignore[arg-type]


def request_changes(state: PostState, actor: str, org: OrgChart, **kw: object) -> Result:
    """Send the post back to layout with a comment (art. 27). Raises as `decide`."""
    return decide(state, Action.REQUEST_CHANGES, actor, org, **kw)  # type: ignore[arg-type]


def reject(state: PostState, actor: str, org: OrgChart, **kw: object) -> Result:
    """Reject the post for good (terminal). Raises as `decide`."""
    return decide(state, Action.REJECT, actor, org, **kw)  # type: ignore[arg-type]


def withdraw(state: PostState, actor: str, org: OrgChart, *, on: date, comment: str = "") -> Result:
    """The drafter or an admin withdraws the post (admin or issuer once signed).

    Raises:
        InvalidTransition: the post is already being published, published or closed.
        NotAllowed: the actor may not withdraw it.
    """
    after = _check_transition(state, Action.WITHDRAW)
    permit(state, Action.WITHDRAW, actor, org, on)
    return Result(Action.WITHDRAW, state.status, after, actor, comment=comment.strip())


def new_revision(
    state: PostState, actor: str, org: OrgChart, revision: RevisionInfo, *, on: date,
    comment: str = "",
) -> Result:
    """The operator or an admin lays out a new revision; the chain restarts on it.

    Raises:
        InvalidTransition: the post cannot take a new revision in its status.
        NotAllowed: the actor does not do layout.
        InvalidInput: the content is identical to the current revision.
    """
    after = _check_transition(state, Action.NEW_REVISION)
    permit(state, Action.NEW_REVISION, actor, org, on)
    if state.revision is not None and state.revision.content_hash == revision.content_hash:
        raise InvalidInput(Text("新排版稿与当前版本内容完全相同；"
                                "如需原稿重新提交，请由管理员执行“原稿重新提交”并填写说明。",
                                "The new revision is identical to the current one; to resubmit "
                                "unchanged content an admin uses “resubmit” with a comment."))
    return Result(Action.NEW_REVISION, state.status, after, actor, restart=True,
                  revision=revision, comment=comment.strip())


def resubmit(state: PostState, actor: str, org: OrgChart, *, on: date, comment: str) -> Result:
    """An admin resubmits unchanged content after changes were requested; the chain restarts.

    Raises:
        InvalidTransition, NotAllowed, InvalidInput (no comment).
    """
    after = _check_transition(state, Action.RESUBMIT)
    permit(state, Action.RESUBMIT, actor, org, on)
    comment = _require_comment(Action.RESUBMIT, comment)
    return Result(Action.RESUBMIT, state.status, after, actor, restart=True,
                  revision=state.revision, comment=comment)


def clear_pii(
    state: PostState, actor: str, org: OrgChart, *, on: date, basis: ClearanceBasis | str,
    reason: str, revision_hash: str | None = None,
) -> Result:
    """The issuer records consent or public interest for personal data in this revision (art. 16).

    Raises:
        InvalidTransition, StaleRevision, NotAllowed, InvalidInput (bad basis, no reason).
    """
    after = _check_transition(state, Action.CLEAR_PII)
    if actor not in org.people:
        raise _not_allowed(org, actor, Action.CLEAR_PII, Text("此人不在组织架构中。",
                                                               "They are not in the org chart."))
    current = _check_revision(state, revision_hash)  # stale before anything else, as in decide
    granted = permit(state, Action.CLEAR_PII, actor, org, on)
    try:
        basis = ClearanceBasis(basis)
    except ValueError:
        raise InvalidInput(Text("公开依据须为 consent（权利人同意）或 public_interest（公共利益）。",
                                "The basis must be consent or public_interest.")) from None
    if not reason.strip():
        raise InvalidInput(Text("记录个人信息公开依据必须写明理由（第十六条）。",
                                "A personal-data clearance needs a reason (art. 16)."))
    clearance = Clearance(current, basis, reason.strip(), actor, on, granted.on_behalf_of)
    return Result(Action.CLEAR_PII, state.status, after, actor, step=Step.ISSUER,
                  clearance=clearance, comment=reason.strip())


def retry(state: PostState, actor: str, org: OrgChart, *, on: date, comment: str = "") -> Result:
    """An admin puts a failed post back in the publishing queue.

    Raises:
        InvalidTransition, NotAllowed.
    """
    after = _check_transition(state, Action.RETRY)
    permit(state, Action.RETRY, actor, org, on)
    return Result(Action.RETRY, state.status, after, actor, comment=comment.strip())
