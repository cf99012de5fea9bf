"""Worker fixtures: the WeChat simulator as a real server, real RQ worker processes, real Redis."""

from __future__ import annotations

import contextlib
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
from sqlalchemy import Engine

from approvals.config.settings import load_settings
from approvals.rules.org import OrgChart
from approvals.services.actions import RevisionInput, Service
from approvals.services.publishing import Publishing
from approvals.store import db
from signoff.sims.wechat import SimConfig, SimControl, WeChatSim
from tests.conftest import EXAMPLE_ORG, ZONE, Personas
from worker.context import make_queue
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
    """A test's publishing set-up: settings in the environment, a service, workers to start."""

    env: dict[str, str]
    service: Service
    publishing: Publishing
    redis: Redis
    tmp: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def dispatcher(self) -> Dispatcher:
        settings = load_settings(queue_name=self.env["SIGNOFF_QUEUE_NAME"],
                                 publish_poll_seconds=float(self.env["SIGNOFF_PUBLISH_POLL_SECONDS"]),
                                 publish_retries=int(self.env["SIGNOFF_PUBLISH_RETRIES"]),
                                 publish_retry_seconds=[1, 1, 2, 2])
        return Dispatcher(self.publishing, make_queue(self.redis, self.env["SIGNOFF_QUEUE_NAME"]),
                          settings)

    def reconcile(self) -> dict[str, int]:
        return self.dispatcher().reconcile().as_dict()

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
            raise AssertionError(f"post {post_id} is {self.status(post_id)}, not {status}\n"
                                 f"{self.logs()[-4000:]}") from None

    def signed_post(self, who: Personas, *, title: str = "我局开展冬季防汛应急演练",
                    body: str = "12月7日，我局开展防汛应急演练，共有150人参加。",
                    mode: str | None = None, at: Any = None) -> int:
        svc = self.service
        pid = svc.create_post(drafter=who.drafter, title=title, body=body)
        svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
        if mode or at:
            self.publishing.schedule(pid, who.admin, at=at, mode=mode)
        h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
        for action, person in [("confirm", who.drafter), ("approve", who.head),
                               ("approve", who.leader), ("sign", who.issuer)]:
            svc.act(pid, action, person, revision_hash=h)
        return pid


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
        "PYTHONPATH": str(ROOT),
    })
    # Workers run on real time, so this service does too (the unit tests' clock is fixed).
    service = Service(db.session_factory(engine), org, zone=ZONE)
    b = Bench(env, service, Publishing(service), conn, tmp_path)
    yield b
    b.stop_all()
    conn.flushdb()
    conn.close()
