"""The outbox onto the queue: at once after each commit (the hand-off), and again by the reconciler
for whatever a hand-off missed or Redis forgot.

Both paths go through `Dispatcher._enqueue`, with job ids that carry the queue's name, the item and
how many times it was enqueued, enqueued with `unique=True`: a hand-off and a reconciler pass
racing for the same item make one job.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from redis.exceptions import LockError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from approvals.bootstrap import Core
from approvals.config.settings import Settings
from approvals.rules.states import IntentState
from approvals.views import Handoff, OutboxKind, Pending

log = logging.getLogger("signoff.dispatch")

LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}
# A scheduled job this long overdue has no live scheduler to move it to the queue.
STALL_SECONDS = 15.0
MAX_PREVIEW_TRIES = 3
# Notifications due now are delivered in batches, one job per channel and batch (a publication
# tells seven people at once); each row still records its own delivery.
NOTIFY_BATCH = 50
JOB_ID_MAX = 80  # the width of the outbox tables' job_id column
NOTIFY_TIMEOUT_SECONDS = 30  # a batch gets this plus NOTIFY_SECONDS_EACH per notification
NOTIFY_SECONDS_EACH = 5
# The job that delivers each notification channel's messages (the job hands each to the channel
# of its name in the worker's context).
DELIVERY_JOBS = {"log": "worker.jobs.deliver_notifications",
                 "telegram": "worker.jobs.deliver_notifications"}


@dataclass
class Report:
    """What one pass did."""

    enqueued: int = 0
    scheduled: int = 0
    requeued: int = 0
    alive: int = 0
    cancelled: int = 0
    drafts: int = 0  # jobs enqueued to delete drafts that will never be used

    def as_dict(self) -> dict[str, int]:
        """For logs and job results."""
        return asdict(self)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class Dispatcher:
    """Makes sure each pending outbox item has one live job.

    Publishing and previews go on `queue`, notifications on `notify_queue`: a worker listens to
    both in that order, so a sign-off never waits behind a burst of notifications.
    """

    def __init__(self, core: Core, queue: Queue, notify_queue: Queue,
                 settings: Settings | None = None) -> None:
        self.core = core
        self.queue = queue
        self.notify_queue = notify_queue
        self.settings = settings or core.settings
        # Job ids are global to the Redis server: the queue's name keeps deployments apart.
        self.prefix = re.sub(r"[^A-Za-z0-9_-]", "_", queue.name)

    def _queue_for(self, item: Pending) -> Queue:
        return self.notify_queue if item.kind is OutboxKind.NOTIFY else self.queue

    # --- the hand-off: right after a commit ------------------------------------------------------

    def __call__(self, items: Sequence[Handoff]) -> None:
        """Enqueue (or cancel the jobs of) the items a transaction just committed."""
        for item in items:
            if item.cancel:
                self._cancel(self.core.publishing.job_id_of(item.id))
        wanted = [i for i in items if not i.cancel]
        known = [i.pending for i in wanted if i.pending is not None]  # just created: as written
        unknown = [i for i in wanted if i.pending is None]
        report = Report()
        planned: list[Pending] = []  # notifications written with their job's id
        rest: list[Pending] = []
        for p in known:
            (planned if p.kind is OutboxKind.NOTIFY and p.job_id else rest).append(p)
        pending = [
            *rest,
            *self.core.publishing.get_pending([i.id for i in unknown if i.kind is not OutboxKind.NOTIFY]),
            *self.core.notifications.get_pending([i.id for i in unknown if i.kind is OutboxKind.NOTIFY]),
        ]
        self._enqueue_all(pending, report)
        self._enqueue_planned(planned, report)  # last; nothing to record (`notify_job_id`)

    def notify_job_id(self, key: str) -> str:
        """The id of the job that will deliver the notifications `key` stands for (one change's
        rows of one channel), named before they are written (`Deps.plan_job`)."""
        return self._fit(f"{self.prefix}-notify-{key}")

    def _fit(self, job_id: str) -> str:
        """`job_id`, or where it is longer than the outbox tables' column (a long queue name),
        the queue's name cut short and a digest of the whole id: the same id every time."""
        if len(job_id) <= JOB_ID_MAX:
            return job_id
        digest = hashlib.sha256(job_id.encode()).hexdigest()[:24]
        return f"{self.prefix[:JOB_ID_MAX - 25]}-{digest}"

    def _enqueue_planned(self, items: Sequence[Pending], report: Report) -> None:
        """Enqueue notifications under the job id their rows record, one job per id. A job of
        that id in Redis already stands when it is live (the hand-off or a reconciler pass made
        it a moment ago); one that has ended (a database restored under a Redis that kept its
        jobs) gets the rows still recorded under it a new job, as a dead job's rows do."""
        groups: dict[str, list[Pending]] = {}
        for item in items:
            assert item.job_id is not None
            groups.setdefault(item.job_id, []).append(item)
        for job_id, group in groups.items():
            try:
                if self._enqueue(group[0], report, batch=group, job_id=job_id) is not None:
                    continue
                job = self._job(job_id)
                if job is None or job.get_status(refresh=False) in LIVE:
                    continue
                orphans = [p for p in self.core.notifications.get_pending([i.id for i in group])
                           if p.job_id == job_id]
                self._enqueue_all(orphans, report)
            except Exception as exc:  # the reconciler makes what this missed
                log.warning("enqueueing notification job %s failed (%s); the reconciler will "
                            "make it", job_id, type(exc).__name__)

    # --- the reconciler: a safety net, every few seconds ----------------------------------------

    def _job(self, job_id: str | None) -> Job | None:
        if job_id is None:
            return None
        try:
            return Job.fetch(job_id, connection=self.queue.connection,
                             serializer=self.queue.serializer)
        except NoSuchJobError:
            return None

    def reconcile(self) -> Report:
        """One pass: enqueue new items, re-enqueue lost or dead ones, cancel withdrawn ones."""
        # One pass at a time across every worker host.
        lock = self.queue.connection.lock(f"signoff:reconcile:{self.queue.name}", timeout=60,
                                          blocking_timeout=30)
        if not lock.acquire():
            return Report()
        try:
            return self._pass()
        finally:
            with contextlib.suppress(LockError):
                lock.release()

    def _pass(self) -> Report:
        report = Report()
        stuck = set(self.core.publishing.stuck_posts())
        scheduled = {q.name: ScheduledJobRegistry(queue=q) for q in (self.queue, self.notify_queue)}
        now = datetime.now(UTC)
        items = [*self.core.publishing.pending(), *self.core.notifications.pending()]
        due: list[Pending] = []
        absent: list[Pending] = []  # notifications whose job Redis does not hold
        jobs: dict[str | None, Job | None] = {None: None}  # a batch's rows share one job
        for item in items:
            if item.job_id not in jobs:
                jobs[item.job_id] = self._job(item.job_id)
            job = jobs[item.job_id]
            status = job.get_status(refresh=False) if job is not None else None
            # Started by a worker that died (its lease ran out, or a delivery far past its
            # timeout), or waiting on a scheduler that died holding the queue's scheduler lock (a
            # retry long overdue): each needs a new job.
            dead = False
            if status == JobStatus.STARTED and job is not None:
                if item.kind is OutboxKind.NOTIFY:
                    started = job.started_at
                    dead = started is not None and \
                        (now - _utc(started)).total_seconds() > 2 * (job.timeout or 60)
                else:
                    dead = item.post_id in stuck
            if status == JobStatus.SCHEDULED and job is not None:
                try:
                    when = scheduled[self._queue_for(item).name].get_scheduled_time(job)
                except NoSuchJobError:  # the scheduler moved it to the queue a moment ago
                    when = None
                dead = when is not None and (now - _utc(when)).total_seconds() > STALL_SECONDS
            if item.kind is OutboxKind.PREVIEW and item.enqueue_count >= MAX_PREVIEW_TRIES and (
                    job is None or status not in LIVE):
                # A preview that keeps failing is not worth more quota; the publish job will
                # make the draft itself.
                assert item.revision_hash is not None
                self.core.publishing.finish_preview(item.post_id, item.revision_hash,
                                                    IntentState.CANCELLED)
                continue
            if job is not None and status in LIVE and not dead:
                report.alive += 1
                continue
            if item.job_id is not None:
                report.requeued += 1  # Redis lost it, it failed, or its worker died
            if job is None and item.kind is OutboxKind.NOTIFY and item.job_id is not None:
                # Never made (its hand-off may be a moment away) or lost: made under its own id,
                # so that a hand-off racing this pass makes no second job.
                absent.append(item)
                continue
            due.append(item)
        self._enqueue_planned(absent, report)
        self._enqueue_all(due, report)
        report.cancelled = self._cancel_withdrawn()
        report.drafts = self._clean_drafts()
        return report

    def _clean_drafts(self) -> int:
        """A job per draft that will never be used; the job deletes it from the draft box."""
        made = 0
        for ref in self.core.publishing.obsolete_drafts():
            job_id = f"{self.prefix}-draft-{ref.post_id}-{ref.revision_hash[:16]}"
            try:
                # Kept briefly either way: a failed deletion is tried again a few passes later.
                self.queue.enqueue("worker.jobs.delete_draft", ref.post_id, ref.revision_hash,
                                   ref.media_id, job_id=job_id, unique=True, result_ttl=60,
                                   failure_ttl=300, job_timeout=60)
            except DuplicateJobError:
                continue
            made += 1
        return made

    def _enqueue_all(self, items: Sequence[Pending], report: Report) -> None:
        """Enqueue each item (notifications due now in batches), then record every job id in
        one transaction per outbox."""
        now = self.core.deps.now()
        batches: dict[str, list[Pending]] = {}
        made: list[tuple[Pending, str]] = []
        for item in items:
            if item.kind is OutboxKind.NOTIFY and item.due_at <= now:
                batches.setdefault(item.channel, []).append(item)
            elif job_id := self._enqueue(item, report):
                made.append((item, job_id))
        for group in batches.values():
            for start in range(0, len(group), NOTIFY_BATCH):
                batch = group[start:start + NOTIFY_BATCH]
                if job_id := self._enqueue(batch[0], report, batch=batch):
                    made.extend((item, job_id) for item in batch)
        self.core.publishing.mark_enqueued(
            [(i.id, j, i.enqueue_count + 1) for i, j in made if i.kind is not OutboxKind.NOTIFY])
        self.core.notifications.mark_enqueued(
            [(i.id, j, i.enqueue_count + 1) for i, j in made if i.kind is OutboxKind.NOTIFY])

    def _enqueue(self, item: Pending, report: Report,
                 batch: Sequence[Pending] | None = None, job_id: str | None = None
                 ) -> str | None:
        queue = self._queue_for(item)
        batch = batch or [item]
        if job_id is None:  # the item, how many times it was enqueued, how many go together
            count = max(i.enqueue_count for i in batch) + 1
            size = f"x{len(batch)}-" if len(batch) > 1 else ""
            job_id = self._fit(
                f"{self.prefix}-{item.kind.value}-{item.post_id}-{item.id}-{size}{count}")
        timeout = int(self.settings.publish_poll_seconds) + 300
        if item.kind is OutboxKind.PUBLISH:
            func, args = "worker.jobs.publish_post", (item.post_id, item.id)
            retry = Retry(max=self.settings.publish_retries,
                          interval=self.settings.publish_retry_seconds) \
                if self.settings.publish_retries > 0 else None  # RQ's Retry needs max >= 1
        elif item.kind is OutboxKind.PREVIEW:
            func, args = "worker.jobs.prepare_preview", (item.post_id, item.revision_hash)
            retry = Retry(max=3, interval=[2, 10, 30])
        else:
            func = DELIVERY_JOBS.get(item.channel, "")
            if not func:
                log.warning("no delivery job for channel %r (notification %d)", item.channel,
                            item.id)
                return None
            # Delivery records its own retries (a channel may say when to try again).
            args, retry = ([i.id for i in batch],), None
            timeout = NOTIFY_TIMEOUT_SECONDS + NOTIFY_SECONDS_EACH * len(batch)
        try:
            if item.due_at > self.core.deps.now():
                # enqueue_at ignores unique= in RQ 2.12: create the job, then schedule it uniquely.
                job = queue.create_job(func, args=args, job_id=job_id, retry=retry,
                                       timeout=timeout, result_ttl=86400, failure_ttl=7 * 86400)
                queue.schedule_job(job, item.due_at, unique=True)
                report.scheduled += 1
            else:
                queue.enqueue(func, *args, job_id=job_id, retry=retry, job_timeout=timeout,
                              result_ttl=86400, failure_ttl=7 * 86400, unique=True)
                report.enqueued += 1
        except DuplicateJobError:
            return None  # the hand-off or another reconciler enqueued this very id a moment ago
        return job_id

    def _cancel(self, job_id: str | None) -> bool:
        job = self._job(job_id)
        if job is not None and job.get_status(refresh=False) in (JobStatus.QUEUED,
                                                                 JobStatus.SCHEDULED):
            job.cancel()
            return True
        return False

    def _cancel_withdrawn(self) -> int:
        return sum(self._cancel(job_id)
                   for job_id in self.core.publishing.recently_cancelled_job_ids())
