"""Reminders, escalation and due-date flags, written into the notification outbox.

One pass (`Reminders.run`, run by the reconciler beside the worker, or `signoff remind`) looks at
every post in review: a step that has waited `every` more working hours gets its approver (and
their deputies) reminded, at most `times` times, then the admins are told once. Once a day, the
admins get a flag for each open post within `due_soon_days` working days of (or past) its art. 14
due date. Every row is keyed by its cause, so a pass run twice, or by two processes, sends nothing
twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from approvals.rules.assign import resolve_assignee
from approvals.rules.notices import Event, Notice
from approvals.rules.permits import current_step
from approvals.rules.reminders import Due, due, in_office_hours, working_days_until, working_hours
from approvals.rules.states import TERMINAL, PostStatus
from approvals.services.base import Deps, UnitOfWork
from approvals.services.notifications import Notifications
from approvals.services.state import load_states
from approvals.store import models as m

# The changes that open a step: a new layout, a decision, a resubmission.
OPENING = ("post.new_revision", "post.confirm", "post.approve", "post.sign", "post.resubmit",
           "post.clear_pii")
_REMINDER_N = re.compile(r"-reminder(\d+)-")
SYSTEM = "reminders"


@dataclass(frozen=True)
class ReminderPolicy:
    """How often and how many times; 0 working hours switches reminders off."""

    every_hours: float = 8.0
    times: int = 2
    due_soon_days: int = 3


class Reminders:
    """Finds what has waited too long or is nearly due, and writes who is to be told."""

    def __init__(self, deps: Deps, notifications: Notifications, policy: ReminderPolicy) -> None:
        self.deps = deps
        self.notifications = notifications
        self.policy = policy

    def run(self) -> dict[str, int]:
        """One pass; returns how many reminders, escalations and due-date flags it wrote (rows)."""
        done = {"reminded": 0, "escalated": 0, "due_soon": 0}
        org = self.deps.org
        local = self.deps.now().astimezone(self.deps.zone)
        if not in_office_hours(local, org.calendar):
            return done  # nobody is chased at night or on a holiday
        with self.deps.uow() as uow:
            s = uow.session
            waiting = list(s.scalars(select(m.Post).where(
                m.Post.status == PostStatus.IN_REVIEW.value).order_by(m.Post.id)))
            states = load_states(s, waiting)
            opened = self._opened(s, [p.id for p in waiting])
            sent = self._sent(s, [seq for seq, _ in opened.values()])
            for post in waiting:
                state, cause = states.get(post.id), opened.get(post.id)
                step = current_step(state, org) if state is not None else None
                if state is None or cause is None or step is None:
                    continue
                holder = resolve_assignee(state, step, org).person
                if holder is None:
                    continue  # nobody may take it: the admins were told when it opened
                seq, at = cause
                reminded, escalated = sent.get(seq, (0, False))
                waited = working_hours(at.astimezone(self.deps.zone), local, org.calendar)
                what = due(waited, reminded, escalated, every=self.policy.every_hours,
                           times=self.policy.times)
                if what is Due.REMIND:
                    found = [Notice(Event.REMINDER, holder, step)]
                    found += [Notice(Event.REMINDER, g.deputy, step, on_behalf_of=holder)
                              for g in org.deputies_for(holder, step, local.date())]
                    done["reminded"] += self.notifications.tell(
                        uow, post, state, found, SYSTEM, seq, tag=str(reminded + 1),
                        waited=waited)
                elif what is Due.ESCALATE:
                    found = [Notice(Event.ESCALATED, a, step) for a in org.admins]
                    done["escalated"] += self.notifications.tell(
                        uow, post, state, found, holder, seq, waited=waited,
                        comment=str(reminded))
            done["due_soon"] = self._due_soon(uow, local.date())
        return done

    def _due_soon(self, uow: UnitOfWork, today: date) -> int:
        org, s = self.deps.org, uow.session
        days = self.policy.due_soon_days
        horizon = today + timedelta(days=days * 2 + 14)  # wide enough for any holiday run
        posts = list(s.scalars(select(m.Post).where(
            m.Post.status.not_in([st.value for st in TERMINAL]), m.Post.due_on <= horizon,
            m.Post.archived.is_(False)).order_by(m.Post.due_on, m.Post.id)))
        near = [(p, working_days_until(today, p.due_on, org.calendar)) for p in posts]
        near = [(p, left) for p, left in near if left <= days]
        if not near:
            return 0
        latest = dict(s.execute(select(m.AuditEntry.post_id, func.max(m.AuditEntry.seq))
                                .where(m.AuditEntry.post_id.in_([p.id for p, _ in near]))
                                .group_by(m.AuditEntry.post_id)).all())
        tag = today.strftime("%Y%m%d")
        flagged = set(s.scalars(select(m.Notification.post_id).where(
            m.Notification.event == Event.DUE_SOON.value,
            m.Notification.key.contains(f"-due_soon{tag}-"),
            m.Notification.post_id.in_([p.id for p, _ in near]))))
        states = load_states(s, [p for p, _ in near if p.id not in flagged])
        written = 0
        for post, left in near:
            if post.id in flagged or post.id not in latest or post.id not in states:
                continue
            found = [Notice(Event.DUE_SOON, a) for a in org.admins]
            written += self.notifications.tell(uow, post, states[post.id], found, SYSTEM,
                                               latest[post.id], tag=tag, days_left=left)
        return written

    @staticmethod
    def _opened(s: Session, post_ids: list[int]) -> dict[int, tuple[int, datetime]]:
        """For each post, the audit row of the change that opened its current step, and when."""
        if not post_ids:
            return {}
        last = (select(m.AuditEntry.post_id, func.max(m.AuditEntry.seq).label("seq"))
                .where(m.AuditEntry.post_id.in_(post_ids), m.AuditEntry.action.in_(OPENING))
                .group_by(m.AuditEntry.post_id).subquery())
        rows = s.execute(select(m.AuditEntry.post_id, m.AuditEntry.seq, m.AuditEntry.at)
                         .join(last, m.AuditEntry.seq == last.c.seq)).all()
        return {pid: (seq, at) for pid, seq, at in rows}

    @staticmethod
    def _sent(s: Session, seqs: list[int]) -> dict[int, tuple[int, bool]]:
        """For each cause, how many reminders went out and whether the admins were told."""
        found: dict[int, tuple[int, bool]] = {}
        if not seqs:
            return found
        for seq, event, key in s.execute(select(
                m.Notification.audit_seq, m.Notification.event, m.Notification.key).where(
                m.Notification.audit_seq.in_(seqs),
                m.Notification.event.in_([Event.REMINDER.value, Event.ESCALATED.value]))):
            reminded, escalated = found.get(seq, (0, False))
            if event == Event.ESCALATED.value:
                escalated = True
            else:
                n = _REMINDER_N.search(key)
                reminded = max(reminded, int(n.group(1)) if n else 1)
            found[seq] = (reminded, escalated)
        return found
