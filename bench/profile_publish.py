"""Where a publish job spends its time: cProfile over N publish jobs run in-process.

    python bench/profile_publish.py [--posts 30] [--top 25] [--database-url URL]

Signs N posts, then runs their publish jobs in one in-process RQ SimpleWorker under cProfile
against the WeChat simulator at zero delay, and prints the functions with the most cumulative
and own time (per job), so a change can be judged by what it removes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from approvals.bootstrap import bootstrap  # noqa: E402
from approvals.config.settings import Settings  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.views import OutboxKind  # noqa: E402
from bench.publish import sign_posts  # noqa: E402
from signoff.embedded import some_redis  # noqa: E402
from signoff.sims.wechat import SimConfig, WeChatSim  # noqa: E402
from worker.context import build_context, install  # noqa: E402

ORG = ROOT / "config" / "org.example.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    from rq import SimpleWorker

    config = SimConfig(publish_delay_seconds=0.0, mass_send_delay_seconds=0.0)
    with tempfile.TemporaryDirectory() as tmp, WeChatSim(config) as sim, \
            some_redis(args.redis_url) as (redis_url, _embedded):
        url = args.database_url or f"sqlite:///{Path(tmp) / 'profile.db'}"
        engine = db.create_db_engine(url)
        db.upgrade(engine)
        settings = Settings(database_url=url, redis_url=redis_url, org_file=ORG,
                            wechat_api_base=sim.base_url, wechat_appid=config.appid,
                            wechat_secret=config.secret, queue_name=f"profile-{os.getpid()}",
                            notify_log_file=Path(tmp) / "notifications.jsonl")
        core = bootstrap(settings, engine=engine)
        sign_posts(core.service, args.posts)
        for item in core.publishing.pending():
            if item.kind is OutboxKind.PREVIEW:
                core.publishing.finish_preview(item.post_id, item.revision_hash or "")
        ctx = build_context(settings, core=core)
        install(ctx)
        ctx.dispatcher().reconcile()
        # Notifications wait on their own queue: only the publish jobs run under the profiler.
        worker = SimpleWorker([ctx.queue], connection=ctx.redis, serializer=ctx.queue.serializer)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        worker.work(burst=True, logging_level="WARNING")
        profile.disable()
        wall = time.perf_counter() - started
        for queue in ctx.queues:
            queue.delete(delete_jobs=True)
        install(None)
        ctx.redis.close()
        core.close()

    print(f"{args.posts} publish jobs in {wall:.2f} s: {wall / args.posts * 1000:.1f} ms per job "
          f"(in-process SimpleWorker, database {url.split(':')[0]})")
    for order, title in (("cumulative", "most cumulative time"), ("tottime", "most own time")):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats(order).print_stats(args.top)
        print(f"\n--- {title} (seconds over all {args.posts} jobs) ---")
        lines = out.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
        print("\n".join(line.replace(str(ROOT) + "/", "") for line in lines[start:]))


if __name__ == "__main__":
    main()
