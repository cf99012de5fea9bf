"""The approval chain's verbs as pure functions: each checks, decides and returns a Result."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from approvals.rules import gates
from approvals.rules.assign import Assignment
from approvals.rules.errors import (
    GateBlocked,
    InvalidInput,
    InvalidTransition,
    StaleRevision,
    Text,
    sentences,
)
from approvals.rules.gates import Finding
from approvals.rules.org import OrgChart
from approvals.rules.permits import not_allowed, permit
from approvals.rules.records import (
    Clearance,
    ClearanceBasis,
    DecisionRecord,
    Outcome,
    PostState,
    RevisionInfo,
)
from approvals.rules.states import ACTION_LABEL, Action, PostStatus, PublishMode, Step, advance

DECISION_ACTIONS = frozenset({Action.CONFIRM, Action.APPROVE, Action.SIGN,
                              Action.REQUEST_CHANGES, Action.REJECT})
COMMENT_REQUIRED = frozenset({Action.REQUEST_CHANGES, Action.REJECT, Action.RESUBMIT,
                              Action.CONFIRM_ABSENT})
# A time typed a moment ago ("now") is not refused as past.
SCHEDULE_GRACE = timedelta(minutes=1)
SCHEDULE_HORIZON = timedelta(days=366)  # further ahead is a typo, not a plan


@dataclass(frozen=True)
class Schedule:
    """When and how a post goes out: `at` None means as soon as it is signed."""

    at: datetime | None
    mode: PublishMode


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
    schedule: Schedule | None = None
    url: str | None = None  # confirm_published: where the article is


def _check_transition(state: PostState, action: Action) -> PostStatus:
    return advance(state.status, action)


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
        GateBlocked: signing with a blocking gate finding; confirming or approving a revision
            with a classification marking.
    """
    if action not in DECISION_ACTIONS:
        raise InvalidTransition(Text("“{a}”不是审批决定。", "“{a_en}” is not a decision.")
                                .format(a=ACTION_LABEL[action].zh, a_en=ACTION_LABEL[action].en))
    after = _check_transition(state, action)
    if actor not in org.people:
        raise not_allowed(org, actor, action, Text("此人不在组织架构中。",
                                                    "They are not in the org chart."))
    # A button pressed on a stale preview is refused as stale before anything else is judged.
    current = _check_revision(state, revision_hash)
    granted = permit(state, action, actor, org, on)
    comment = _require_comment(action, comment)
    assert granted.step is not None and granted.assignment is not None
    if action in (Action.CONFIRM, Action.APPROVE):
        # Art. 15, 18, 26: a classified document does not travel the chain. Sending it back or
        # rejecting it stays open; the operator lays out a clean revision or an admin withdraws.
        classified = gates.classified_blocking(state)
        if classified:
            raise GateBlocked(sentences(
                Text("本版本含密级或内部标识，不得进入审批：",
                     "This revision carries a classification marking and must not go through the "
                     "chain: "),
                [f.text for f in classified],
                Text("请退回修改，由运营方重新排版，或由管理员撤回。",
                     "Send it back for a clean layout, or an admin withdraws it.")),
                tuple(classified))
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
            raise GateBlocked(sentences(Text("签发被拒绝：", "Sign-off refused: "),
                                        [f.text for f in refused]), findings)
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
        raise not_allowed(org, actor, Action.CLEAR_PII, Text("此人不在组织架构中。",
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
    if not gates.gate_personal_data(state, org):
        raise InvalidInput(Text("本版本未发现个人信息，无需记录公开依据（第十六条）。",
                                "This revision shows no personal data; there is nothing to clear "
                                "(art. 16)."))
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


def schedule(
    state: PostState, actor: str, org: OrgChart, *, on: date, now: datetime, at: datetime | None,
    mode: PublishMode | str, comment: str = "",
) -> Result:
    """An admin or the operator sets, changes or clears when (and how) the post is published.

    Raises:
        InvalidTransition: the post is being published or is closed.
        NotAllowed: the actor neither runs the queue nor publishes (art. 25).
        InvalidInput: an unknown mode, a time without a time zone, or a time already past.
    """
    after = _check_transition(state, Action.SCHEDULE)
    permit(state, Action.SCHEDULE, actor, org, on)
    try:
        mode = PublishMode(mode)
    except ValueError:
        raise InvalidInput(Text("发布方式须为 publish（发布）或 mass_send（群发）。",
                                "The mode must be publish or mass_send.")) from None
    if at is not None:
        if at.tzinfo is None:
            raise InvalidInput(Text("发布时间须带时区。", "The publishing time needs a time zone."))
        if at - now > SCHEDULE_HORIZON:
            raise InvalidInput(Text("发布时间 {t} 超过一年之后，请核对。",
                                    "The publishing time {t} is more than a year ahead; check "
                                    "it.").format(t=f"{at:%Y-%m-%dT%H:%M}"))
        if at < now - SCHEDULE_GRACE:
            raise InvalidInput(Text("发布时间 {t} 已经过去；要签发后立即发布，请不填时间。",
                                    "The publishing time {t} has passed; to publish as soon as the "
                                    "post is signed, give no time.")
                               .format(t=at.isoformat(timespec="minutes")))
    return Result(Action.SCHEDULE, state.status, after, actor, comment=comment.strip(),
                  schedule=Schedule(at, mode))


def confirm_published(state: PostState, actor: str, org: OrgChart, *, on: date, url: str,
                      comment: str = "") -> Result:
    """A person found the article on the account whose publication could not be confirmed.

    Raises:
        InvalidTransition: the post's outcome is not awaiting confirmation.
        NotAllowed: the actor neither runs the queue nor the account (art. 25).
        InvalidInput: no article URL, or not an http(s) one.
    """
    after = _check_transition(state, Action.CONFIRM_PUBLISHED)
    permit(state, Action.CONFIRM_PUBLISHED, actor, org, on)
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise InvalidInput(Text("请填写文章在公众号上的链接（http 或 https 开头），例如 "
                                "https://mp.weixin.qq.com/s/……",
                                "Give the article's link on the account (http or https), e.g. "
                                "https://mp.weixin.qq.com/s/…"))
    return Result(Action.CONFIRM_PUBLISHED, state.status, after, actor, comment=comment.strip(),
                  url=url)


def confirm_absent(state: PostState, actor: str, org: OrgChart, *, on: date,
                   comment: str) -> Result:
    """A person checked the account: the article is not there; it is submitted anew.

    Raises:
        InvalidTransition, NotAllowed, InvalidInput (no comment saying what was checked).
    """
    after = _check_transition(state, Action.CONFIRM_ABSENT)
    permit(state, Action.CONFIRM_ABSENT, actor, org, on)
    comment = _require_comment(Action.CONFIRM_ABSENT, comment)
    return Result(Action.CONFIRM_ABSENT, state.status, after, actor, comment=comment)
