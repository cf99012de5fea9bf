"""WeChat's callback end to end: a real RQ worker publishes on the simulator, the simulator pushes
PUBLISHJOBFINISH / MASSSENDJOBFINISH (signed, and in safe mode encrypted) over HTTP to the console
served on loopback, and the push — not the poll, which is made to fail — finishes the post."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from approvals.web import create_app
from signoff.sims.wechat import SimConfig, SimControl
from tests.conftest import Personas
from tests.worker.conftest import Bench, wait_for
from worker.callback import CallbackCodec

TOKEN = "signoffCallback2026"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(params=["plain", "safe"])
def console(bench: Bench, control: SimControl, request: pytest.FixtureRequest) -> Iterator[str]:
    """The console with the callback, served on loopback; the simulator pushes to it."""
    key = AES_KEY if request.param == "safe" else None
    app = create_app(bench.core, secret_key="k" * 32, testing=True,
                     wechat_callback=CallbackCodec(TOKEN, key, SimConfig().appid))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/wechat/callback"
    control.configure(callback_url=url, callback_token=TOKEN, encoding_aes_key=key)
    yield request.param
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("mode", ["publish", "mass_send"])
def test_the_simulators_push_finishes_a_post_the_poller_cannot_follow(
        bench: Bench, control: SimControl, console: str, who: Personas, mode: str) -> None:
    # The poll always fails (a transient 500), so only the pushed event can say how it ended.
    control.inject("message/mass/get" if mode == "mass_send" else "freepublish/get",
                   "http_status", status=500, times=None)
    bench.start_worker("w1")
    pid = bench.signed_post(who, mode=mode if mode == "mass_send" else None)
    bench.wait_status(pid, "published", timeout=90)  # a worker starts slowly on a busy machine
    view = bench.service.view(pid)
    (row,) = [e for e in view.timeline if e.action == "post.mark_published"]
    assert row.detail["via"] == "callback"
    sent = wait_for(lambda: control.state()["events_sent"])
    assert [e["outcomes"] for e in sent] == [["200"]]
    assert sent[0]["encrypted"] is (console == "safe")
    assert view.post.article_url and view.post.article_url.startswith("http")
    published = control.published() if mode == "publish" else []
    if published:
        assert view.post.article_url in str(published)
