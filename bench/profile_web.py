"""The console's pages one request at a time, in-process: milliseconds and SQL statements each.

    python bench/profile_web.py [--database-url URL] [--posts 100000] [--audit-rows 1000000]
                                [--requests 200] [--profile queue|post|approve] [--top 30]

Runs the app through Flask's test client (no server, no network, no other client: the steadiest
signal on a shared machine) against a database filled as `bench/web.py` fills it (an existing
database that already holds the posts and audit rows is used as it is). For `/ping`, the queue
page, a post's page and the approve POST it prints the median and p90 milliseconds per request
and the SQL statements each sends. With `--profile`, one route runs under cProfile and the
functions with the most cumulative and own time are printed.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import event  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from approvals.config.settings import Settings  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.web import create_app  # noqa: E402
from bench.cpu import package_of  # noqa: E402
from bench.web import ORG, PASSWORD, ensure_filled, prepare_approvals, settle  # noqa: E402
from signoff.wiring import build_core  # noqa: E402


def login(app: object, person: str) -> tuple[FlaskClient, str]:
    """A logged-in test client and its session's CSRF token."""
    client = app.test_client()  # type: ignore[attr-defined]
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]  # type: ignore[index]
    answer = client.post("/login", data={"person": person, "password": PASSWORD,
                                         "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"',  # type: ignore[index]
                      client.get("/").get_data(as_text=True))[1]
    return client, token


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--audit-rows", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--profile", choices=["queue", "post", "approve"], default=None)
    ap.add_argument("--profiler", choices=["cprofile", "cpu", "pyinstrument"], default="cprofile",
                    help="cpu: cProfile counting CPU time only (no waiting on the database); "
                         "pyinstrument is not a dependency: pip install it to use it")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--save", default=None, help="with --profile: write cProfile's stats here "
                    "(for pstats: callers, callees)")
    ap.add_argument("--sql", action="store_true", help="print the statements of one request each")
    ap.add_argument("--redis-url", default=None,
                    help="hand each commit's outbox items to RQ at this Redis, as production does")
    args = ap.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='signoff-profile-web-')}/p.db"
    engine = db.create_db_engine(url)
    db.upgrade(engine)
    ensure_filled(engine, args.posts, args.audit_rows)
    # With --redis-url, each commit hands its outbox items to RQ there (nobody works that
    # queue), as the console does in production; without, the hand-off is left out.
    settings = Settings(database_url=url, org_file=ORG,
                        redis_url=args.redis_url or "redis://127.0.0.1:1/0",
                        queue_name=f"profile-web-{os.getpid()}")
    core = build_core(settings, engine=engine)
    handoff = core.deps.enqueue
    core.deps.enqueue = None  # not while preparing
    approvals = args.requests * (2 if args.profile == "approve" else 1) + 40
    waiting = prepare_approvals(core.service, approvals)
    settle(engine)
    if args.redis_url:
        core.deps.enqueue = handoff
        atexit.register(_forget, args.redis_url, settings.queue_name)
    app = create_app(core, secret_key="profile-" + "k" * 32, secure_cookies=False)
    admin, _ = login(app, "zhao_xue")
    head, head_token = login(app, "zhang_wei")

    # Round trips to the database: each statement, and what is not a statement: a checkout's
    # liveness ping (pool_pre_ping), BEGIN, COMMIT and ROLLBACK.
    statements, trips = [0], [0]
    shown: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: object, _cursor: object, sql: str, *_a: object) -> None:
        statements[0] += 1
        trips[0] += 1
        shown.append(" ".join(sql.split())[:160])

    def _trip(conn: Any, *_a: object) -> None:
        # Without a transaction (autocommit) the driver sends no BEGIN, COMMIT or ROLLBACK.
        if not getattr(conn.connection.dbapi_connection, "autocommit", False):
            trips[0] += 1
            shown.append("(BEGIN, COMMIT or ROLLBACK)")

    for name in ("begin", "commit", "rollback"):
        event.listen(engine, name, _trip)
    if engine.pool._pre_ping:  # type: ignore[attr-defined]
        event.listen(engine, "checkout", lambda *_a: trips.__setitem__(0, trips[0] + 1))

    # The database's own CPU time per request, when it runs on this machine: the backends
    # serving this process's connections, read from /proc.
    backends: set[int] = set()
    if engine.url.get_backend_name() == "postgresql":
        engine.dispose()

        @event.listens_for(engine, "connect")
        def _backend(dbapi_conn: object, _record: object) -> None:
            cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cur.execute("SELECT pg_backend_pid()")
            backends.add(cur.fetchone()[0])
            cur.close()
            dbapi_conn.commit()  # type: ignore[attr-defined]

    def db_cpu() -> float:
        total = 0
        for pid in backends:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    supply = iter(waiting)
    admin_cookie = f"session={admin.get_cookie('session').value}"  # type: ignore[union-attr]
    head_cookie = f"session={head.get_cookie('session').value}"  # type: ignore[union-attr]

    # Each request goes to the app as a WSGI call with the session's cookie, as a load
    # generator sends it (the same cookie every time): what is timed is the app's work alone,
    # not a test client's building of the request and reading of the answer.
    def serve(environ: dict[str, Any]) -> int:
        status: list[str] = []
        body = app(environ, lambda s, _h, _e=None: status.append(s))
        for _ in body:
            pass
        getattr(body, "close", lambda: None)()
        return int(status[0].split()[0])

    def get(cookie: str, path: str) -> Callable[[], Callable[[], None]]:
        def make() -> Callable[[], None]:
            environ = EnvironBuilder(path=path, headers={"Cookie": cookie}).get_environ()

            def call() -> None:
                assert serve(environ) == 200, path
            return call
        return make

    def approve() -> Callable[[], None]:
        pid, h = next(supply)
        environ = EnvironBuilder(path=f"/posts/{pid}/act", method="POST", headers={
            "Cookie": head_cookie}, data={"action": "approve", "revision": h,
                                          "csrf_token": head_token}).get_environ()

        def call() -> None:
            assert serve(environ) == 302, pid
        return call

    routes: dict[str, Callable[[], Callable[[], None]]] = {
        "ping": get(admin_cookie, "/ping"),
        "queue": get(admin_cookie, "/"),
        "post": get(head_cookie, f"/posts/{waiting[-1][0]}"),
        "approve": approve,
    }
    for name, call in routes.items():
        for _ in range(5):  # warm: compiled SQL, templates, pooled connections
            call()()
        times, counts, rounds, cpu, db_ms = [], [], [], 0.0, 0.0
        for _ in range(args.requests):
            request = call()
            before, before_trips = statements[0], trips[0]
            cpu0, db0 = time.process_time(), db_cpu()
            t0 = time.perf_counter()
            request()
            times.append((time.perf_counter() - t0) * 1000)
            cpu += (time.process_time() - cpu0) * 1000 / args.requests
            db_ms += (db_cpu() - db0) * 1000 / args.requests
            counts.append(statements[0] - before)
            rounds.append(trips[0] - before_trips)
        times.sort()
        if args.sql:
            request = call()
            shown.clear()
            request()
            print("\n".join(f"    {line}" for line in shown))
        # Function calls (Python's and C's) per request: unlike time on a shared machine, the
        # same for the same work, so a change's effect on the app's own work shows plainly.
        calls = [0]

        def count(_frame: object, event: str, _arg: object, calls: list[int] = calls) -> None:
            if event in ("call", "c_call"):
                calls[0] += 1

        requests = [call() for _ in range(20)]
        sys.setprofile(count)
        for request in requests:
            request()
        sys.setprofile(None)
        print(f"{name:8s} median {statistics.median(times):6.2f} ms  "
              f"p90 {times[int(len(times) * 0.9)]:6.2f} ms  "
              f"SQL {statistics.median(counts):g} statements, {statistics.median(rounds):g} "
              f"round trips; CPU {cpu:.2f} ms here"
              + (f" + {db_ms:.2f} ms database" if backends else "")
              + f"; {calls[0] // len(requests)} calls ({args.requests} requests)",
              flush=True)
    if args.profile:
        make = routes[args.profile]
        requests = [make() for _ in range(args.requests)]
        if args.profiler == "pyinstrument":
            from pyinstrument import Profiler

            with Profiler(interval=0.0005) as profiler:
                for request in requests:
                    request()
            print(profiler.output_text(unicode=True, color=False, short_mode=False))
            by_package: dict[str, float] = {}

            def walk(frame: object, owner: str) -> None:
                # Own time comes as children without a file: it is their parent's.
                path = frame.file_path  # type: ignore[attr-defined]
                if path:
                    owner = package_of(path)
                own = frame.time - sum(c.time for c in frame.children)  # type: ignore[attr-defined]
                by_package[owner] = by_package.get(owner, 0.0) + own
                for child in frame.children:  # type: ignore[attr-defined]
                    walk(child, owner)

            walk(profiler.last_session.root_frame(), "?")  # type: ignore[union-attr]
            total = sum(by_package.values())
            for name, spent in sorted(by_package.items(), key=lambda kv: -kv[1])[:args.top]:
                print(f"{name:30s} {spent * 1000 / args.requests:6.2f} ms/request "
                      f"({spent / total:5.1%})")
            return
        prof = (cProfile.Profile(time.process_time) if args.profiler == "cpu"
                else cProfile.Profile())
        prof.enable()
        for request in requests:
            request()
        prof.disable()
        if args.save:
            prof.dump_stats(args.save)
        stats = pstats.Stats(prof)
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            stats.stream = out  # type: ignore[attr-defined]
            stats.sort_stats(order).print_stats(args.top)
            print(out.getvalue())
        # Own time by package (or by the project's folder), of all the requests.
        owners: dict[str, float] = {}
        for (path, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
            owner = package_of(path)
            owners[owner] = owners.get(owner, 0.0) + row[2]
        total = sum(owners.values())
        for owner, spent in sorted(owners.items(), key=lambda kv: -kv[1])[:args.top]:
            print(f"{owner:30s} {spent / total:6.1%}")


def _forget(redis_url: str, queue_name: str) -> None:
    import redis

    conn = redis.Redis.from_url(redis_url)
    for key in conn.scan_iter(f"*{queue_name}*"):
        conn.delete(key)
    for name in conn.smembers("rq:queues"):  # RQ's list of queues
        if queue_name in name.decode():
            conn.srem("rq:queues", name)


if __name__ == "__main__":
    main()
