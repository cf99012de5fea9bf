"""The dispatcher and reconciler: the database's intents onto the queue, whatever Redis forgot."""

from __future__ import annotations

import contextlib
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from redis.exceptions import LockError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from approvals.config.settings import Settings
from approvals.services.publishing import Publishing
from approvals.store.models import PublishIntent

LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}
# A scheduled job this long overdue has no live scheduler to move it to the queue.
STALL_SECONDS = 15.0
MAX_PREVIEW_TRIES = 3


@dataclass
class Report:
    """What one pass did."""

    enqueued: int = 0
    scheduled: int = 0
    requeued: int = 0
    alive: int = 0
    cancelled: int = 0

    def as_dict(self) -> dict[str, int]:
        """For logs and job results."""
        return asdict(self)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class Dispatcher:
    """Reads pending intents from the database and makes sure each has one live job."""

    def __init__(self, publishing: Publishing, queue: Queue, settings: Settings) -> None:
        self.publishing = publishing
        self.queue = queue
        self.settings = settings

    def _job(self, job_id: str | None) -> Job | None:
        if job_id is None:
            return None
        try:
            return Job.fetch(job_id, connection=self.queue.connection,
                             serializer=self.queue.serializer)
        except NoSuchJobError:
            return None

    def reconcile(self) -> Report:
        """One pass: enqueue new intents, re-enqueue lost or dead ones, cancel withdrawn ones."""
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
        stuck = set(self.publishing.stuck_posts())
        scheduled = ScheduledJobRegistry(queue=self.queue)
        now = datetime.now(UTC)
        for intent in self.publishing.pending_intents():
            job = self._job(intent.job_id)
            status = job.get_status(refresh=False) if job is not None else None
            # Started by a worker that died (its lease ran out), or waiting on a scheduler that
            # died holding the queue's scheduler lock (a retry long overdue): both need a new job.
            dead = status == JobStatus.STARTED and intent.post_id in stuck
            if status == JobStatus.SCHEDULED and job is not None:
                try:
                    when = scheduled.get_scheduled_time(job)
                except NoSuchJobError:  # the scheduler moved it to the queue a moment ago
                    when = None
                dead = when is not None and (now - _utc(when)).total_seconds() > STALL_SECONDS
            if intent.kind == "preview" and intent.enqueue_count >= MAX_PREVIEW_TRIES and (
                    job is None or status not in LIVE):
                # A preview that keeps failing is not worth more quota; the publish job will
                # make the draft itself.
                self.publishing.finish_preview(intent.post_id, intent.revision_hash, "cancelled")
                continue
            if job is not None and status in LIVE and not dead:
                report.alive += 1
                continue
            if intent.job_id is not None:
                report.requeued += 1  # Redis lost it, it failed, or its worker died
            self._enqueue(intent, report)
        report.cancelled = self._cancel_withdrawn()
        return report

    def _enqueue(self, intent: PublishIntent, report: Report) -> None:
        kind = "publish" if intent.kind == "publish" else "preview"
        # Job ids are global to the Redis server: the queue's name keeps deployments apart.
        prefix = re.sub(r"[^A-Za-z0-9_-]", "_", self.queue.name)
        job_id = f"{prefix}-{kind}-{intent.post_id}-{intent.id}-{intent.enqueue_count + 1}"
        if intent.kind == "publish":
            func, args = "worker.jobs.publish_post", (intent.post_id, intent.id)
            retry = Retry(max=self.settings.publish_retries,
                          interval=self.settings.publish_retry_seconds)
        else:
            func, args = "worker.jobs.prepare_preview", (intent.post_id, intent.revision_hash)
            retry = Retry(max=3, interval=[2, 10, 30])
        options = {"job_id": job_id, "retry": retry, "result_ttl": 86400,
                   "failure_ttl": 7 * 86400,
                   "job_timeout": int(self.settings.publish_poll_seconds) + 300}
        due = intent.due_at
        try:
            if due > self.publishing.service.now():
                # enqueue_at ignores unique= in RQ 2.12: create the job, then schedule it uniquely.
                job = self.queue.create_job(func, args=args, job_id=job_id, retry=retry,
                                            timeout=options["job_timeout"], result_ttl=86400,
                                            failure_ttl=7 * 86400)
                self.queue.schedule_job(job, due, unique=True)
                report.scheduled += 1
            else:
                self.queue.enqueue(func, *args, unique=True, **options)
                report.enqueued += 1
        except DuplicateJobError:
            return  # another reconciler enqueued this very id a moment ago
        self.publishing.mark_enqueued(intent.id, job_id)

    def _cancel_withdrawn(self) -> int:
        cancelled = 0
        for job_id in self.publishing.recently_cancelled_job_ids():
            job = self._job(job_id)
            if job is not None and job.get_status(refresh=False) in (JobStatus.QUEUED,
                                                                     JobStatus.SCHEDULED):
                job.cancel()
                cancelled += 1
        return cancelled
