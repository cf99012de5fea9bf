"""The RQ worker `signoff worker` runs: signoff's own jobs in the worker process, others forked.

RQ forks a work horse per job so that foreign code cannot take the worker down. signoff's jobs
are its own, short, and gain everything from staying in the process that built the core: warm
database connections and compiled SQL, a kept-alive connection to WeChat (no TLS handshake per
job), no copy-on-write of the whole process per job. Anything else still runs in a horse.

A job that fails leaves its traceback in Redis (the job's hash, its failure result, the failed job
registry), where rq-dashboard and the jobs page read it. Whatever the exception carries — the app
secret, an access token, the Telegram bot token in a Bot API URL — is redacted before RQ stores
it, and RQ's own log lines about the failure are redacted as they are made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rq import Queue, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.worker import WorkerStatus

from worker.scrub import redact, redact_records

OWN_JOBS = frozenset({
    "worker.jobs.publish_post", "worker.jobs.prepare_preview",
    "worker.jobs.deliver_notifications", "worker.jobs.delete_draft", "worker.jobs.ping",
})


class SignoffWorker(Worker):
    """A forking RQ worker that runs signoff's own jobs in process (as RQ's SimpleWorker does),
    and stores and logs a failed job's traceback only with `secrets` (and every token `redact`
    knows) redacted."""

    def __init__(self, *args: Any, secrets: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets = tuple(s for s in secrets if s)
        # RQ logs the whole traceback of a failure (handle_exception), in the work horse too: the
        # filter sits on RQ's logger, which the forked horse shares.
        redact_records(self.log, self.secrets)

    def handle_job_failure(self, job: Job, queue: Queue,
                           started_job_registry: StartedJobRegistry | None = None,
                           exc_string: str = "") -> None:
        """RQ's bookkeeping of a failure, given the traceback redacted: every copy RQ keeps of it
        (the job's `exc_info`, its failure result, a webhook's payload) comes from this text."""
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry,
                                   exc_string=redact(exc_string, self.secrets))

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run one of signoff's jobs here, anything else in a forked work horse."""
        if job.func_name not in OWN_JOBS:
            super().execute_job(job, queue)
            return
        self.prepare_execution(job)
        self.perform_job(job, queue)
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job: Job) -> int:
        """A job run in process gets no heartbeat while it runs: cover its whole timeout."""
        if job.func_name in OWN_JOBS:
            return int(job.timeout or self.worker_ttl) + 60
        return super().get_heartbeat_ttl(job)
