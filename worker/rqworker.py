"""The RQ worker `signoff worker` runs: signoff's own jobs in the worker process, others forked.

RQ forks a work horse per job so that foreign code cannot take the worker down. signoff's jobs
are its own, short, and gain everything from staying in the process that built the core: warm
database connections and compiled SQL, a kept-alive connection to WeChat (no TLS handshake per
job), no copy-on-write of the whole process per job. Anything else still runs in a horse.
"""

from __future__ import annotations

from rq import Queue, Worker
from rq.job import Job
from rq.worker import WorkerStatus

OWN_JOBS = frozenset({
    "worker.jobs.publish_post", "worker.jobs.prepare_preview",
    "worker.jobs.deliver_notifications", "worker.jobs.delete_draft", "worker.jobs.ping",
})


class SignoffWorker(Worker):
    """A forking RQ worker that runs signoff's own jobs in process (as RQ's SimpleWorker does)."""

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
