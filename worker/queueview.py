"""The core's `QueueView` port over RQ: what the queue says of each job, for the jobs page.

Only plain values leave this module; a failure is reduced to its exception's last line with every
secret redacted (the same scrubbing as the worker's logs), never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from approvals.config.settings import Settings
from approvals.rules.errors import Text, Unavailable
from approvals.views import QueueJob
from worker.context import make_queues
from worker.scrub import redact

ERROR_MAX = 500  # characters of a failure shown on the page
# The jobs whose first argument is the post they work on.
POST_JOBS = frozenset({"worker.jobs.publish_post", "worker.jobs.prepare_preview",
                       "worker.jobs.delete_draft"})
UNAVAILABLE = Text("队列（Redis）无法连接。", "The queue (Redis) does not answer.")


def last_line(exc_info: str | None, secrets: Sequence[str] = ()) -> str:
    """The exception of a stored traceback (its last non-empty line), secrets redacted."""
    lines = [line.strip() for line in (exc_info or "").splitlines() if line.strip()]
    return redact(lines[-1], secrets)[:ERROR_MAX] if lines else ""


class RQQueueView:
    """What the signoff queues (publishing, notifications) say of their jobs."""

    def __init__(self, queues: Sequence[Queue], secrets: Sequence[str] = ()) -> None:
        self.queues = list(queues)
        self.secrets = tuple(s for s in secrets if s)

    @property
    def _redis(self) -> Redis:
        return self.queues[0].connection

    def _view(self, job_id: str, job: Job | None) -> QueueJob:
        if job is None:
            return QueueJob(job_id, "missing")
        status = job.get_status(refresh=False)
        status = getattr(status, "value", status)  # RQ's JobStatus enum, as its plain name
        error = ""
        if status == "failed":
            result = job.latest_result()
            error = last_line(result.exc_string if result is not None else None, self.secrets)
        try:
            func = job.func_name
            args = job.args
        except Exception:  # a job this code cannot read (another version's): shown by id
            func, args = "", ()
        post = args[0] if func in POST_JOBS and args and isinstance(args[0], int) else None
        at: datetime | None = job.ended_at or job.enqueued_at
        return QueueJob(job_id, str(status or "missing"), error, func, post, at)

    def jobs(self, job_ids: Sequence[str]) -> dict[str, QueueJob]:
        """Each job by id ("missing" when Redis does not know it).

        Raises:
            Unavailable: Redis does not answer.
        """
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return {}
        try:
            found = Job.fetch_many(ids, connection=self._redis,
                                   serializer=self.queues[0].serializer)
            return {i: self._view(i, j) for i, j in zip(ids, found, strict=True)}
        except RedisError:
            raise Unavailable(UNAVAILABLE) from None

    def failed(self, limit: int = 50) -> list[QueueJob]:
        """The newest failed jobs of each queue, newest first.

        Raises:
            Unavailable: Redis does not answer.
        """
        try:
            out: list[QueueJob] = []
            for q in self.queues:
                registry = FailedJobRegistry(queue=q)
                ids = registry.get_job_ids(0, limit - 1, desc=True)
                found = Job.fetch_many(ids, connection=self._redis, serializer=q.serializer)
                out += [self._view(i, j) for i, j in zip(ids, found, strict=True) if j]
            return out
        except RedisError:
            raise Unavailable(UNAVAILABLE) from None

    def requeue(self, job_id: str) -> bool:
        """Run a failed job again as it was; False when no queue holds it as failed.

        Raises:
            Unavailable: Redis does not answer.
        """
        try:
            for q in self.queues:
                registry = FailedJobRegistry(queue=q)
                if job_id in registry.get_job_ids():
                    try:
                        registry.requeue(job_id)
                    except (InvalidJobOperation, NoSuchJobError):
                        return False
                    return True
            return False
        except RedisError:
            raise Unavailable(UNAVAILABLE) from None


def queue_view(settings: Settings, redis: Redis | None = None) -> RQQueueView:
    """The view of this deployment's queues (a Redis that does not answer fails fast)."""
    redis = redis or Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    secret = settings.wechat_secret.get_secret_value() if settings.wechat_secret else ""
    return RQQueueView(make_queues(redis, settings), secrets=(secret,))
