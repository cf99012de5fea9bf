"""Running the publishing worker and the reconciler as processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from approvals.config.settings import Settings

log = logging.getLogger("signoff.worker")


def reconcile_once(settings: Settings) -> dict[str, int]:
    """One reconciler pass with this process's worker context."""
    from worker.context import build_context

    return build_context(settings).dispatcher().reconcile().as_dict()


def reconcile_loop(settings: Settings, every: float | None) -> None:
    """A pass now, and then every `every` seconds until interrupted."""
    from worker.context import build_context

    dispatcher = build_context(settings).dispatcher()
    while True:
        try:
            print(f"reconcile: {dispatcher.reconcile().as_dict()}", flush=True)
        except Exception:
            if every is None:
                raise
            # Redis or the database blinked: the next pass repairs what this one missed.
            log.exception("reconcile pass failed; trying again in %s s", every)
        if every is None:
            return
        time.sleep(every)


def run_worker(settings: Settings, *, burst: bool, reconcile: bool, name: str | None) -> int:
    """An RQ worker with a scheduler; the reconciler runs as a child process beside it."""
    from rq import Worker

    from worker.context import build_context, preload

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ctx = build_context(settings)
    preload(ctx)  # the core is built once here, not in every forked work horse
    child = None
    if burst:
        reconcile_once(settings)
    elif reconcile:
        # A separate process: the worker forks a work horse per job, and forking a process
        # that runs other threads is asking for trouble.
        child = subprocess.Popen([sys.executable, "-m", "signoff", "reconcile", "--every",
                                  str(settings.reconcile_every_seconds)], start_new_session=True)
    worker = Worker(ctx.queues, connection=ctx.redis, serializer=ctx.queue.serializer,
                    name=name or f"signoff-{os.uname().nodename}-{os.getpid()}")
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        if child is not None:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait(10)
    return 0
