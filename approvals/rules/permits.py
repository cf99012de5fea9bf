"""Who may do what to a post now: the one permission check behind every verb and every button."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from approvals.rules.assign import Assignment, acting_for, resolve_assignee
from approvals.rules.errors import AlreadyDecided, InvalidTransition, NotAllowed, Text
from approvals.rules.gates import classified_blocking, gate_personal_data
from approvals.rules.org import OrgChart
from approvals.rules.records import Outcome, PostState
from approvals.rules.states import (
    ACTION_LABEL,
    STEP_LABEL,
    STEP_VERB,
    SYSTEM_ACTIONS,
    Action,
    PostStatus,
    Step,
    advance,
)

PERSON_ACTIONS = tuple(a for a in Action if a not in SYSTEM_ACTIONS)


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


def not_allowed(org: OrgChart, actor: str, action: Action, why: Text | None = None) -> NotAllowed:
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
        raise not_allowed(org, actor, action, Text("该操作仅由发布程序执行。",
                                                    "Only the publishing worker does that."))
    advance(state.status, action)
    if actor not in org.people:
        raise not_allowed(org, actor, action, Text("此人不在组织架构中。",
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
            raise not_allowed(org, actor, action, Text("已签发的稿件只能由管理员或签发人撤回。",
                                                        "Only an admin or the issuer may withdraw "
                                                        "a signed post."))
        if actor == state.drafter or org.is_admin(actor):
            return Permit()
        raise not_allowed(org, actor, action, Text("只有拟稿人或管理员可以撤回。",
                                                    "Only the drafter or an admin may withdraw."))
    if action is Action.NEW_REVISION:
        if org.is_operator(actor) or org.is_admin(actor):
            return Permit()
        raise not_allowed(org, actor, action, Text("排版由运营方或管理员负责（第二十五条）。",
                                                    "Layout belongs to the operator or an admin "
                                                    "(art. 25)."))
    if action in (Action.RESUBMIT, Action.RETRY):
        if org.is_admin(actor):
            return Permit()
        raise not_allowed(org, actor, action, Text("只有管理员可以执行此操作。",
                                                    "Only an admin may do that."))
    if action in (Action.CONFIRM_PUBLISHED, Action.CONFIRM_ABSENT):
        # Whoever runs the account backend checks it: the admins and the operator (art. 25).
        if org.is_admin(actor) or org.is_operator(actor):
            return Permit()
        raise not_allowed(org, actor, action, Text("只有管理员或运营方可以核实发布结果。",
                                                   "Only an admin or the operator confirms what "
                                                   "WeChat published."))
    if action is Action.CANCEL:
        # Whoever runs the queue and publishes (art. 25) stops a publication that is not out yet.
        if org.is_admin(actor) or org.is_operator(actor):
            return Permit()
        raise not_allowed(org, actor, action, Text("只有管理员或运营方可以取消发布。",
                                                    "Only an admin or the operator cancels "
                                                    "publishing."))
    if action is Action.SCHEDULE:
        # Art. 25: the operator publishes on time; the admins run the queue.
        if org.is_admin(actor) or org.is_operator(actor):
            return Permit()
        raise not_allowed(org, actor, action, Text("只有管理员或运营方可以安排发布时间（第二十五条）。",
                                                    "Only an admin or the operator schedules "
                                                    "publishing (art. 25)."))
    raise not_allowed(org, actor, action)  # pragma: no cover - every person action is handled


def runs_the_queue(org: OrgChart, person: str) -> bool:
    """Whether `person` sees and handles the publishing and notification jobs: the admins run the
    queue, the operator publishes on time (art. 25)."""
    return org.is_admin(person) or org.is_operator(person)


def _permit_step(state: PostState, action: Action, actor: str, org: OrgChart, on: date) -> Permit:
    # On hold: the issuer re-signs (or records a clearance for) the same revision.
    step = Step.ISSUER if state.status is PostStatus.ON_HOLD else current_step(state, org)
    if step is None:
        raise InvalidTransition(Text("审批链已没有待办环节。", "No step of the chain is open."))
    granted = acting_for(state, step, actor, org, on)
    if granted is None and state.status is PostStatus.IN_REVIEW:
        _raise_if_decided_earlier(state, step, action, actor, org)
    if granted is None:
        assignment = resolve_assignee(state, step, org)
        if assignment.person is None and assignment.problem is not None:
            raise not_allowed(org, actor, action, assignment.problem)
        raise not_allowed(
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
        if action in (Action.CONFIRM, Action.APPROVE) and classified_blocking(state):
            continue  # a classified revision does not travel the chain (art. 15, 18, 26)
        allowed.append(action)
    return allowed


def _has_personal_data(state: PostState, org: OrgChart) -> bool:
    return any(f.code.startswith("personal_data") for f in gate_personal_data(state, org))
