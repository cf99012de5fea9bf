"""Worker fixtures: the WeChat simulator as a real server, real RQ worker processes, real Redis."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import Engine

from approvals.bootstrap import Core
from approvals.config.settings import Settings, load_settings
from approvals.rules.org import OrgChart
from approvals.services import Publishing, Service
from approvals.views import RevisionInput, ScheduleInput
from signoff.embedded import free_port
from signoff.sims.wechat import SimConfig, SimControl, WeChatSim
from tests.conftest import EXAMPLE_ORG, Personas
from worker.context import build_core, make_queue
from worker.dispatch import Dispatcher

ROOT = Path(__file__).resolve().parents[2]


def session_members(sid: int) -> list[int]:
    """Every process in session `sid` (the worker was started as a session leader)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid:  # field 6 of /proc/PID/stat: the session id
            members.append(int(entry.name))
    return members


@pytest.fixture
def sim() -> Iterator[WeChatSim]:
    with WeChatSim(SimConfig(publish_delay_seconds=0.3, mass_send_delay_seconds=0.3)) as server:
        yield server


@pytest.fixture
def control(sim: WeChatSim) -> SimControl:
    return SimControl(sim.root_url)


def wait_for(what: Callable[[], Any], timeout: float = 30.0, every: float = 0.1) -> Any:
    """Poll until `what()` is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Bench:
    """A test's publishing set-up: settings in the environment, the core, workers to start.

    The core is wired as every face wires it: what it commits is handed to RQ at once.
    """

    env: dict[str, str]
    core: Core
    redis: Redis
    tmp: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def service(self) -> Service:
        return self.core.service

    @property
    def publishing(self) -> Publishing:
        return self.core.publishing

    @property
    def queue(self) -> Queue:
        return make_queue(self.redis, self.env["SIGNOFF_QUEUE_NAME"])

    @property
    def notify_queue(self) -> Queue:
        return make_queue(self.redis, self.env["SIGNOFF_QUEUE_NAME"] + "-notify")

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.core, self.queue, self.notify_queue)

    def reconcile(self) -> dict[str, int]:
        return self.dispatcher().reconcile().as_dict()

    def jobs(self, func: str) -> list[Job]:
        """Jobs of `func` waiting in either queue or its scheduled registry."""
        ids = [i for q in (self.queue, self.notify_queue)
               for i in (*q.get_job_ids(), *ScheduledJobRegistry(queue=q).get_job_ids())]
        found = Job.fetch_many(ids, connection=self.redis, serializer=self.queue.serializer)
        return [j for j in found if j is not None and j.func_name == func]

    def notification_lines(self) -> list[dict[str, Any]]:
        """What the log channel wrote, one JSON document per delivered notification."""
        path = Path(self.env["SIGNOFF_NOTIFY_LOG_FILE"])
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        with (self.tmp / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "signoff", "worker", "--no-reconcile",
                                     "--name", f"{name}-{os.getpid()}-{time.monotonic_ns()}"],
                                    env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd=ROOT)
        self.procs.append(proc)
        return proc

    def start_reconciler(self, every: float = 1.0) -> subprocess.Popen[bytes]:
        """`signoff reconcile --every N` as its own process, as it runs beside the workers."""
        with (self.tmp / "reconciler.log").open("ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "signoff", "reconcile", "--every",
                                     str(every)], env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker, its work horse and its scheduler at once (a node dying mid-job).

        The work horse runs in a process group of its own, so killing the worker's group is not
        enough: every process of the worker's session goes.
        """
        for pid in session_members(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)
            else:
                for pid in session_members(proc.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("*.log")))

    def status(self, post_id: int) -> str:
        return self.service.view(post_id).post.status

    def wait_status(self, post_id: int, status: str, timeout: float = 40.0) -> None:
        try:
            wait_for(lambda: self.status(post_id) == status, timeout)
        except AssertionError:
            post = self.service.view(post_id).post
            raise AssertionError(f"post {post_id} is {post.status}, not {status} "
                                 f"({post.problem.en or 'no problem recorded'})\n"
                                 f"{self.logs()[-4000:]}") from None

    def signed_post(self, who: Personas, *, title: str = "我局开展冬季防汛应急演练",
                    body: str = "12月7日，我局开展防汛应急演练，共有150人参加。",
                    mode: str | None = None, at: Any = None, core: Core | None = None,
                    **handed_in: Any) -> int:
        """A post handed in (with `handed_in`'s cover and pictures, say), laid out and signed."""
        svc = (core or self.core).service
        pid = svc.create_post(drafter=who.drafter, title=title, body=body, **handed_in)
        svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
        if mode or at:
            svc.act(pid, "schedule", who.admin, schedule=ScheduleInput(at, mode))
        h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
        for action, person in [("confirm", who.drafter), ("approve", who.head),
                               ("approve", who.leader), ("sign", who.issuer)]:
            svc.act(pid, action, person, revision_hash=h)
        return pid

    def offline_core(self) -> Core:
        """The same database and queue, as a face sees them while Redis is down."""
        return build_core(self.settings(SIGNOFF_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"),
                          engine=self.core.engine, org=self.core.org, check_schema=False)

    def settings(self, **env: str) -> Settings:
        """The settings the workers read from `env` (with overrides)."""
        with _environ({**self.env, **env}):
            return load_settings()


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def bench(engine: Engine, org: OrgChart, redis_url: str, sim: WeChatSim, tmp_path: Path,
          request: pytest.FixtureRequest) -> Iterator[Bench]:
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env.update({
        "SIGNOFF_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "SIGNOFF_REDIS_URL": redis_url,
        "SIGNOFF_ORG_FILE": str(EXAMPLE_ORG),
        "SIGNOFF_WECHAT_API_BASE": sim.base_url,
        "SIGNOFF_WECHAT_APPID": SimConfig().appid,
        "SIGNOFF_WECHAT_SECRET": SimConfig().secret,
        "SIGNOFF_QUEUE_NAME": f"t{os.getpid()}-{time.monotonic_ns()}",
        "SIGNOFF_PUBLISH_LEASE_SECONDS": "3",
        "SIGNOFF_PUBLISH_POLL_SECONDS": "4",
        "SIGNOFF_PUBLISH_RETRIES": "4",
        "SIGNOFF_PUBLISH_RETRY_SECONDS": "[1, 1, 2, 2]",
        "SIGNOFF_NOTIFY_LOG_FILE": str(tmp_path / "notifications.jsonl"),
        "PYTHONPATH": str(ROOT),
    })
    b = Bench(env, None, conn, tmp_path)  # type: ignore[arg-type]
    # Workers run on real time, so this core does too (the unit tests' clock is fixed).
    b.core = build_core(b.settings(), redis=conn, engine=engine, org=org, check_schema=False)
    yield b
    b.stop_all()
    conn.flushdb()
    conn.close()
