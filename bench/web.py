"""The console under load: the queue page and the approve action against `/ping` of the same app
and server, measured in the same run.

    python bench/web.py [--posts 100000] [--audit-rows 1000000] [--database-url URL]
                        [--seconds 10] [--concurrency 8] [--approvals 600] [--workers 2]

The database (a temporary SQLite file unless --database-url names another, e.g. PostgreSQL) is
filled with `--posts` posts and `--audit-rows` audit rows in bulk; `--approvals` more posts are
walked through the real service to the department head's step. `signoff serve` then runs the
console under gunicorn and a thread pool of HTTP clients (the standard library's, so nothing to
install) logs in and, for `--seconds` each, requests `/ping`, the queue page, and approves those
posts one POST each, as a browser would (session cookie and CSRF token). Prints requests per
second, p50/p95/p99 latency and the ratios against `/ping`.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, update  # noqa: E402

from approvals.config.settings import Settings  # noqa: E402
from approvals.services import Service  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.store import models as m  # noqa: E402
from approvals.store.audit import HEAD  # noqa: E402
from approvals.views import RevisionInput  # noqa: E402
from signoff.embedded import free_port, redis_answers  # noqa: E402
from signoff.wiring import build_core  # noqa: E402

ORG = ROOT / "config" / "org.example.toml"
PASSWORD = "bench-password-123"
BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def fill(engine: object, posts: int, audit_rows: int) -> None:
    """Bulk rows: what years of use leave behind (not walked through the chain)."""
    rng = random.Random(7)
    depts = [("jyk", "li_na"), ("jck", "xu_fang"), ("bgs", "guo_qiang"), ("fxk", "zhao_xue")]
    statuses = ["published"] * 8 + ["in_review", "draft", "withdrawn", "rejected"]
    now = datetime.now(UTC)
    with engine.begin() as conn:  # type: ignore[attr-defined]
        for start in range(0, posts, 10_000):
            rows = []
            for _ in range(start, min(posts, start + 10_000)):
                dept, drafter = rng.choice(depts)
                status = rng.choice(statuses)
                formed = date(2020, 1, 1) + timedelta(days=rng.randrange(2500))
                rows.append({"title": f"历史稿件{rng.randrange(10**6)}", "department": dept,
                             "drafter": drafter, "category": "publicity",
                             "classification": "proactive", "formed_on": formed,
                             "due_on": formed + timedelta(days=28), "due_estimated": False,
                             "status": status, "run": 1, "revision_number": 1, "version": 5,
                             "material_format": "text", "material_body": BODY,
                             "archived": status in ("published", "withdrawn", "rejected"),
                             "publish_mode": "publish", "created_at": now, "updated_at": now})
            conn.execute(insert(m.Post), rows)
        seq = 0
        for start in range(0, audit_rows, 20_000):
            rows = []
            for seq in range(start + 1, min(audit_rows, start + 20_000) + 1):
                rows.append({"seq": seq, "at": now, "actor": "li_na",
                             "post_id": rng.randrange(1, max(2, posts)), "action": "post.confirm",
                             "detail": "{}", "prev_hash": f"{seq - 1:064x}", "hash": f"{seq:064x}"})
            conn.execute(insert(m.AuditEntry), rows)
        if seq:  # new rows append after the bulk ones
            conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=seq, hash=f"{seq:064x}"))
    # What autovacuum does to a table that has lived a while: statistics and the visibility map
    # (without them PostgreSQL counts the open posts by reading every row).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.url.get_backend_name() == "postgresql"  # type: ignore[attr-defined]
                             else "ANALYZE")


def ensure_filled(engine: object, posts: int, audit_rows: int) -> bool:
    """`fill` a database that does not hold that many posts and audit rows yet (a database
    filled by an earlier run is used as it is: filling takes minutes); True when it filled."""
    from sqlalchemy import func, select

    with engine.connect() as conn:  # type: ignore[attr-defined]
        have_posts = conn.scalar(select(func.count()).select_from(m.Post))
        head = conn.scalar(select(HEAD.c.seq).where(HEAD.c.id == 1)) or 0
    if have_posts >= posts and head >= audit_rows:
        return False
    if have_posts or head:
        raise SystemExit(f"the database holds {have_posts} posts and {head} audit rows, fewer "
                         f"than asked for: give an empty database")
    t0 = time.monotonic()
    fill(engine, posts, audit_rows)
    print(f"filled {posts} posts and {audit_rows} audit rows in {time.monotonic() - t0:.0f} s "
          f"({engine.url.get_backend_name()})", flush=True)  # type: ignore[attr-defined]
    return True


def prepare_approvals(svc: Service, count: int) -> list[tuple[int, str]]:
    """`count` new posts walked through the real service to the department head's step:
    (post id, revision hash) each."""
    for person in ("zhao_xue", "zhang_wei"):
        svc.set_password(person, PASSWORD, by="bench")
    waiting: list[tuple[int, str]] = []
    for _ in range(count):
        pid = svc.create_post(drafter="li_na", title="压测稿件", body=BODY)
        svc.act(pid, "new_revision", "he_jing", revision=RevisionInput())
        h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
        svc.act(pid, "confirm", "li_na", revision_hash=h)
        waiting.append((pid, h))
    return waiting


class _Stay(urllib.request.HTTPRedirectHandler):
    # A redirect is the answer itself (raised as an HTTPError carrying its Location).
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Client:
    """One logged-in browser: a cookie jar and the CSRF token of its session."""

    def __init__(self, base: str, person: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.stay = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                _Stay())
        page = self.get("/login")
        self.token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]  # type: ignore[index]
        self.post("/login", {"person": person, "password": PASSWORD})
        self.token = re.search(r'name="csrf_token" value="([^"]+)"',  # type: ignore[index]
                               self.get("/"))[1]

    def clone(self) -> Client:
        """Another browser tab of the same session (logins are rate-limited per address)."""
        twin = object.__new__(Client)
        jar = http.cookiejar.CookieJar()
        for cookie in self.jar:
            jar.set_cookie(cookie)
        twin.base, twin.token, twin.jar = self.base, self.token, jar
        twin.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        twin.stay = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _Stay())
        return twin

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as r:
            return r.read().decode()

    def post(self, path: str, data: dict[str, str]) -> str:
        body = urllib.parse.urlencode({**data, "csrf_token": self.token}).encode()
        with self.opener.open(self.base + path, data=body, timeout=30) as r:
            return r.read().decode()

    def act(self, path: str, data: dict[str, str]) -> str:
        """POST a form and take its answer as it comes: the action's own cost, without the
        page the browser is sent to next (measured on its own as the post page)."""
        body = urllib.parse.urlencode({**data, "csrf_token": self.token}).encode()
        request = urllib.request.Request(self.base + path, data=body)
        try:
            with self.stay.open(request, timeout=30) as r:
                raise RuntimeError(f"{path}: {r.status}, not the redirect after an action")
        except urllib.error.HTTPError as answer:
            if answer.code != 302:
                raise
            return answer.headers["Location"]


def load(name: str, seconds: float, clients: list[Client],
         call: Callable[[Client, int], None]) -> tuple[float, list[float]]:
    """Run `call` from every client for `seconds`; requests per second and each latency."""
    latencies: list[float] = []
    lock, stop = threading.Lock(), time.monotonic() + seconds
    counter = iter(range(10**9))

    def worker(client: Client) -> None:
        mine = []
        while time.monotonic() < stop:
            with lock:
                n = next(counter)
            t0 = time.perf_counter()
            try:
                call(client, n)
            except IndexError:
                break  # nothing left to approve
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    rate = len(latencies) / elapsed
    print(f"{name}: {rate:.0f} req/s, p50 {percentile(latencies, 50) * 1000:.1f} ms, "
          f"p95 {percentile(latencies, 95) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.1f} ms ({len(latencies)} requests)", flush=True)
    return rate, latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--audit-rows", type=int, default=1_000_000)
    ap.add_argument("--approvals", type=int, default=600)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="signoff-bench-web-")
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    # The hand-off goes to a real Redis when one answers (nobody works the queue: only the
    # enqueue is paid for, as in production); else to none, and each commit logs that.
    redis_url = "redis://127.0.0.1:6379/13"
    if not redis_answers(redis_url):
        redis_url = "redis://127.0.0.1:1/0"
    settings = Settings(database_url=url, org_file=ORG, redis_url=redis_url,
                        queue_name=f"bench-web-{os.getpid()}")
    engine = db.create_db_engine(url)
    db.upgrade(engine)
    ensure_filled(engine, args.posts, args.audit_rows)
    core = build_core(settings)
    core.deps.enqueue = None  # no queue in this bench: the hand-off is not what is measured
    svc = core.service
    waiting = prepare_approvals(svc, args.approvals)
    port = free_port()
    env = {**os.environ, "SIGNOFF_DATABASE_URL": url, "SIGNOFF_ORG_FILE": str(ORG),
           "SIGNOFF_SECRET_KEY": "bench-" + "k" * 32, "SIGNOFF_REDIS_URL": settings.redis_url,
           "SIGNOFF_QUEUE_NAME": settings.queue_name,
           "SIGNOFF_CONSOLE_SECURE_COOKIES": "false"}  # urllib keeps Secure cookies for https
    log = Path(tmp) / "serve.log"
    script = Path(sys.executable).with_name("signoff")
    with log.open("wb") as out, subprocess.Popen(
            [str(script), "serve", "--port", str(port), "--workers", str(args.workers)],
            env=env, stdout=out, stderr=subprocess.STDOUT) as server:
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/ping", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit(log.read_text(errors="replace")) from None
                    time.sleep(0.2)
            admin, head = Client(base, "zhao_xue"), Client(base, "zhang_wei")
            admins = [admin.clone() for _ in range(args.concurrency)]
            heads = [head.clone() for _ in range(args.concurrency)]
            print(f"gunicorn, {args.workers} workers; {args.concurrency} clients", flush=True)
            ping, _ = load("/ping (hello world)", args.seconds, admins,
                           lambda c, n: c.get("/ping") and None)
            queue, _ = load("queue page (/, 50 rows of "
                                f"{args.posts + args.approvals})", args.seconds, admins,
                                lambda c, n: c.get("/") and None)

            def approve(c: Client, n: int) -> None:
                pid, h = waiting[n]  # IndexError once all are approved
                c.act(f"/posts/{pid}/act", {"action": "approve", "revision": h})

            approved, _ = load("approve (POST /posts/N/act, its 302)", args.seconds, heads,
                               approve)
            page, _ = load("post page (GET /posts/N, where the approve redirects)", args.seconds,
                           heads, lambda c, n: c.get(f"/posts/{waiting[n % len(waiting)][0]}")
                           and None)
            print(f"ratio queue/ping: {queue / ping:.3f}; ratio approve/ping: "
                  f"{approved / ping:.3f}; ratio post page/ping: {page / ping:.3f}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    done = sum(1 for pid, _ in waiting if svc.view(pid).state.decisions[-1].step.value == "dept_head")
    print(f"approvals recorded: {done} (of {len(waiting)} prepared)")
    if redis_url.endswith(":6379/13"):
        import redis

        conn = redis.Redis.from_url(redis_url)
        for key in conn.scan_iter(f"*{settings.queue_name}*"):
            conn.delete(key)


if __name__ == "__main__":
    main()
