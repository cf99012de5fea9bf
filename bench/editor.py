"""The layout editor in one process: the live preview, a save, and a .docx import, timed through
Flask's test client on a temporary SQLite database (the HTTP server is left out: this measures
what the editor itself costs per keystroke pause and per save).

    python bench/editor.py [--previews 100] [--saves 20] [--paragraphs 180] [--photos 5]

The body is `--paragraphs` styled paragraphs (180 is about 16,000 characters, near WeChat's
20,000 limit); the .docx holds the same text, a table and `--photos` noisy 2400×1600 JPG photos,
each over 1 MB, so every one is scaled and re-encoded under 1 MB. Needs the test extra (python-docx).
Prints p50/p90/max in milliseconds.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docx import Document  # noqa: E402
from PIL import Image  # noqa: E402

from approvals.bootstrap import bootstrap  # noqa: E402
from approvals.config.settings import Settings  # noqa: E402
from approvals.services.docx import docx_to_html  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.views import RevisionInput  # noqa: E402
from approvals.web import create_app  # noqa: E402

ORG = ROOT / "config" / "org.example.toml"
PASSWORD = "bench-password-123"
LINE = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有<strong>150人</strong>参加。"


def figures(name: str, millis: list[float]) -> str:
    """One line: p50, p90 and the slowest, in milliseconds."""
    ordered = sorted(millis)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return f"{name:<28} n={len(ordered):<4} p50 {p(0.5):7.1f} ms  p90 {p(0.9):7.1f} ms  " \
           f"max {ordered[-1]:7.1f} ms"


def timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def document(paragraphs: int, photos: int) -> bytes:
    """A .docx as a department sends one: text, a table and photos straight from a camera."""
    doc = Document()
    doc.add_heading("我局开展冬季防汛应急演练", level=1)
    for i in range(paragraphs):
        doc.add_paragraph(f"第{i}段：" + re.sub(r"<[^>]+>", "", LINE))
    table = doc.add_table(rows=3, cols=3)
    table.cell(0, 0).text = "时间"
    for _ in range(photos):
        out = io.BytesIO()
        Image.effect_noise((2400, 1600), 40).convert("RGB").save(out, "JPEG", quality=90)
        doc.add_picture(out)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def main() -> None:
    """Build a core and the console on a temporary database and time the editor's requests."""
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--previews", type=int, default=100)
    args.add_argument("--saves", type=int, default=20)
    args.add_argument("--paragraphs", type=int, default=180)
    args.add_argument("--photos", type=int, default=5)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = db.create_db_engine(url)
        db.upgrade(engine)
        core = bootstrap(Settings(database_url=url, org_file=ORG), engine=engine,
                         enqueue=lambda _core: (lambda _items: None))
        svc = core.service
        pid = svc.create_post(drafter="li_na", title="我局开展冬季防汛应急演练", body="演练。")
        svc.act(pid, "new_revision", "he_jing", revision=RevisionInput())
        svc.set_password("he_jing", PASSWORD, by="bench")
        app = create_app(core, secret_key="b" * 32, testing=True)
        client = app.test_client()
        login = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"person": "he_jing", "password": PASSWORD, "csrf_token": csrf})
        body = "".join(f'<p style="text-indent:2em">第{i}段：{LINE}</p>'
                       for i in range(opts.paragraphs))
        print(f"body: {len(body)} characters; docx: {opts.paragraphs} paragraphs, "
              f"{opts.photos} photos")
        fields = {"csrf_token": csrf, "title": "我局开展冬季防汛应急演练", "author": "应急管理局",
                  "digest": "", "body": body}

        def preview() -> None:
            assert client.post(f"/posts/{pid}/edit/preview", data=fields).status_code == 200

        print(figures("live preview (POST)", [timed(preview) for _ in range(opts.previews)]))

        def save(i: int) -> None:
            page = client.get(f"/posts/{pid}/edit").get_data(as_text=True)
            based = re.search(r'name="based_on" value="([0-9a-f]*)"', page).group(1)  # type: ignore[union-attr]
            answer = client.post(f"/posts/{pid}/edit", data={
                **fields, "based_on": based, "body": body + f"<p>{i}</p>"})
            assert answer.status_code == 302, answer.get_data(as_text=True)[:300]

        print(figures("open editor + save", [timed(lambda i=i: save(i)) for i in range(opts.saves)]))
        data = document(opts.paragraphs, opts.photos)
        print(f"docx: {len(data) / 1024 / 1024:.1f} MB")
        print(figures("docx_to_html alone", [timed(lambda: docx_to_html(data)) for _ in range(3)]))

        def imported() -> None:
            answer = client.post(f"/posts/{pid}/edit", data={
                **fields, "op": "import", "docx": (io.BytesIO(data), "演练.docx")},
                content_type="multipart/form-data")
            assert answer.status_code == 200, answer.get_data(as_text=True)[:300]

        print(figures("docx import (POST)", [timed(imported) for _ in range(3)]))
        engine.dispose()


if __name__ == "__main__":
    main()
