"""The worker as an operator runs it: refuses to start half-configured, says one line when Redis is
away, and leaves nothing running when it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from approvals.rules.states import PostStatus
from signoff.embedded import free_port
from tests.conftest import Personas
from tests.worker.conftest import ROOT, Bench, wait_for


def children_of(pid: int) -> dict[int, str]:
    """Live processes whose parent is `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has died; only its parent has not looked


def run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoff", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_a_worker_without_the_accounts_app_id_or_secret_refuses_to_start(bench: Bench) -> None:
    env = {k: v for k, v in bench.env.items() if k != "SIGNOFF_WECHAT_SECRET"}
    result = run(env, "worker", "--burst")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "SIGNOFF_WECHAT_SECRET" in result.stderr
    result = run({**bench.env, "SIGNOFF_WECHAT_APPID": ""}, "--lang", "en", "worker", "--burst")
    assert result.returncode == 2 and "SIGNOFF_WECHAT_APPID" in result.stderr


def test_with_redis_away_the_worker_says_one_line_and_the_reconciler_keeps_trying(
        bench: Bench) -> None:
    env = {**bench.env, "SIGNOFF_REDIS_URL": f"redis://:hunter22@127.0.0.1:{free_port()}/0"}
    worker = run(env, "--lang", "en", "worker")
    assert worker.returncode == 8
    assert worker.stderr.startswith("error: Redis at redis://127.0.0.1:") and \
        worker.stderr.count("\n") == 1
    assert "hunter22" not in worker.stderr
    once = run(env, "reconcile")
    assert once.returncode == 8 and once.stderr.count("\n") == 1
    loop = subprocess.Popen([sys.executable, "-m", "signoff", "reconcile", "--every", "0.2"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        wait_for(lambda: loop.poll() is None, 5)
        lines = []
        assert loop.stdout is not None
        while len([ln for ln in lines if "reconcile pass failed" in ln]) < 3:
            lines.append(loop.stdout.readline())
        assert loop.poll() is None  # still trying
    finally:
        loop.kill()
        loop.communicate(timeout=10)  # also closes the pipe
    failed = [ln for ln in lines if "reconcile pass failed" in ln]
    assert all("does not answer" in ln for ln in failed)
    assert not [ln for ln in lines if "Traceback" in ln or ln.startswith("  File ")]


def test_killing_the_worker_outright_takes_its_scheduler_and_reconciler_with_it(
        bench: Bench) -> None:
    worker = subprocess.Popen([sys.executable, "-m", "signoff", "worker"], env=bench.env,
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench.procs.append(worker)
    # The reconciler child and RQ's scheduler process both start.
    kids = wait_for(lambda: (k := children_of(worker.pid)) and len(k) >= 2 and
                    any("reconcile" in c for c in k.values()) and k, 60)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    wait_for(lambda: not any(alive(pid) for pid in kids), 30)


def test_signoffs_own_jobs_run_in_the_worker_process_and_foreign_ones_in_a_horse(
        bench: Bench, who: Personas) -> None:
    worker = bench.start_worker("w1")
    pid = bench.signed_post(who)
    bench.wait_status(pid, PostStatus.PUBLISHED.value)
    claim = next(e for e in bench.service.view(pid).timeline if e.action == "post.claim")
    assert str(claim.detail["worker"]).split(":")[1] == str(worker.pid)  # no fork for ours
    job = bench.queue.enqueue("os.getpid")
    wait_for(lambda: job.get_status(refresh=True) == "finished", 30)
    assert job.return_value() != worker.pid  # anyone else's code runs in a work horse
