"""Publishing throughput: N signed posts end to end against the WeChat simulator at zero latency.

    python bench/publish.py [--posts 60] [--workers 2] [--database-url URL] [--redis-url URL]

Prints the publish throughput and per-post job time percentiles, and the bare RQ throughput of a
no-op job measured in the same run by the same worker processes (started and listening before
either measurement), as a ratio. signoff's worker runs its own jobs in the worker process and
forks a work horse for any other function (the no-op `time.time` is such a function), so a
no-op of signoff's own, run in process, is measured too and its ratio printed for context.
Uses a real Redis at --redis-url when one answers, else the embedded one; a temporary SQLite
database unless --database-url is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from approvals.bootstrap import bootstrap  # noqa: E402
from approvals.config.settings import Settings  # noqa: E402
from approvals.services import Service  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.views import OutboxKind, RevisionInput  # noqa: E402
from signoff.embedded import some_redis  # noqa: E402
from signoff.sims.wechat import SimConfig, WeChatSim  # noqa: E402
from worker.context import build_context  # noqa: E402

ORG = ROOT / "config" / "org.example.toml"


def sign_posts(svc: Service, n: int) -> list[int]:
    """N posts walked through the whole chain (not timed)."""
    ids = []
    for i in range(n):
        pid = svc.create_post(drafter="li_na", title=f"基准测试稿件{i}", body=f"第{i}篇正文。")
        svc.act(pid, "new_revision", "he_jing", revision=RevisionInput())
        h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
        for action, who in [("confirm", "li_na"), ("approve", "zhang_wei"),
                            ("approve", "chen_gang"), ("sign", "wang_min")]:
            svc.act(pid, action, who, revision_hash=h)
        ids.append(pid)
    return ids


def start_workers(env: dict[str, str], workers: int, queue: object) -> list[subprocess.Popen[bytes]]:
    """Start `workers` `signoff worker`s and wait until each listens: no start-up in any window."""
    from rq import Worker

    procs = [subprocess.Popen([sys.executable, "-m", "signoff", "worker", "--no-reconcile"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(workers)]
    deadline = time.monotonic() + 120
    while Worker.count(queue=queue) < workers:  # type: ignore[arg-type]
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            stop_workers(procs)
            raise SystemExit("the workers did not start")
        time.sleep(0.05)
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    """Warm shutdown: each finishes its job and exits."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


def drained(done: object, timeout: float = 600) -> float:
    """Seconds until `done()` holds."""
    start = time.perf_counter()
    while not done():  # type: ignore[operator]
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out")
        time.sleep(0.02)
    return time.perf_counter() - start


def job_window(queue: object, prefix: str) -> tuple[float, list[float]]:
    """(seconds from the first job's start to the last job's end, each job's own duration)."""
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    registry = FinishedJobRegistry(queue=queue)  # type: ignore[arg-type]
    jobs = [j for j in Job.fetch_many(registry.get_job_ids(), connection=queue.connection,  # type: ignore[attr-defined]
                                      serializer=queue.serializer) if j and j.id.startswith(prefix)]  # type: ignore[attr-defined]
    start = min(j.started_at for j in jobs)
    end = max(j.ended_at for j in jobs)
    return (end - start).total_seconds(), [(j.ended_at - j.started_at).total_seconds() for j in jobs]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, \
            WeChatSim(SimConfig(publish_delay_seconds=0.0, mass_send_delay_seconds=0.0)) as sim, \
            some_redis(args.redis_url) as (redis_url, embedded):
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = db.create_db_engine(url)
        db.upgrade(engine)
        queue_name = f"bench-{os.getpid()}"
        settings = Settings(database_url=url, redis_url=redis_url, wechat_api_base=sim.base_url,
                            wechat_appid=SimConfig().appid, wechat_secret=SimConfig().secret,
                            queue_name=queue_name, org_file=ORG,
                            notify_log_file=Path(tmp) / "notifications.jsonl")
        # No hand-off while signing: the posts are queued in one go below, then drained.
        core = bootstrap(settings, engine=engine)
        svc = core.service
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SIGNOFF_DATABASE_URL": url,
               "SIGNOFF_REDIS_URL": redis_url, "SIGNOFF_ORG_FILE": str(ORG),
               "SIGNOFF_WECHAT_API_BASE": sim.base_url, "SIGNOFF_WECHAT_APPID": SimConfig().appid,
               "SIGNOFF_WECHAT_SECRET": SimConfig().secret, "SIGNOFF_QUEUE_NAME": queue_name}
        ctx = build_context(settings, core=core)

        from rq.registry import FailedJobRegistry, FinishedJobRegistry

        ids = sign_posts(svc, args.posts)
        for item in core.publishing.pending():  # previews are not what is measured here
            if item.kind is OutboxKind.PREVIEW:
                core.publishing.finish_preview(item.post_id, item.revision_hash or "")
        # The same worker processes run both: listening before the first job of either.
        procs = start_workers(env, args.workers, ctx.queue)
        try:
            # Baseline: N no-op jobs.
            finished = FinishedJobRegistry(queue=ctx.queue)
            for i in range(args.posts):
                ctx.queue.enqueue("time.time", job_id=f"{queue_name}-noop-{i}")
            noop_wall = drained(lambda: finished.count >= args.posts)
            noop_seconds, _ = job_window(ctx.queue, f"{queue_name}-noop-")
            # For context: a no-op of signoff's own, run in the worker process as its jobs are.
            for i in range(args.posts):
                ctx.queue.enqueue("worker.jobs.ping", job_id=f"{queue_name}-ping-{i}")
            drained(lambda: finished.count >= 2 * args.posts)
            ping_seconds, _ = job_window(ctx.queue, f"{queue_name}-ping-")
            # The N signed posts (their notifications go on the notification queue, after).
            ctx.dispatcher().reconcile()
            # Watched in Redis, not the database: polling posts would contend with the workers.
            failed = FailedJobRegistry(queue=ctx.queue)
            publish_wall = drained(lambda: finished.count + failed.count >= 3 * args.posts)
            publish_seconds, latencies = job_window(ctx.queue, f"{queue_name}-publish-")
        finally:
            stop_workers(procs)
        for pid in ids:
            view = svc.view(pid)
            assert view.post.status == "published", (pid, view.post.status, view.post.problem.en)
        published = len(sim.control.published())
        calls = sim.control.state()["calls"]
        for queue in ctx.queues:
            queue.delete(delete_jobs=True)
        ctx.redis.close()

    noop_rate, publish_rate = args.posts / noop_seconds, args.posts / publish_seconds
    print(f"posts {args.posts}, workers {args.workers}, redis {'embedded' if embedded else redis_url}, "
          f"database {url.split(':')[0]}")
    print(f"published on the simulator: {published} (expected {args.posts}); WeChat calls: "
          + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
    print(f"publish throughput: {publish_rate:.1f} posts/s ({publish_seconds:.2f} s from the first "
          f"job's start to the last job's end; {publish_wall:.2f} s from enqueue to all published)")
    print(f"per-post job time (claim → published): p50 {percentile(latencies, 50):.3f} s, "
          f"p90 {percentile(latencies, 90):.3f} s, p99 {percentile(latencies, 99):.3f} s, "
          f"max {max(latencies):.3f} s, mean {statistics.fmean(latencies):.3f} s")
    print(f"bare RQ no-op throughput: {noop_rate:.1f} jobs/s ({noop_seconds:.2f} s; {noop_wall:.2f} s "
          "from enqueue to all done)")
    ping_rate = args.posts / ping_seconds
    print(f"signoff's own no-op, run in the worker process like its publish jobs: {ping_rate:.1f} "
          f"jobs/s (ratio publish/own no-op: {publish_rate / ping_rate:.3f})")
    print(f"ratio publish/no-op: {publish_rate / noop_rate:.3f}")


if __name__ == "__main__":
    main()
