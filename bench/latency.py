"""Sign-off to publication latency: how soon a leader's 签发 reaches WeChat.

    python bench/latency.py [--posts 20] [--database-url URL] [--redis-url URL]

One `signoff worker` (no reconciler: only the hand-off can start the job) runs idle against the
WeChat simulator at zero delay. Each post is walked to the issuer's step beforehand; then the
posts are signed one at a time through the same path the CLI takes (the core built by
`signoff.wiring.build_core`), waiting for each to be published before signing the next. Prints
`sign → submitted` (the simulator's freepublish/submit arrival) and `sign → published` (the post
PUBLISHED in the database), with p50, p90 and p99 in seconds.
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

from approvals.config.settings import Settings  # noqa: E402
from approvals.rules.states import PostStatus  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.views import RevisionInput  # noqa: E402
from signoff.embedded import some_redis  # noqa: E402
from signoff.sims.wechat import SimConfig, WeChatSim  # noqa: E402
from signoff.wiring import build_core  # noqa: E402

ORG = ROOT / "config" / "org.example.toml"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def wait(what: object, timeout: float = 60.0, every: float = 0.005) -> object:
    """Poll `what()` until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()  # type: ignore[operator]
        if value:
            return value
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


def line(name: str, values: list[float]) -> str:
    """One figure: percentiles of `values` in seconds."""
    return (f"{name}: p50 {percentile(values, 50):.3f} s, p90 {percentile(values, 90):.3f} s, "
            f"p99 {percentile(values, 99):.3f} s, max {max(values):.3f} s, "
            f"mean {statistics.fmean(values):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    config = SimConfig(publish_delay_seconds=0.0, mass_send_delay_seconds=0.0)
    with tempfile.TemporaryDirectory() as tmp, WeChatSim(config) as sim, \
            some_redis(args.redis_url) as (redis_url, embedded):
        url = args.database_url or f"sqlite:///{Path(tmp) / 'latency.db'}"
        engine = db.create_db_engine(url)
        db.upgrade(engine)
        engine.dispose()
        queue = f"latency-{os.getpid()}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SIGNOFF_DATABASE_URL": url,
               "SIGNOFF_REDIS_URL": redis_url, "SIGNOFF_ORG_FILE": str(ORG),
               "SIGNOFF_WECHAT_API_BASE": sim.base_url, "SIGNOFF_WECHAT_APPID": config.appid,
               "SIGNOFF_WECHAT_SECRET": config.secret, "SIGNOFF_QUEUE_NAME": queue,
               "SIGNOFF_NOTIFY_LOG_FILE": str(Path(tmp) / "notifications.jsonl")}
        settings = Settings(database_url=url, redis_url=redis_url, org_file=ORG,
                            wechat_api_base=sim.base_url, wechat_appid=config.appid,
                            wechat_secret=config.secret, queue_name=queue,
                            notify_log_file=Path(tmp) / "notifications.jsonl")
        core = build_core(settings)  # the CLI's own wiring: hand-off to RQ after each commit
        svc = core.service

        worker = subprocess.Popen([sys.executable, "-m", "signoff", "worker", "--no-reconcile"],
                                  env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, start_new_session=True)
        try:
            ready = []
            for i in range(args.posts):
                pid = svc.create_post(drafter="li_na", title=f"时延测试稿件{i}", body=f"第{i}篇正文。")
                svc.act(pid, "new_revision", "he_jing", revision=RevisionInput())
                h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
                for action, who in [("confirm", "li_na"), ("approve", "zhang_wei"),
                                    ("approve", "chen_gang")]:
                    svc.act(pid, action, who, revision_hash=h)
                ready.append((pid, h))
            # Let the worker finish the preview drafts and notifications: it is idle when we sign.
            wait(lambda: not core.publishing.pending() and not core.notifications.pending(), 300)

            submitted, published = [], []
            for pid, h in ready:
                title = f"时延测试稿件{pid - 1}"
                t0 = time.time()
                svc.act(pid, "sign", "wang_min", revision_hash=h)
                sub = wait(lambda title=title: _submitted(sim, title))
                view = wait(lambda pid=pid: (v := svc.view(pid)).post.status is PostStatus.PUBLISHED
                            and v)
                submitted.append(float(sub) - t0)  # type: ignore[arg-type]
                published.append(view.post.published_at.timestamp() - t0)  # type: ignore[union-attr]
        finally:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
            core.close()
        print(f"posts {args.posts}, one idle `signoff worker` (no reconciler), database "
              f"{url.split(':')[0]}, redis {'embedded' if embedded else redis_url}")
        print(line("sign → submitted", submitted))
        print(line("sign → published", published))


def _submitted(sim: WeChatSim, title: str) -> float | None:
    """When the simulator received the freepublish/submit of the article titled `title`."""
    for pub in sim.control.state()["publications"]:
        if title in pub["titles"]:
            return float(pub["submitted_at"])
    return None


if __name__ == "__main__":
    main()
