"""The console under load, against `/ping` of the same app and server in the same run.

The queue page, the approve action and the post page are measured by the same load generator
as `/ping`, one after the other.

    python bench/web.py [--posts 100000] [--audit-rows 1000000] [--database-url URL]
                        [--seconds 10] [--concurrency 8] [--approvals 4000] [--workers 2]
                        [--threads N] [--client wrk|python] [--redis-url URL]

The database (a temporary SQLite file unless --database-url names another, e.g. PostgreSQL) is
filled with `--posts` posts and `--audit-rows` audit rows in bulk (a database an earlier run
filled is used as it is); `--approvals` more posts are walked through the real service to the
department head's step, and the tables vacuumed and analysed as autovacuum would. `signoff
serve` then runs the console under gunicorn (`--workers`, and `--threads` each when given), and
the load generator logs in once per person and, with `--concurrency` connections for `--seconds`
each, requests `/ping`, the queue page, approves the prepared posts one POST each (the session
cookie and the CSRF token, as a browser sends them; until they run out) and opens their pages.

Then, served and measured the same way, a reference (bench/floor_web.py, `--no-floor` skips
it): a Flask app whose approve does only what any approve of a logged-in person on this stack
must (the session's person, the CSRF check, one transaction updating the post's row and
appending a log row, a flashed message, the redirect), against its own `/ping`. It shows how
far the console's approve is from the cheapest one possible, and how far that one is from
the target.

The load generator is wrk (written in C: it leaves the two cores to the server and the
database), driven by bench/web.lua; when it is not installed the bench installs it (apt-get,
as root), or else falls back to a thread pool of the standard library's HTTP clients and says
so (`--client python` asks for those). Prints requests per second, p50/p95/p99 latency, the
ratios against `/ping` and whether the targets are met.

    python bench/web.py --posts 100000 --audit-rows 1000000 \
        --database-url postgresql+psycopg://USER@HOST/DB
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, insert, select, text, update  # noqa: E402

from approvals.config.settings import Settings  # noqa: E402
from approvals.services import Service  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.store import models as m  # noqa: E402
from approvals.store.audit import HEAD  # noqa: E402
from approvals.views import RevisionInput  # noqa: E402
from bench.cpu import machine, ticks  # noqa: E402
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
    settle(engine)


def settle(engine: object) -> None:
    """What autovacuum does to tables that have lived a while: statistics and the visibility
    map (without them PostgreSQL counts the open posts by reading every row, and reads a page
    of posts' decisions by scanning them all). Run after each bulk change: the server may have
    autovacuum switched off, or not have got round to it yet."""
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


def prepare_approvals(svc: Service, count: int, *, passwords: bool = True
                      ) -> list[tuple[int, str]]:
    """`count` new posts walked through the real service to the department head's step:
    (post id, revision hash) each; with `passwords`, the bench's two people get theirs."""
    if passwords:
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


def load(seconds: float, clients: list[Client],
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
    return len(latencies) / (time.monotonic() - t0), latencies


TARGETS = "targets: approve >= 0.25 x /ping with p99 <= 25 ms; queue p95 <= 50 ms"


@dataclass
class Measured:
    """One phase: requests answered per second and latency percentiles (seconds)."""

    name: str
    rate: float
    p50: float
    p95: float
    p99: float
    answers: int
    note: str = ""

    def line(self) -> str:
        return (f"{self.name}: {self.rate:.0f} req/s, p50 {self.p50 * 1000:.1f} ms, "
                f"p95 {self.p95 * 1000:.1f} ms, p99 {self.p99 * 1000:.1f} ms "
                f"({self.answers} requests{self.note})")


def find_wrk() -> str | None:
    """wrk's path: installed, or installed now (Debian's package; root only), else None."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("wrk is not installed: apt-get install -y wrk", flush=True)
    done = subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        print(done.stdout[-2000:] + done.stderr[-2000:], flush=True)
    return shutil.which("wrk")


def run_wrk(wrk: str, name: str, base: str, client: Client, *, mode: str, seconds: float,
            connections: int, threads: int, path: str = "/",
            posts: Path | None = None) -> Measured:
    """One phase under wrk (see bench/web.lua)."""
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)
    env = {**os.environ, "BENCH_MODE": mode, "BENCH_PATH": path, "BENCH_COOKIE": cookie,
           "BENCH_CSRF": client.token, "BENCH_POSTS": str(posts or ""),
           "BENCH_THREADS": str(threads)}
    done = subprocess.run([wrk, "-t", str(threads), "-c", str(connections),
                           "-d", f"{seconds:g}s", "--timeout", "30s",
                           "-s", str(Path(__file__).with_name("web.lua")), base],
                          env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith("{")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed for {name}:\n{done.stdout}\n{done.stderr}")
    got = json.loads(line)
    if got["wrong"] or got["socket_errors"]:
        raise SystemExit(f"{name}: {got['wrong']} wrong answers, {got['socket_errors']} socket "
                         f"errors (is the session still logged in?)")
    note = ", ran out of posts to approve" if got["ran_out"] else ""
    return Measured(name, got["answers"] / got["seconds"], got["p50_us"] / 1e6,
                    got["p95_us"] / 1e6, got["p99_us"] / 1e6, got["answers"], note)


SERVER_APP = "signoff-bench-web"  # the server's connections' application_name


class CpuMeter:
    """Where a phase's CPU time went: the gunicorn workers, the database backends serving
    them, the load generator; and how busy the machine was (other work included)."""

    def __init__(self, server: subprocess.Popen[bytes], engine: Engine) -> None:
        self.server, self.engine = server, engine

    def _pids(self) -> tuple[list[int], list[int]]:
        workers = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                   and _parent(int(p.name)) == self.server.pid]
        backends: list[int] = []
        if self.engine.url.get_backend_name() == "postgresql":
            with self.engine.connect() as conn:
                backends = list(conn.scalars(text(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                    {"a": SERVER_APP}))
        return workers, backends

    def start(self) -> None:
        self.workers, self.backends = self._pids()
        self.before = {pid: ticks(pid) for pid in [self.server.pid, *self.workers,
                                                     *self.backends]}
        self.children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.machine = machine()

    def line(self, requests: int) -> str:
        now = machine()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers, backends = self._pids()
        tick = os.sysconf("SC_CLK_TCK")

        def spent(pids: list[int]) -> float:
            return sum(ticks(p) - self.before.get(p, 0) for p in set(pids)) / tick

        server = spent([self.server.pid, *self.workers, *workers])
        database = spent([*self.backends, *backends])
        client = (children.ru_utime + children.ru_stime - self.children.ru_utime
                  - self.children.ru_stime)
        busy = (now[0] - self.machine[0]) / max(1, now[1] - self.machine[1])
        per = 1000 / max(1, requests)
        return (f"  CPU per request: server {server * per:.2f} ms, database "
                f"{database * per:.2f} ms, load generator {client * per:.2f} ms; the cores "
                f"were {busy:.0%} busy (other work included)")


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], log: Path,
            port: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A server started with `command`, once its /ping answers: (its process, its base URL);
    stopped when the block ends. Its output goes to `log`, shown if it never answers."""
    with log.open("wb") as out, subprocess.Popen(command, env=env, stdout=out, cwd=ROOT,
                                                 stderr=subprocess.STDOUT) as server:
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
            yield server, base
        finally:
            server.terminate()
            server.wait(timeout=30)


def floor(args: argparse.Namespace, wrk: str | None, url: str, engine: Engine, tmp: Path,
          count: int) -> tuple[Measured, Measured]:
    """/ping and the approve of bench/floor_web.py (the least an approve can cost on this
    stack), served and measured as the console was: (ping, approve)."""
    from bench.floor_web import FLOOR_HASH

    port = free_port()
    command = [sys.executable, "-m", "bench.floor_web", "--database-url", url, "--port",
               str(port), "--workers", str(args.workers), "--posts", str(count)]
    posts_file = tmp / "floor-posts.txt"
    posts_file.write_text("".join(f"{i} {FLOOR_HASH}\n" for i in range(1, count + 1)))
    results: list[Measured] = []

    def ping(c: Client, _n: int) -> None:
        c.get("/ping")

    def approve(c: Client, n: int) -> None:
        if n >= count:
            raise IndexError(n)  # all approved: the phase ends
        c.act(f"/posts/{n + 1}/act", {"revision": FLOOR_HASH})

    with serving(command, dict(os.environ), tmp / "floor.log", port) as (server, base):
        client, meter = Client(base, "zhang_wei"), CpuMeter(server, engine)
        names = ("floor: /ping (hello world)", "floor: approve (POST /posts/N/act, its 302)")
        for name, how in zip(names, ({"mode": "get", "path": "/ping"},
                                     {"mode": "approve", "posts": posts_file}), strict=True):
            meter.start()
            if wrk is not None:
                results.append(run_wrk(wrk, name, base, client, seconds=args.seconds,  # type: ignore[arg-type]
                                       connections=args.concurrency,
                                       threads=args.client_threads, **how))
            else:
                clients = [client.clone() for _ in range(args.concurrency)]
                results.append(run_python(name, clients, args.seconds,
                                          ping if how["mode"] == "get" else approve))
            print(results[-1].line(), flush=True)
            print(meter.line(results[-1].answers), flush=True)
    return results[0], results[1]


def run_python(name: str, clients: list[Client], seconds: float,
               call: Callable[[Client, int], None]) -> Measured:
    """One phase from a thread pool of the standard library's HTTP clients."""
    rate, latencies = load(seconds, clients, call)
    return Measured(name, rate, percentile(latencies, 50), percentile(latencies, 95),
                    percentile(latencies, 99), len(latencies))


def _prepare_in_child(settings: Settings, count: int) -> list[tuple[int, str]]:
    core = build_core(settings)
    core.deps.enqueue = None  # no queue here: the hand-off is not what is measured
    try:
        return prepare_approvals(core.service, count, passwords=False)
    finally:
        core.close()


def prepare_in_parallel(settings: Settings, count: int) -> list[tuple[int, str]]:
    """`prepare_approvals` in a process per core (each with its own database connections)."""
    jobs = max(1, min(os.cpu_count() or 1, 4))
    shares = [count // jobs + (1 if i < count % jobs else 0) for i in range(jobs)]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        parts = pool.starmap(_prepare_in_child, [(settings, n) for n in shares if n])
    return [item for part in parts for item in part]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--audit-rows", type=int, default=1_000_000)
    ap.add_argument("--approvals", type=int, default=4000,
                    help="posts prepared for the approve phase; it ends early when they run out")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=8, help="connections (or client threads)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads per gunicorn worker (default: signoff serve's)")
    ap.add_argument("--client", choices=["wrk", "python"], default="wrk")
    ap.add_argument("--client-threads", type=int, default=2, help="wrk's threads")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/13",
                    help="where the server hands its commits off (nobody works that queue)")
    ap.add_argument("--no-floor", action="store_true",
                    help="skip the reference app (bench/floor_web.py) measured after the console")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="signoff-bench-web-")
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    # The hand-off goes to a real Redis when one answers (nobody works the queue: only the
    # enqueue is paid for, as in production); else to none, and each commit logs that.
    redis_url = args.redis_url
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
    for person in ("zhao_xue", "zhang_wei"):
        svc.set_password(person, PASSWORD, by="bench")
    t0 = time.monotonic()
    waiting = (prepare_in_parallel(settings, args.approvals) if engine.url.get_backend_name()
               == "postgresql" else prepare_approvals(svc, args.approvals, passwords=False))
    print(f"prepared {len(waiting)} posts at the department head's step in "
          f"{time.monotonic() - t0:.0f} s", flush=True)
    settle(engine)
    wrk = find_wrk() if args.client == "wrk" else None
    if args.client == "wrk" and wrk is None:
        print("note: wrk is not available; measuring with the standard library's HTTP clients "
              "instead (they share the two cores with the server)", flush=True)
    port = free_port()
    served_url = url
    if engine.url.get_backend_name() == "postgresql":  # to find its connections' backends
        served_url = engine.url.update_query_dict({"application_name": SERVER_APP}
                                                  ).render_as_string(hide_password=False)
    env = {**os.environ, "SIGNOFF_DATABASE_URL": served_url, "SIGNOFF_ORG_FILE": str(ORG),
           "SIGNOFF_SECRET_KEY": "bench-" + "k" * 32, "SIGNOFF_REDIS_URL": settings.redis_url,
           "SIGNOFF_QUEUE_NAME": settings.queue_name,
           "SIGNOFF_CONSOLE_SECURE_COOKIES": "false"}  # urllib keeps Secure cookies for https
    log = Path(tmp) / "serve.log"
    script = Path(sys.executable).with_name("signoff")
    command = [str(script), "serve", "--port", str(port), "--workers", str(args.workers)]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    posts_file = Path(tmp) / "posts.txt"
    posts_file.write_text("".join(f"{pid} {h}\n" for pid, h in waiting))
    with serving(command, env, log, port) as (server, base):
        admin, head = Client(base, "zhao_xue"), Client(base, "zhang_wei")
        meter = CpuMeter(server, engine)
        served = f"{args.workers} workers" + (f" x {args.threads} threads"
                                              if args.threads else "")
        queue_name = f"queue page (/, 50 rows of {args.posts + len(waiting)})"
        results: list[Measured] = []
        if wrk is not None:
            print(f"gunicorn, {served}; wrk, {args.concurrency} connections on "
                  f"{args.client_threads} threads, {args.seconds:g} s a phase", flush=True)
            common = {"seconds": args.seconds, "connections": args.concurrency,
                      "threads": args.client_threads}
            phases = [
                ("/ping (hello world)", admin, {"mode": "get", "path": "/ping"}),
                (queue_name, admin, {"mode": "get", "path": "/"}),
                ("approve (POST /posts/N/act, its 302)", head,
                 {"mode": "approve", "posts": posts_file}),
                ("post page (GET /posts/N, where the approve redirects)", head,
                 {"mode": "page", "posts": posts_file}),
            ]
            for name, client, how in phases:
                meter.start()
                results.append(run_wrk(wrk, name, base, client, **common, **how))  # type: ignore[arg-type]
                print(results[-1].line(), flush=True)
                print(meter.line(results[-1].answers), flush=True)
        else:
            print(f"gunicorn, {served}; {args.concurrency} Python client threads",
                  flush=True)
            admins = [admin.clone() for _ in range(args.concurrency)]
            heads = [head.clone() for _ in range(args.concurrency)]

            def approve(c: Client, n: int) -> None:
                pid, h = waiting[n]  # IndexError once all are approved
                c.act(f"/posts/{pid}/act", {"action": "approve", "revision": h})

            for name, clients, call in (
                    ("/ping (hello world)", admins, lambda c, n: c.get("/ping") and None),
                    (queue_name, admins, lambda c, n: c.get("/") and None),
                    ("approve (POST /posts/N/act, its 302)", heads, approve),
                    ("post page (GET /posts/N, where the approve redirects)", heads,
                     lambda c, n: c.get(f"/posts/{waiting[n % len(waiting)][0]}") and None)):
                meter.start()
                results.append(run_python(name, clients, args.seconds, call))
                print(results[-1].line(), flush=True)
                print(meter.line(results[-1].answers), flush=True)
        ping, queue, approved, page = results
        print(f"ratio queue/ping: {queue.rate / ping.rate:.3f}; ratio approve/ping: "
              f"{approved.rate / ping.rate:.3f}; ratio post page/ping: "
              f"{page.rate / ping.rate:.3f}", flush=True)
        met = (approved.rate >= 0.25 * ping.rate, approved.p99 <= 0.025, queue.p95 <= 0.050)
        print(f"{TARGETS}: {'met' if all(met) else 'not met'} (approve ratio "
              f"{'ok' if met[0] else 'short'}, approve p99 {'ok' if met[1] else 'over'}, "
              f"queue p95 {'ok' if met[2] else 'over'})", flush=True)
    if not args.no_floor:
        # Enough posts that the phase never runs out (wrk's threads that stop early leave the
        # requests still in flight on their other connections waiting a second or more).
        floor_ping, floor_approve = floor(args, wrk, served_url, engine, Path(tmp),
                                          max(20_000, round(args.seconds * 4000)))
        print(f"floor: ratio approve/ping {floor_approve.rate / floor_ping.rate:.3f}; signoff's "
              f"approve is {approved.rate / floor_approve.rate:.2f} x the floor's rate, its "
              f"p99 {approved.p99 / floor_approve.p99:.1f} x the floor's", flush=True)
    d = m.Decision
    with engine.connect() as conn:
        done = conn.scalar(select(func.count()).select_from(d).where(
            d.post_id.in_([pid for pid, _ in waiting]), d.step == "dept_head"))
    print(f"approvals recorded: {done} (of {len(waiting)} prepared; {approved.answers} answered)")
    if redis_url == args.redis_url:
        import redis

        conn = redis.Redis.from_url(redis_url)
        for key in conn.scan_iter(f"*{settings.queue_name}*"):
            conn.delete(key)
        for name in conn.smembers("rq:queues"):  # RQ's list of queues
            if settings.queue_name in name.decode():
                conn.srem("rq:queues", name)


if __name__ == "__main__":
    main()
