"""Who is told what when a post moves (art. 27; chain notifications cannot be switched off). Pure."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from approvals.rules.assign import resolve_assignee
from approvals.rules.errors import Text
from approvals.rules.org import OrgChart, Person
from approvals.rules.permits import current_step
from approvals.rules.records import DecisionRecord, PostState
from approvals.rules.states import PostStatus, Step


class Event(StrEnum):
    """A chain event that people must hear about."""

    STEP_OPENED = "step_opened"  # the next approver: a step waits on them
    NO_ONE_FOR_STEP = "no_one_for_step"  # the admins: the org chart leaves a step with nobody
    CHANGES_REQUESTED = "changes_requested"  # the admins and the operator (art. 27), the drafter
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    PUBLISHED = "published"
    FAILED = "failed"
    ON_HOLD = "on_hold"  # the admins, the chain, and whoever may re-sign now
    UNCONFIRMED = "unconfirmed"  # the admins and the operator: check the account, then say
    PROGRESS = "progress"  # the drafter and the admins: a step of the chain was decided
    REMINDER = "reminder"  # whoever may take a step that has waited too long
    ESCALATED = "escalated"  # the admins: reminded as often as allowed, still waiting
    DUE_SOON = "due_soon"  # the admins, daily: a post close to (or past) its art. 14 due date


EVENT_LABEL: dict[Event, Text] = {
    Event.STEP_OPENED: Text("待您办理", "waiting for you"),
    Event.NO_ONE_FOR_STEP: Text("环节无人可办", "a step has no one"),
    Event.CHANGES_REQUESTED: Text("退回修改", "changes requested"),
    Event.REJECTED: Text("已否决", "rejected"),
    Event.WITHDRAWN: Text("已撤回", "withdrawn"),
    Event.PUBLISHED: Text("已发布", "published"),
    Event.FAILED: Text("发布失败", "publishing failed"),
    Event.ON_HOLD: Text("暂缓发布", "on hold"),
    Event.PROGRESS: Text("审批进度", "progress"),
    Event.REMINDER: Text("催办", "reminder"),
    Event.ESCALATED: Text("催办无果", "still waiting"),
    Event.DUE_SOON: Text("临近公开期限", "due soon"),
    Event.UNCONFIRMED: Text("发布结果待核实", "check the publication"),
}


@dataclass(frozen=True)
class Notice:
    """One person to tell about one event; `step` is the step that opened, if any."""

    event: Event
    recipient: str
    step: Step | None = None
    on_behalf_of: str | None = None  # a deputy told of a step they may take for this leader


# Channels and the Person field that holds each one's address in the org file ("" reaches
# everyone). The log channel writes every notification to a log or a file (the demo, operators);
# a chat channel reaches people with an address there: from the org file, or linked in chat.
CHANNELS: dict[str, str] = {"log": "", "telegram": "telegram_id"}
# Where a person can be reached in person (not just in a log): `config check` warns without one.
PERSONAL_ADDRESSES = ("telegram_id",)


def channels_for(person: Person, enabled: Sequence[str], linked: Collection[str] = ()) -> list[str]:
    """The enabled channels that reach `person`, in the configured order; `linked` names the
    chat services they linked an account on (beyond what the org file gives them)."""
    reached = []
    for name in enabled:
        address = CHANNELS.get(name)
        if address is None:
            continue
        if not address or name in linked or getattr(person, address, None) is not None:
            reached.append(name)
    return reached


def notices(before: PostState, after: PostState, actor: str, org: OrgChart, on: date) -> list[Notice]:
    """Who hears of the change from `before` to `after` made by `actor` (never the actor)."""
    found: list[Notice] = []
    status = after.status
    if status is PostStatus.IN_REVIEW:
        found += _step_opened(before, after, org, on)
    decided = _new_decision(before, after)
    if decided is not None and status in (PostStatus.IN_REVIEW, PostStatus.SIGNED):
        # The drafter and the admins follow every step (a rejection or a request for changes
        # is told below, to more people).
        found += [Notice(Event.PROGRESS, p, decided.step) for p in (after.drafter, *org.admins)]
    elif status is PostStatus.CHANGES_REQUESTED and before.status is not status:
        people = [*org.admins, *org.operators, after.drafter]
        found += [Notice(Event.CHANGES_REQUESTED, p) for p in people]
    elif status is PostStatus.UNCONFIRMED and before.status is not status:
        # Whoever can look at the account backend and say what happened (art. 25).
        found += [Notice(Event.UNCONFIRMED, p) for p in (*org.admins, *org.operators)]
    elif status in _CHAIN_EVENTS and before.status is not status:
        event = _CHAIN_EVENTS[status]
        people = list(_chain_people(before, org))
        if status is PostStatus.ON_HOLD:
            # The admin is told why; the person entitled now can re-sign the same revision.
            holder = resolve_assignee(after, Step.ISSUER, org).person
            if holder is not None:
                people.append(holder)
        found += [Notice(event, p) for p in people]
    return _dedupe(n for n in found if n.recipient != actor and n.recipient in org.people)


_CHAIN_EVENTS = {
    PostStatus.REJECTED: Event.REJECTED,
    PostStatus.WITHDRAWN: Event.WITHDRAWN,
    PostStatus.PUBLISHED: Event.PUBLISHED,
    PostStatus.FAILED: Event.FAILED,
    PostStatus.ON_HOLD: Event.ON_HOLD,
}


def _step_opened(before: PostState, after: PostState, org: OrgChart, on: date) -> list[Notice]:
    step = current_step(after, org)
    if step is None:
        return []
    unchanged = before.status is PostStatus.IN_REVIEW and before.run == after.run \
        and current_step(before, org) is step
    if unchanged:  # a clearance recorded, a comment: the same step still waits on the same people
        return []
    holder = resolve_assignee(after, step, org).person
    if holder is None:
        return [Notice(Event.NO_ONE_FOR_STEP, admin, step) for admin in org.admins]
    found = [Notice(Event.STEP_OPENED, holder, step)]
    found += [Notice(Event.STEP_OPENED, g.deputy, step, on_behalf_of=holder)
              for g in org.deputies_for(holder, step, on)]
    return found


def _new_decision(before: PostState, after: PostState) -> DecisionRecord | None:
    """The decision this change added to the same run, if any."""
    if after.run != before.run or len(after.decisions) <= len(before.decisions):
        return None
    return after.decisions[-1]


def _chain_people(state: PostState, org: OrgChart) -> Iterable[str]:
    """The drafter, everyone who decided in this run (and whom they stood in for), the admins."""
    yield state.drafter
    for d in state.decisions:
        yield d.actor
        yield d.principal
    yield from org.admins


def _dedupe(found: Iterable[Notice]) -> list[Notice]:
    seen: set[tuple[Event, str]] = set()
    kept = []
    for n in found:
        if (n.event, n.recipient) not in seen:
            seen.add((n.event, n.recipient))
            kept.append(n)
    return kept
