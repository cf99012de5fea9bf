"""The dashboard's figures and the disclosure catalogue on a database of years of posts.

    python bench/reports.py [--posts 100000] [--year 2026] [--database-url URL]

The database (a temporary SQLite file unless --database-url names another, e.g. PostgreSQL) is
filled in bulk with `--posts` posts over 2020..2026, each with its layout revision, its four
decisions and its audit rows (layout, four decisions, publication): what years of use leave.
Then it times, through the façade, the year's figures, the catalogue's first and a deep page, a
search, and the year's CSV export (each the best of three runs).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert, update  # noqa: E402

from approvals.config.settings import Settings  # noqa: E402
from approvals.figures import CatalogueQuery  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.store import models as m  # noqa: E402
from approvals.store.audit import HEAD  # noqa: E402
from signoff.wiring import build_core  # noqa: E402

ORG = ROOT / "config" / "org.example.toml"
BODY = "<p>12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。</p>"
CHAINS = [("jyk", "li_na", "zhang_wei", "chen_gang"), ("jck", "xu_fang", "huang_tao", "sun_li")]
STEPS = ("drafter_confirm", "dept_head", "reviewer", "issuer")
BATCH = 5_000


def _post(rng: random.Random, i: int) -> tuple[dict[str, object], list[dict[str, object]],
                                               list[tuple[str, str, datetime, dict[str, object]]]]:
    dept, drafter, head, leader = rng.choice(CHAINS)
    formed = date(2020, 1, 1) + timedelta(days=rng.randrange(2520))
    start = datetime(formed.year, formed.month, formed.day, 1, tzinfo=UTC) + timedelta(
        hours=rng.randrange(24 * 20))
    category = rng.choice(["notice", "publicity", "policy", "repost", "other"])
    published = rng.random() < 0.85
    at, decisions, audit = start, [], [("he_jing", "post.new_revision", start, {})]
    for step, person in zip(STEPS, (drafter, head, leader, "wang_min"), strict=True):
        at += timedelta(minutes=rng.randrange(10, 3000))
        decisions.append({"post_id": i, "run": 1, "step": step, "attempt": 0, "outcome": "approved",
                          "actor": person, "revision_hash": f"{i:064x}", "comment": "", "note": "",
                          "decided_on": at.date(), "decided_at": at})
        audit.append((person, "post.sign" if step == "issuer" else "post.approve", at, {}))
    published_at = at + timedelta(minutes=rng.randrange(1, 600)) if published else None
    if published_at:
        audit.append(("worker", "post.mark_published", published_at, {}))
    post = {"id": i, "title": f"历史稿件{i}", "department": dept, "drafter": drafter,
            "category": category, "classification": "proactive", "formed_on": formed,
            "due_on": formed + timedelta(days=28), "due_estimated": False,
            "status": "published" if published else "signed", "run": 1, "revision_number": 1,
            "version": 6, "material_format": "html", "material_body": BODY,
            "repost_source": f"https://www.mem.gov.cn/xw/{i}.shtml" if category == "repost" else None,
            "archived": published, "publish_mode": "publish", "published_at": published_at,
            "article_url": f"https://mp.weixin.qq.com/s/{i}" if published else None,
            "created_at": start, "updated_at": at}
    return post, decisions, audit


def fill(engine: Engine, posts: int) -> int:
    """Bulk rows, in order of time, so audit sequence numbers follow time as they do in use."""
    rng = random.Random(7)
    made = [_post(rng, i) for i in range(1, posts + 1)]
    events = sorted(((at, i, actor, action) for i, (_, _, audit) in enumerate(made, 1)
                     for actor, action, at, _ in audit))
    with engine.begin() as conn:
        for lo in range(0, posts, BATCH):
            chunk = made[lo:lo + BATCH]
            conn.execute(insert(m.Post), [p for p, _, _ in chunk])
            conn.execute(insert(m.Revision), [{
                "post_id": p["id"], "number": 1, "title": p["title"], "author": "吴江应急",
                "digest": "" if p["id"] % 3 else f"摘要{p['id']}", "body_html": BODY,
                "repost_source": p["repost_source"], "category": p["category"],
                "content_hash": f"{p['id']:064x}", "made_by": "he_jing", "comment": "",
                "created_at": p["created_at"]} for p, _, _ in chunk])
            conn.execute(insert(m.Decision), [d for _, ds, _ in chunk for d in ds])
        seq = 0
        for lo in range(0, len(events), BATCH * 4):
            rows = []
            for seq, (at, pid, actor, action) in enumerate(events[lo:lo + BATCH * 4], lo + 1):
                rows.append({"seq": seq, "at": at, "actor": actor, "post_id": pid,
                             "action": action, "detail": "{}", "prev_hash": f"{seq - 1:064x}",
                             "hash": f"{seq:064x}"})
            conn.execute(insert(m.AuditEntry), rows)
        conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=seq, hash=f"{seq:064x}"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.url.get_backend_name() == "postgresql"
                             else "ANALYZE")
    return len(events)


def best(label: str, fn: Callable[[], object], runs: int = 3) -> None:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    print(f"{label:<44} {min(times) * 1000:8.0f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--year", type=int, default=2026)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='signoff-bench-reports-')}/b.db"
    engine = db.create_db_engine(url)
    db.upgrade(engine)
    t0 = time.monotonic()
    rows = fill(engine, args.posts)
    print(f"filled {args.posts} posts, {4 * args.posts} decisions and {rows} audit rows in "
          f"{time.monotonic() - t0:.0f} s ({engine.url.get_backend_name()})", flush=True)
    svc = build_core(Settings(database_url=url, org_file=ORG)).service
    figures = svc.annual_figures(args.year)
    print(f"{args.year}: {figures.published} published, "
          f"{sum(t.decisions for t in figures.step_times)} decisions timed", flush=True)
    best(f"annual figures {args.year}", lambda: svc.annual_figures(args.year))
    best("catalogue, first page of 50", lambda: svc.catalogue(CatalogueQuery()))
    best("catalogue, page 1000 of 50", lambda: svc.catalogue(CatalogueQuery(page=1000)))
    best("catalogue, search in names and summaries",
         lambda: svc.catalogue(CatalogueQuery(search="稿件777")))
    best(f"catalogue CSV rows of {args.year}",
         lambda: sum(1 for _ in svc.catalogue_all(CatalogueQuery(year=args.year))))


if __name__ == "__main__":
    main()
