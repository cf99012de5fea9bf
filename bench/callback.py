"""WeChat's callback: how long a signed push takes to be answered "success", in process.

    python bench/callback.py [--publications 100000] [--pushes 200] [--database-url URL]
                             [--redis-url URL] [--safe]

The database (a temporary SQLite file unless --database-url names another, e.g. PostgreSQL) is
filled with `--publications` published posts, each with a publication record holding a
publish_id (what years of use leave behind), and `--pushes` more posts are walked through the
real service to a worker's claim and a saved publish_id. Then, through Flask's test client (no
network), `--pushes` genuinely signed PUBLISHJOBFINISH pushes (encrypted with `--safe`) for
unknown ids, then one per walked post that publishes it, then the same again (duplicates).
Prints p50/p90/p99 of each kind and of `/ping` for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402
from wechatpy.crypto import WeChatCrypto  # noqa: E402

from approvals.config.settings import Settings  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.store import models as m  # noqa: E402
from approvals.views import RevisionInput  # noqa: E402
from approvals.web import create_app  # noqa: E402
from signoff.sims.wechat.events import cdata, publish_event_xml  # noqa: E402
from signoff.wiring import build_core  # noqa: E402
from worker.callback import CallbackCodec  # noqa: E402

ORG = ROOT / "config" / "org.example.toml"
TOKEN = "benchCallback"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wxbench00000000001"
BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def fill(engine: object, count: int) -> None:
    """Published posts with their publication records, in bulk."""
    now = datetime.now(UTC)
    with engine.begin() as conn:  # type: ignore[attr-defined]
        for start in range(0, count, 10_000):
            n = min(count, start + 10_000) - start
            first = conn.execute(select(m.Post.id).order_by(m.Post.id.desc()).limit(1)
                                 ).scalar() or 0
            conn.execute(insert(m.Post), [{
                "title": f"历史稿件{i}", "department": "jyk", "drafter": "li_na",
                "category": "publicity", "classification": "proactive",
                "formed_on": date(2024, 1, 1), "due_on": date(2024, 2, 1), "due_estimated": False,
                "status": "published", "run": 1, "revision_number": 1, "version": 5,
                "material_format": "text", "material_body": BODY, "archived": True,
                "publish_mode": "publish", "created_at": now, "updated_at": now}
                for i in range(start, start + n)])
            conn.execute(insert(m.Publication), [{
                "post_id": first + j + 1, "revision_hash": f"{start + j:064x}", "attempt": 0,
                "images": "{}", "last_error": "", "publish_id": str(1_000_000_000 + start + j),
                "wechat_status": "0", "updated_at": now} for j in range(n)])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.url.get_backend_name() == "postgresql"  # type: ignore[attr-defined]
                             else "ANALYZE")


def main() -> None:
    """Fill, walk, push, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--publications", type=int, default=100_000)
    ap.add_argument("--pushes", type=int, default=200)
    ap.add_argument("--database-url")
    ap.add_argument("--redis-url", default=os.environ.get("SIGNOFF_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    ap.add_argument("--safe", action="store_true", help="safe mode: encrypted pushes")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    engine = db.create_db_engine(url)
    db.upgrade(engine)
    fill(engine, args.publications)
    core = build_core(Settings(database_url=url, org_file=ORG, redis_url=args.redis_url),
                      engine=engine)
    key = AES_KEY if args.safe else None
    client = create_app(core, secret_key="b" * 32, testing=True,
                        wechat_callback=CallbackCodec(TOKEN, key, APPID)).test_client()
    svc = core.service
    walked = []
    for i in range(args.pushes):
        pid = svc.create_post(drafter="li_na", title=f"演练{i}", body=BODY)
        svc.act(pid, "new_revision", "he_jing", revision=RevisionInput())
        h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
        for action, person in [("confirm", "li_na"), ("approve", "zhang_wei"),
                               ("approve", "chen_gang"), ("sign", "wang_min")]:
            svc.act(pid, action, person, revision_hash=h)
        core.publishing.claim(pid, "bench", 600)
        core.publishing.record_publish_id(pid, h, f"9{i:09d}")
        walked.append(f"9{i:09d}")

    def push(publish_id: str) -> float:
        xml = publish_event_xml(gh_id="gh_bench", event="PUBLISHJOBFINISH",
                                publish_id=publish_id, status=0, article_id="a1",
                                article_urls=["https://mp.weixin.qq.com/s/bench"], fail_idx=[],
                                create_time=int(time.time()))
        ts, nonce = str(int(time.time())), secrets.token_hex(8)
        query = {"signature": hashlib.sha1("".join(sorted([TOKEN, ts, nonce])).encode())
                 .hexdigest(), "timestamp": ts, "nonce": nonce}
        body = xml.encode()
        if key:
            sealed = ET.fromstring(WeChatCrypto(TOKEN, key, APPID).encrypt_message(xml, nonce, ts))
            query.update(encrypt_type="aes", msg_signature=sealed.findtext("MsgSignature") or "")
            body = f"<xml><Encrypt>{cdata(sealed.findtext('Encrypt') or '')}</Encrypt></xml>" \
                .encode()
        started = time.perf_counter()
        answer = client.post("/wechat/callback", query_string=query, data=body)
        took = time.perf_counter() - started
        assert answer.status_code == 200 and answer.get_data() == b"success", answer.get_data()
        return took

    def ping() -> float:
        started = time.perf_counter()
        client.get("/ping")
        return time.perf_counter() - started

    runs = {
        "/ping": [ping() for _ in range(args.pushes)],
        "unknown publish_id": [push(str(5_000_000_000 + i)) for i in range(args.pushes)],
        "publishes a post": [push(pid) for pid in walked],
        "duplicate (no-op)": [push(pid) for pid in walked],
    }
    published = sum(1 for pid in walked if svc.view(_post_of(core, pid)).post.status
                    .value == "published")
    backend = engine.url.get_backend_name()
    print(f"{backend}, {args.publications} publications filled, {args.pushes} pushes each, "
          f"{'safe mode' if key else 'plain'}; {published}/{len(walked)} posts published")
    for name, times in runs.items():
        ms = [t * 1000 for t in times]
        print(f"  {name:20s} p50 {percentile(ms, 50):6.2f} ms  p90 {percentile(ms, 90):6.2f} ms  "
              f"p99 {percentile(ms, 99):6.2f} ms  mean {statistics.mean(ms):6.2f} ms")
    core.close()
    tmp.cleanup()


def _post_of(core: object, publish_id: str) -> int:
    with core.deps.sessions() as s:  # type: ignore[attr-defined]
        return int(s.scalar(select(m.Publication.post_id).where(
            m.Publication.publish_id == publish_id)))


if __name__ == "__main__":
    main()
