"""The publishing and notification work as the people who run the queue see it (art. 25), and
putting it back on the queue.

The database's outboxes are the source of truth; what the queue says of each job (queued,
scheduled, running, failed, and the failure) comes through the small `QueueView` port, which the
worker side implements with RQ — the core never imports the queue. Cancelling or retrying a
publication is not done here: those are the post's own actions (`Actions.act`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from approvals.rules import permits
from approvals.rules.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound, Text, Unavailable
from approvals.rules.notices import Event
from approvals.rules.states import Action, IntentKind, IntentState, PostStatus, PublishMode
from approvals.services.actions import Actions
from approvals.services.base import Deps
from approvals.services.state import MAX_ID, resolve_person
from approvals.store import audit
from approvals.store import models as m
from approvals.views import (
    DeliveryState,
    JobsOverview,
    NotifyWork,
    OutboxKind,
    PublishWork,
    QueueJob,
)

_JOB_ID = re.compile(r"[!-~]{1,200}")  # printable ASCII: what RQ's and signoff's job ids are made of
ROWS_MAX = 200  # a page of work; more than this waiting means something bigger is wrong
OPEN = (PostStatus.SIGNED.value, PostStatus.PUBLISHING.value, PostStatus.FAILED.value)
POST_ACTIONS = (Action.RETRY, Action.CANCEL)  # what the page offers on a post, if allowed


class QueueView(Protocol):
    """What the queue says of jobs (implemented outside the core, over RQ)."""

    def jobs(self, job_ids: Sequence[str]) -> dict[str, QueueJob]:
        """Each job by id ("missing" when the queue does not know it).

        Raises:
            Unavailable: the queue does not answer.
        """
        ...

    def failed(self, limit: int = 50) -> list[QueueJob]:
        """The newest failed jobs of every queue this deployment uses.

        Raises:
            Unavailable: the queue does not answer.
        """
        ...

    def requeue(self, job_id: str) -> bool:
        """Run a failed job again as it was (for jobs no outbox item stands behind).

        Raises:
            Unavailable: the queue does not answer.
        """
        ...


def _refuse(org_name: str) -> NotAllowed:
    return NotAllowed(Text("{p}无权查看或处理发布与通知任务：只有管理员或运营方可以（第二十五条）。",
                           "{p} may not see or handle the publishing and notification jobs: only "
                           "an admin or the operator may (art. 25).").format(p=org_name))


class Jobs:
    """The jobs page's use cases: the overview, re-sending a notification, re-dispatching work."""

    def __init__(self, deps: Deps, actions: Actions) -> None:
        self.deps = deps
        self.actions = actions

    def check(self, person: str) -> str:
        """The person's key when they run the queue (an admin or the operator).

        Raises:
            NotFound: no such person. NotAllowed: anyone else.
        """
        key = resolve_person(self.deps.org, person)
        if not permits.runs_the_queue(self.deps.org, key):
            raise _refuse(self.deps.org.name_of(key))
        return key

    # --- reading ----------------------------------------------------------------------------------

    def overview(self, person: str, queue: QueueView | None) -> JobsOverview:
        """Signed posts on their way out, notifications not delivered, and failed jobs.

        Raises:
            NotFound, NotAllowed: see `check`.
        """
        key = self.check(person)
        posts, notes = self._publish_rows(), self._notify_rows()
        job_ids = [j for j in (*(r[6] for r in posts), *(n.job_id for n in notes)) if j]
        states: dict[str, QueueJob] = {}
        failed: list[QueueJob] = []
        known = queue is not None
        if queue is not None:
            try:
                states = queue.jobs(job_ids)
                failed = queue.failed()
            except Unavailable:
                known = False
        publishing = tuple(self._publish_work(r, key, states, known) for r in posts)
        notifications = tuple(self._notify_work(n, states, known) for n in notes)
        shown = set(job_ids)
        return JobsOverview(publishing, notifications,
                            tuple(j for j in failed if j.job_id not in shown), known)

    def _publish_rows(self) -> list[tuple]:  # type: ignore[type-arg]
        p, i, r, pub = m.Post, m.PublishIntent, m.Revision, m.Publication
        pending = select(i.post_id, i.id, i.due_at, i.job_id).where(
            i.kind == IntentKind.PUBLISH.value, i.state == IntentState.PENDING.value).subquery()
        q = (select(p.id, p.title, p.status, p.publish_mode, p.scheduled_at, pending.c.id,
                    pending.c.job_id, pending.c.due_at, pub.last_error, p.problem_zh,
                    p.problem_en, p.claimed_by)
             .outerjoin(pending, pending.c.post_id == p.id)
             .outerjoin(r, (r.post_id == p.id) & (r.number == p.revision_number))
             .outerjoin(pub, (pub.post_id == p.id) & (pub.revision_hash == r.content_hash))
             .where(p.status.in_(OPEN), p.archived.is_(False))
             .order_by(p.id).limit(ROWS_MAX))
        with self.deps.sessions() as s:
            return [tuple(row) for row in s.execute(q)]

    def _notify_rows(self) -> list[m.Notification]:
        n = m.Notification
        with self.deps.sessions() as s:
            pending = list(s.scalars(select(n).where(n.state == DeliveryState.PENDING.value)
                                     .order_by(n.id).limit(ROWS_MAX)))
            failed = list(s.scalars(select(n).where(n.state == DeliveryState.FAILED.value)
                                    .order_by(n.id.desc()).limit(ROWS_MAX)))
        return [*pending, *failed]

    def _publish_work(self, row: tuple, person: str, states: dict[str, QueueJob],  # type: ignore[type-arg]
                      known: bool) -> PublishWork:
        (pid, title, status, mode, scheduled_at, intent_id, job_id, due_at, last_error,
         problem_zh, problem_en, claimed_by) = row
        job = states.get(job_id) if job_id else None
        offered = tuple(a for a in self.actions.allowed_actions(pid, person) if a in POST_ACTIONS)
        return PublishWork(pid, title, PostStatus(status), PublishMode(mode), scheduled_at,
                           intent_id, due_at, job, last_error or "",
                           Text(problem_zh or "", problem_en or ""), claimed_by, offered,
                           redispatch=_dead(intent_id, job, known)
                           and status != PostStatus.PUBLISHING.value)

    @staticmethod
    def _notify_work(n: m.Notification, states: dict[str, QueueJob], known: bool) -> NotifyWork:
        job = states.get(n.job_id) if n.job_id else None
        pending = n.state == DeliveryState.PENDING.value
        return NotifyWork(n.id, n.post_id, n.recipient, Event(n.event), n.channel,
                          DeliveryState(n.state), n.attempts, n.due_at, n.last_error, job,
                          retry=n.state == DeliveryState.FAILED.value,
                          redispatch=pending and _dead(n.id, job, known))

    # --- doing ------------------------------------------------------------------------------------

    def retry_notification(self, notification_id: int, person: str) -> None:
        """Send a notification that failed for good once more, with a fresh set of attempts.

        Raises:
            NotFound, NotAllowed (see `check`); InvalidTransition: it did not fail.
        """
        key = self.check(person)
        now = self.deps.now()
        with self.deps.uow() as uow:
            s = uow.session
            row = s.get(m.Notification, notification_id) if 0 < notification_id <= MAX_ID else None
            if row is None:
                raise NotFound(Text("没有编号为 {i} 的通知。", "There is no notification {i}.")
                               .format(i=notification_id))
            if row.state != DeliveryState.FAILED.value:
                raise InvalidTransition(Text("只有发送失败的通知可以重发（第 {i} 条通知并未失败）。",
                                             "Only a notification that failed can be sent again "
                                             "(notification {i} did not fail).")
                                        .format(i=notification_id))
            s.execute(update(m.Notification).where(
                m.Notification.id == notification_id,
                m.Notification.state == DeliveryState.FAILED.value)
                .values(state=DeliveryState.PENDING.value, attempts=0, due_at=now))
            audit.append(s, actor=key, action="notification.retry", post_id=row.post_id, at=now,
                         detail={"notification": notification_id, "recipient": row.recipient,
                                 "channel": self.deps.channel})
            uow.hand_off(OutboxKind.NOTIFY, notification_id)

    def redispatch(self, kind: OutboxKind | str, item_id: int, person: str) -> None:
        """Put a pending outbox item on the queue again now (its job failed, or Redis lost it);
        the reconciler would do the same on its next pass.

        Raises:
            NotFound, NotAllowed (see `check`); InvalidInput: an unknown kind;
            InvalidTransition: the item is done or cancelled.
        """
        key = self.check(person)
        kind = _kind(kind)
        with self.deps.uow() as uow:
            post_id = self._pending_item(uow.session, kind, item_id)
            audit.append(uow.session, actor=key, action="outbox.redispatch", post_id=post_id,
                         at=self.deps.now(), detail={"kind": kind.value, "item": item_id,
                                                     "channel": self.deps.channel})
            uow.hand_off(kind, item_id)

    def retry_job(self, job_id: str, person: str, queue: QueueView | None) -> None:
        """Retry a failed job: the outbox items behind it are put on the queue again (a new
        job); a job no item stands behind (a draft's deletion) is run again as it was.

        Raises:
            NotFound, NotAllowed (see `check`); InvalidTransition: its work is done or
            cancelled; Unavailable: the queue does not answer.
        """
        self.check(person)
        if not _JOB_ID.fullmatch(job_id):  # never a job's (a NUL, say: PostgreSQL refuses it)
            raise NotFound(Text("队列中没有失败的任务 {j}。", "The queue holds no failed job {j}.")
                           .format(j=job_id[:80].encode("unicode_escape").decode()))
        with self.deps.sessions() as s:
            intents = list(s.execute(select(m.PublishIntent.kind, m.PublishIntent.id,
                                            m.PublishIntent.state)
                                     .where(m.PublishIntent.job_id == job_id)))
            notes = list(s.execute(select(m.Notification.id, m.Notification.state)
                                   .where(m.Notification.job_id == job_id)))
        items = [(OutboxKind(k), i) for k, i, st in intents if st == IntentState.PENDING.value]
        items += [(OutboxKind.NOTIFY, i) for i, st in notes if st == DeliveryState.PENDING.value]
        if items:
            for kind, item_id in items:
                self.redispatch(kind, item_id, person)
            return
        if intents or notes:
            raise InvalidTransition(Text("该任务对应的发布或通知已完成或已取消，无需重试。",
                                         "The publication or notification behind this job is "
                                         "done or cancelled; there is nothing to retry."))
        if queue is None or not queue.requeue(job_id):
            raise NotFound(Text("队列中没有失败的任务 {j}。", "The queue holds no failed job {j}.")
                           .format(j=job_id[:80]))

    @staticmethod
    def _pending_item(s: Session, kind: OutboxKind, item_id: int) -> int:
        fits = 0 < item_id <= MAX_ID
        if kind is OutboxKind.NOTIFY:
            row = s.execute(select(m.Notification.post_id, m.Notification.state).where(
                m.Notification.id == item_id)).one_or_none() if fits else None
            waiting = DeliveryState.PENDING.value
        else:
            row = s.execute(select(m.PublishIntent.post_id, m.PublishIntent.state).where(
                m.PublishIntent.id == item_id,
                m.PublishIntent.kind == kind.value)).one_or_none() if fits else None
            waiting = IntentState.PENDING.value
        if row is None:
            raise NotFound(Text("没有这项任务（{k} {i}）。", "There is no such work item ({k} {i}).")
                           .format(k=kind.value, i=item_id))
        if row.state != waiting:
            raise InvalidTransition(Text("这项任务已完成或已取消，无需重新派发。",
                                         "This work item is done or cancelled; there is nothing "
                                         "to dispatch."))
        return int(row.post_id)


def _dead(item: int | None, job: QueueJob | None, known: bool) -> bool:
    """A pending item whose job will not run: never enqueued, failed, or lost by Redis."""
    return item is not None and known and (job is None or not job.live)


def _kind(kind: OutboxKind | str) -> OutboxKind:
    try:
        return OutboxKind(kind)
    except ValueError:
        raise InvalidInput(Text("任务类型“{k}”无效，可选：publish、preview、notify。",
                                "Invalid work kind “{k}”; expected publish, preview or notify.")
                           .format(k=str(kind)[:40])) from None


__all__ = ["Jobs", "QueueView"]
