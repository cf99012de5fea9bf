"""The WeChat API simulator, driven over real HTTP by wechatpy's own WeChatClient (and plain requests)."""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import MassSendJobFinishEvent
from wechatpy.exceptions import APILimitedException, WeChatClientException
from wechatpy.messages import UnknownMessage
from wechatpy.utils import check_signature

from signoff.sims.wechat import SimConfig, SimControl, WeChatSim

APPID = "wxsim0000000000001"
SECRET = "sim-secret"
CALLBACK_TOKEN = "signoffcallback"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters: safe mode
OPENID = "oSimFollower0000000000000001"  # 28 characters, so wechatpy previews by touser


# ---------------------------------------------------------------------------------------------- images


def _segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def make_jpeg(padding: int = 0) -> bytes:
    """A 1x1 grey baseline JPEG: one Huffman code each for DC 0 and EOB, one all-zero block."""
    return (
        b"\xff\xd8"
        + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + _segment(0xDB, b"\x00" + b"\x01" * 64)
        + _segment(0xC0, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00")
        + _segment(0xC4, b"\x00\x01" + b"\x00" * 15 + b"\x00")
        + _segment(0xC4, b"\x10\x01" + b"\x00" * 15 + b"\x00")
        + _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x3f"
        + b"\xff\xd9"
        + b"\x00" * padding  # trailing bytes after EOI make it big while keeping it a JPEG
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png() -> bytes:
    """A 1x1 8-bit greyscale PNG."""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\x00\x00")) + _chunk(b"IEND", b""))


GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
JPEG = make_jpeg()


# ---------------------------------------------------------------------------------------------- fixtures


class SimClient(WeChatClient):
    """wechatpy's client, with the token URL it hard-codes pointed at the simulator too."""

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


class Receiver:
    """A callback endpoint on loopback that records pushes; `statuses` are answered first, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.pushes: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.cond:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.pushes.append({"params": dict(parse_qsl(urlsplit(self.path).query)), "body": body,
                                            "status": status})
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/wechat/callback"

    def wait(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.pushes) >= count, timeout), f"got {len(self.pushes)} pushes"
            return list(self.pushes)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


FAST = SimConfig(publish_delay_seconds=0.15, mass_send_delay_seconds=0.15, callback_retry_delay_seconds=0.05,
                 random_seed=7)


@pytest.fixture
def sim() -> Iterator[WeChatSim]:
    with WeChatSim(FAST) as running:
        yield running


@pytest.fixture
def ctl(sim: WeChatSim) -> SimControl:
    return SimControl(sim.root_url)


def new_client(sim: WeChatSim, **kwargs: Any) -> SimClient:
    client = SimClient(APPID, SECRET, **kwargs)
    client.API_BASE_URL = sim.base_url
    return client


@pytest.fixture
def client(sim: WeChatSim) -> Iterator[SimClient]:
    wechat = new_client(sim)
    yield wechat
    wechat._http.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def fetch_token(sim: WeChatSim, **overrides: str) -> dict[str, Any]:
    params = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, **overrides}
    return requests.get(sim.base_url + "token", params=params, timeout=5).json()


def raw_call(sim: WeChatSim, endpoint: str, token: str | None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    params = {"access_token": token} if token is not None else {}
    if body is None:
        return requests.get(sim.base_url + endpoint, params=params, timeout=5).json()
    return requests.post(sim.base_url + endpoint, params=params, json=body, timeout=5).json()


def cover(client: SimClient) -> str:
    return client.material.add("thumb", ("cover.jpg", JPEG, "image/jpeg"))["media_id"]


def article(thumb_media_id: str, **fields: Any) -> dict[str, Any]:
    return {"title": "防汛应急预案发布", "author": "应急管理局", "content": "<p>今年汛期的应急预案正式发布。</p>",
            "thumb_media_id": thumb_media_id, **fields}


def wait_for(predicate: Any, timeout: float = 15.0) -> None:
    """Poll until `predicate()` holds: tests wait on states, never race the clock."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------- tokens


def test_a_superseded_token_works_inside_the_grace_window_and_gets_40001_after_it(sim: WeChatSim,
                                                                                  ctl: SimControl) -> None:
    ctl.configure(token_grace_seconds=3)  # wide enough for a loaded machine
    old, new = fetch_token(sim)["access_token"], fetch_token(sim)["access_token"]
    assert old != new
    assert "total_count" in raw_call(sim, "draft/count", old)
    wait_for(lambda: "errcode" in raw_call(sim, "draft/count", old))
    refused = raw_call(sim, "draft/count", old)
    assert refused["errcode"] == 40001
    assert refused["errmsg"].startswith("invalid credential, access_token is invalid or not latest rid: ")
    assert "total_count" in raw_call(sim, "draft/count", new)


def test_the_token_endpoint_checks_grant_type_appid_and_secret(sim: WeChatSim) -> None:
    assert fetch_token(sim)["expires_in"] == 7200
    assert fetch_token(sim, grant_type="password")["errcode"] == 40002
    assert fetch_token(sim, appid="wxsomeoneelse00001")["errcode"] == 40013
    assert fetch_token(sim, secret="wrong")["errcode"] == 40125


def test_missing_garbage_and_expired_tokens_get_41001_40014_and_42001(sim: WeChatSim, ctl: SimControl) -> None:
    assert raw_call(sim, "draft/count", None)["errcode"] == 41001
    assert raw_call(sim, "draft/count", "not-a-token")["errcode"] == 40014
    ctl.configure(token_expires_in=1)
    token = fetch_token(sim)["access_token"]
    wait_for(lambda: "errcode" in raw_call(sim, "draft/count", token))
    assert raw_call(sim, "draft/count", token)["errcode"] == 42001


def test_wechatpy_refreshes_and_retries_after_every_token_is_invalidated(client: SimClient, ctl: SimControl) -> None:
    assert client.draft.count() == {"total_count": 0}
    ctl.invalidate_tokens()
    assert client.draft.count() == {"total_count": 0}
    assert ctl.state()["tokens_issued"] == 2
    assert ctl.calls("draft/count") == 3


def test_a_token_invalid_fault_answers_40001_for_n_calls_even_with_a_fresh_token(client: SimClient,
                                                                                 ctl: SimControl) -> None:
    ctl.inject("draft/count", "token_invalid", times=2)
    assert client.draft.count() == {"total_count": 0}
    assert ctl.state()["tokens_issued"] == 3  # the first fetch plus one per refused call
    assert ctl.calls("draft/count") == 3


def test_stable_token_hands_out_the_same_token_until_a_forced_refresh(sim: WeChatSim) -> None:
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    first = requests.post(sim.base_url + "stable_token", json=body, timeout=5).json()
    again = requests.post(sim.base_url + "stable_token", json=body, timeout=5).json()
    forced = requests.post(sim.base_url + "stable_token", json={**body, "force_refresh": True}, timeout=5).json()
    assert first["access_token"] == again["access_token"] != forced["access_token"]
    assert requests.get(sim.base_url + "stable_token", timeout=5).json()["errcode"] == 43002
    assert "total_count" in raw_call(sim, "draft/count", forced["access_token"])


def test_the_wrong_http_method_gets_43001_or_43002(sim: WeChatSim) -> None:
    token = fetch_token(sim)["access_token"]
    assert raw_call(sim, "draft/count", token, {})["errcode"] == 43001
    assert raw_call(sim, "draft/add", token)["errcode"] == 43002


# ---------------------------------------------------------------------------------------------- images


def test_uploadimg_returns_an_mmbiz_url_and_records_what_was_uploaded(client: SimClient, ctl: SimControl) -> None:
    jpg_url = client.media.upload_image(("a.jpg", JPEG, "image/jpeg"))
    png_url = client.media.upload_image(("b.png", make_png(), "image/png"))
    assert jpg_url.startswith("http://mmbiz.qpic.cn/sz_mmbiz_jpg/") and jpg_url.endswith("/0")
    assert png_url.startswith("http://mmbiz.qpic.cn/sz_mmbiz_png/")
    media = ctl.state()["media"]
    assert media[jpg_url]["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert media[jpg_url]["kind"] == "uploadimg"


@pytest.mark.parametrize(
    "upload",
    [("c.gif", GIF, "image/gif"), ("renamed.jpg", GIF, "image/jpeg"), ("b.gif", make_png(), "image/gif")],
    ids=["gif", "gif-named-jpg", "png-named-gif"],
)
def test_uploadimg_refuses_anything_but_jpg_and_png_with_40005(client: SimClient, upload: tuple) -> None:
    with pytest.raises(WeChatClientException) as refused:
        client.media.upload_image(upload)
    assert refused.value.errcode == 40005


def test_uploadimg_refuses_bytes_without_a_filename_extension_like_the_real_server(client: SimClient) -> None:
    with pytest.raises(WeChatClientException) as refused:
        client.media.upload_image(io.BytesIO(JPEG))  # goes out as filename="media" (wechatpy issue #414)
    assert refused.value.errcode == 40005


def test_uploadimg_refuses_images_over_1_mb_with_40009(client: SimClient) -> None:
    with pytest.raises(WeChatClientException) as refused:
        client.media.upload_image(("big.jpg", make_jpeg(padding=1024 * 1024), "image/jpeg"))
    assert refused.value.errcode == 40009


def test_add_material_stores_permanent_thumbs_and_images(client: SimClient, ctl: SimControl) -> None:
    thumb = client.material.add("thumb", ("c.jpg", JPEG, "image/jpeg"))
    image = client.material.add("image", ("d.png", make_png(), "image/png"))
    assert set(thumb) == {"media_id"}
    assert image["url"].startswith("http://mmbiz.qpic.cn/") and "wx_fmt=png" in image["url"]
    media = ctl.state()["media"]
    assert media[thumb["media_id"]]["kind"] == "thumb"
    assert media[image["media_id"]]["size"] == len(make_png())


@pytest.mark.parametrize(
    ("media_type", "upload", "errcode"),
    [
        ("thumb", ("big.jpg", make_jpeg(padding=64 * 1024), "image/jpeg"), 40012),
        ("thumb", ("c.png", make_png(), "image/png"), 40005),
        ("image", ("e.webp", b"RIFF\x00\x00\x00\x00WEBP", "image/webp"), 40005),
        ("voice", ("c.jpg", JPEG, "image/jpeg"), 40004),
        ("image", ("empty.jpg", b"", "image/jpeg"), 44001),
    ],
    ids=["thumb-over-64kb", "png-thumb", "webp", "unsupported-type", "empty"],
)
def test_add_material_refuses_bad_uploads(client: SimClient, media_type: str, upload: tuple, errcode: int) -> None:
    with pytest.raises(WeChatClientException) as refused:
        client.material.add(media_type, upload)
    assert refused.value.errcode == errcode


def test_add_material_without_a_media_field_gets_41005(sim: WeChatSim) -> None:
    token = fetch_token(sim)["access_token"]
    answer = requests.post(sim.base_url + "material/add_material", params={"access_token": token, "type": "image"},
                           files={"other": ("c.jpg", JPEG)}, timeout=5).json()
    assert answer["errcode"] == 41005


# ---------------------------------------------------------------------------------------------- drafts


def test_the_draft_box_supports_add_get_update_count_batchget_and_delete(client: SimClient) -> None:
    thumb = cover(client)
    first = client.draft.add([article(thumb)])["media_id"]
    second = client.draft.add([article(thumb, title="第二篇"), article(thumb, title="第三篇")])["media_id"]
    assert client.draft.count() == {"total_count": 2}
    item = client.draft.get(first)["news_item"][0]
    assert item["title"] == "防汛应急预案发布" and item["author"] == "应急管理局"
    assert item["digest"] == "今年汛期的应急预案正式发布。"  # omitted digest: the start of the body
    assert client.draft.update(first, 0, article(thumb, title="改过的标题"))["errcode"] == 0
    assert client.draft.get(first)["news_item"][0]["title"] == "改过的标题"
    with pytest.raises(WeChatClientException) as bad_index:
        client.draft.update(second, 2, article(thumb))
    assert bad_index.value.errcode == 40114
    listing = client.draft.batchget(offset=0, count=20, no_content=1)
    assert listing["total_count"] == 2 and listing["item_count"] == 2
    by_id = {i["media_id"]: i for i in listing["item"]}
    assert [n["title"] for n in by_id[second]["content"]["news_item"]] == ["第二篇", "第三篇"]
    assert all(n["digest"] == "" for n in by_id[second]["content"]["news_item"])  # multi-article: no digest
    assert "content" not in by_id[first]["content"]["news_item"][0]
    assert client.draft.delete(first)["errcode"] == 0
    assert client.draft.count() == {"total_count": 1}
    with pytest.raises(WeChatClientException) as gone:
        client.draft.get(first)
    assert gone.value.errcode == 40007


def test_deleting_an_unknown_or_already_deleted_draft_still_answers_0(client: SimClient) -> None:
    media_id = client.draft.add([article(cover(client))])["media_id"]
    assert client.draft.delete(media_id)["errcode"] == 0
    assert client.draft.delete(media_id)["errcode"] == 0
    assert client.draft.delete("never-existed")["errcode"] == 0


@pytest.mark.parametrize(
    ("fields", "errcode"),
    [
        ({"title": "标" * 33}, 45003),
        ({"author": "作" * 17}, 45110),
        ({"digest": "摘" * 129}, 45004),
        ({"content": "字" * 20_000}, 45002),
        ({"content": "<p>" + "x" * (1024 * 1024) + "</p>"}, 45002),
        ({"content_source_url": "ftp://example.org/a"}, 41039),
        ({"content_source_url": "https://example.org/" + "a" * 1024}, 45005),
        ({"title": ""}, 44003),
    ],
    ids=["title", "author", "digest", "content-chars", "content-bytes", "source-url", "source-url-size",
         "empty-title"],
)
def test_draft_limits_give_their_errcodes(client: SimClient, fields: dict[str, str], errcode: int) -> None:
    with pytest.raises(WeChatClientException) as refused:
        client.draft.add([article(cover(client), **fields)])
    assert refused.value.errcode == errcode


def test_draft_fields_at_their_limits_are_accepted(client: SimClient) -> None:
    fields = {"title": "标" * 32, "author": "作" * 16, "digest": "摘" * 128, "content": "字" * 19_999}
    media_id = client.draft.add([article(cover(client), **fields)])["media_id"]
    stored = client.draft.get(media_id)["news_item"][0]
    assert {k: stored[k] for k in fields} == fields


def test_a_draft_cover_must_be_a_permanent_material(client: SimClient, sim: WeChatSim) -> None:
    temporary = client.post("media/upload", params={"type": "thumb"},
                            files={"media": ("t.jpg", JPEG, "image/jpeg")})["media_id"]
    for thumb in (temporary, "no-such-media"):
        with pytest.raises(WeChatClientException) as refused:
            client.draft.add([article(thumb)])
        assert refused.value.errcode == 40007


def test_stored_content_loses_scripts_and_external_images_but_keeps_uploaded_ones(client: SimClient) -> None:
    uploaded = client.media.upload_image(("a.jpg", JPEG, "image/jpeg"))
    content = (f'<p>正文</p><script>alert("x")</script><img src="{uploaded}">'
               '<img src="https://example.org/logo.png"><img src="data:image/png;base64,AAAA"><SCRIPT src="a.js">'
               "</SCRIPT><p>完</p>")
    media_id = client.draft.add([article(cover(client), content=content)])["media_id"]
    stored = client.draft.get(media_id)["news_item"][0]["content"]
    assert stored == f'<p>正文</p><img src="{uploaded}"><p>完</p>'


def test_draft_get_returns_a_temporary_preview_link(client: SimClient) -> None:
    thumb = cover(client)
    media_id = client.draft.add([article(thumb), article(thumb, title="第二篇")])["media_id"]
    urls = [item["url"] for item in client.draft.get(media_id)["news_item"]]
    for url in urls:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        assert (parts.scheme, parts.hostname, parts.path) == ("http", "mp.weixin.qq.com", "/s")
        assert query["__biz"].endswith("==") and query["tempkey"]
    assert urls[0] != urls[1]


def test_unicode_escaped_text_is_refused_with_40033(sim: WeChatSim, client: SimClient) -> None:
    thumb = cover(client)
    token = fetch_token(sim)["access_token"]
    # requests' json= escapes non-ASCII as \\uXXXX, which the real draft API refuses
    answer = raw_call(sim, "draft/add", token, {"articles": [article(thumb)]})
    assert answer["errcode"] == 40033
    ascii_only = article(thumb, title="Path C:\\user", author="", content="a")  # an escaped backslash is fine
    assert "media_id" in raw_call(sim, "draft/add", token, {"articles": [ascii_only]})


# ---------------------------------------------------------------------------------------------- freepublish


def test_freepublish_reports_publishing_then_success_with_the_article_url(client: SimClient,
                                                                          ctl: SimControl) -> None:
    ctl.configure(publish_delay_seconds=2)  # long enough to see it publishing, even under load
    media_id = client.draft.add([article(cover(client))])["media_id"]
    publish_id = client.freepublish.submit(media_id)["publish_id"]
    assert isinstance(publish_id, str)
    assert client.freepublish.get(publish_id)["publish_status"] == 1
    wait_for(lambda: client.freepublish.get(publish_id)["publish_status"] != 1)
    done = client.freepublish.get(int(publish_id))  # a numeric publish_id is accepted too
    assert done["publish_status"] == 0 and done["fail_idx"] == []
    url = done["article_detail"]["item"][0]["article_url"]
    assert done["article_detail"]["count"] == 1 and url.startswith("https://mp.weixin.qq.com/s/")
    fetched = client.freepublish.getarticle(done["article_id"])["news_item"][0]
    assert fetched["url"] == url and fetched["is_deleted"] is False
    assert client.freepublish.batchget(0, 20)["item"][0]["article_id"] == done["article_id"]
    assert client.draft.count() == {"total_count": 0}  # a published draft leaves the draft box
    [entry] = ctl.published()
    assert entry["publish_id"] == publish_id and entry["url"] == url and entry["title"] == "防汛应急预案发布"


def test_an_injected_publish_outcome_ends_the_job_in_that_status_with_fail_idx(client: SimClient,
                                                                               ctl: SimControl) -> None:
    media_id = client.draft.add([article(cover(client))])["media_id"]
    ctl.inject("freepublish/submit", "publish_outcome", status=3, fail_idx=[1])
    publish_id = client.freepublish.submit(media_id)["publish_id"]
    wait_for(lambda: client.freepublish.get(publish_id)["publish_status"] != 1)
    failed = client.freepublish.get(publish_id)
    assert failed["publish_status"] == 3 and failed["fail_idx"] == [1]
    assert "article_id" not in failed
    assert client.draft.count() == {"total_count": 1}  # a failed publication keeps its draft
    assert ctl.published() == []


def test_unknown_publish_and_article_ids_get_53502_and_53600(client: SimClient) -> None:
    with pytest.raises(WeChatClientException) as publish:
        client.freepublish.get("123")
    with pytest.raises(WeChatClientException) as article_id:
        client.freepublish.getarticle("nope")
    assert (publish.value.errcode, article_id.value.errcode) == (53502, 53600)


def test_deleting_every_published_article_sets_status_5(client: SimClient) -> None:
    media_id = client.draft.add([article(cover(client))])["media_id"]
    publish_id = client.freepublish.submit(media_id)["publish_id"]
    wait_for(lambda: client.freepublish.get(publish_id)["publish_status"] == 0)
    article_id = client.freepublish.get(publish_id)["article_id"]
    assert client.freepublish.delete(article_id)["errcode"] == 0
    assert client.freepublish.getarticle(article_id)["news_item"][0]["is_deleted"] is True
    assert client.freepublish.get(publish_id)["publish_status"] == 5


def test_publish_job_finish_is_pushed_signed_without_anyone_polling(client: SimClient, ctl: SimControl,
                                                                    receiver: Receiver) -> None:
    ctl.configure(callback_url=receiver.url)
    thumb = cover(client)
    media_id = client.draft.add([article(thumb), article(thumb, title="第二篇")])["media_id"]
    publish_id = client.freepublish.submit(media_id)["publish_id"]
    [push] = receiver.wait(1)
    params = push["params"]
    check_signature(CALLBACK_TOKEN, params["signature"], params["timestamp"], params["nonce"])
    assert params["openid"] and "encrypt_type" not in params
    message = parse_message(push["body"])
    assert isinstance(message, UnknownMessage)  # wechatpy has no PUBLISHJOBFINISH class
    info = message._data["PublishEventInfo"]
    assert message._data["Event"] == "PUBLISHJOBFINISH" and message._data["ToUserName"] == "gh_signoffsim0001"
    assert info["publish_id"] == publish_id and info["publish_status"] == "0"
    assert info["article_detail"]["count"] == "2"
    assert [i["article_url"] for i in info["article_detail"]["item"]] == [p["url"] for p in ctl.published()]
    wait_for(lambda: len(ctl.state()["events_sent"]) == 1)


def test_a_failed_publication_is_pushed_with_its_fail_idx(client: SimClient, ctl: SimControl,
                                                          receiver: Receiver) -> None:
    ctl.configure(callback_url=receiver.url, publish_event="FREEPUBLISHJOBFINISH")
    ctl.inject("freepublish/submit", "publish_outcome", status=2, fail_idx=[1, 2])
    thumb = cover(client)
    client.freepublish.submit(client.draft.add([article(thumb), article(thumb)])["media_id"])
    message = parse_message(receiver.wait(1)[0]["body"])
    info = message._data["PublishEventInfo"]
    assert message._data["Event"] == "FREEPUBLISHJOBFINISH"
    assert info["publish_status"] == "2" and info["fail_idx"] == ["1", "2"] and "article_id" not in info


def test_safe_mode_pushes_decrypt_with_wechatcrypto(client: SimClient, ctl: SimControl, receiver: Receiver) -> None:
    ctl.configure(callback_url=receiver.url, encoding_aes_key=AES_KEY)
    client.freepublish.submit(client.draft.add([article(cover(client))])["media_id"])
    push = receiver.wait(1)[0]
    params = push["params"]
    assert params["encrypt_type"] == "aes"
    assert b"PublishEventInfo" not in push["body"]
    check_signature(CALLBACK_TOKEN, params["signature"], params["timestamp"], params["nonce"])
    plain = WeChatCrypto(CALLBACK_TOKEN, AES_KEY, APPID).decrypt_message(
        push["body"], params["msg_signature"], params["timestamp"], params["nonce"])
    assert parse_message(plain)._data["PublishEventInfo"]["publish_status"] == "0"


def test_a_push_is_tried_three_times_in_all_when_the_receiver_fails(client: SimClient, ctl: SimControl) -> None:
    flaky, dead = Receiver(statuses=[500, 503]), Receiver(statuses=[500, 500, 500])
    try:
        ctl.configure(callback_url=flaky.url)
        client.freepublish.submit(client.draft.add([article(cover(client))])["media_id"])
        assert [p["status"] for p in flaky.wait(3)] == [500, 503, 200]
        wait_for(lambda: len(ctl.state()["events_sent"]) == 1)
        assert ctl.state()["events_sent"][0]["attempts"] == 3
        ctl.configure(callback_url=dead.url)
        client.freepublish.submit(client.draft.add([article(cover(client))])["media_id"])
        dead.wait(3)
        wait_for(lambda: ctl.state()["event_failures"] == 1)  # recorded after the last attempt
        assert len(dead.pushes) == 3
    finally:
        flaky.close()
        dead.close()


# ---------------------------------------------------------------------------------------------- mass sending


def test_sendall_to_everyone_succeeds_once_a_day_then_gets_45028(client: SimClient) -> None:
    thumb = cover(client)
    first, second = (client.draft.add([article(thumb, title=t)])["media_id"] for t in ("一", "二"))
    sent = client.message.send_mass_article(first, is_to_all=True)  # wechatpy sends "tag_id": null
    assert sent["errcode"] == 0 and isinstance(sent["msg_id"], int) and isinstance(sent["msg_data_id"], int)
    with pytest.raises(WeChatClientException) as quota:
        client.message.send_mass_article(second, is_to_all=True)
    assert quota.value.errcode == 45028
    assert client.message.send_mass_article(second, tag_or_users=2)["errcode"] == 0  # by tag: not this quota


def test_a_repeated_clientmsgid_gets_45065_with_the_existing_msg_id(client: SimClient, ctl: SimControl) -> None:
    ctl.configure(mass_daily_quota=5)
    media_id = client.draft.add([article(cover(client))])["media_id"]
    sent = client.message.send_mass_article(media_id, is_to_all=True, client_msg_id="post-42-v1")
    with pytest.raises(WeChatClientException) as repeated:
        client.message.send_mass_article(media_id, is_to_all=True, client_msg_id="post-42-v1")
    assert repeated.value.errcode == 45065
    assert repeated.value.errmsg.startswith("clientmsgid exist")
    assert repeated.value.response.json()["msg_id"] == sent["msg_id"]


def test_a_clientmsgid_over_64_bytes_gets_45067(client: SimClient) -> None:
    media_id = client.draft.add([article(cover(client))])["media_id"]
    with pytest.raises(WeChatClientException) as too_long:
        client.message.send_mass_article(media_id, is_to_all=True, client_msg_id="x" * 65)
    assert too_long.value.errcode == 45067


def test_sendall_needs_a_draft_media_id(client: SimClient) -> None:
    with pytest.raises(WeChatClientException) as refused:
        client.message.send_mass_article("not-a-draft", is_to_all=True)
    assert refused.value.errcode == 40007


def test_mass_get_reports_sending_then_send_success(client: SimClient, ctl: SimControl) -> None:
    ctl.configure(mass_send_delay_seconds=2)  # long enough to see it sending, even under load
    media_id = client.draft.add([article(cover(client))])["media_id"]
    msg_id = client.message.send_mass_article(media_id, is_to_all=True)["msg_id"]
    assert client.message.get_mass(msg_id) == {"msg_id": msg_id, "msg_status": "SENDING"}
    wait_for(lambda: client.message.get_mass(msg_id)["msg_status"] != "SENDING")
    assert client.message.get_mass(str(msg_id))["msg_status"] == "SEND_SUCCESS"
    assert client.draft.count() == {"total_count": 0}  # a mass-sent draft leaves the draft box
    with pytest.raises(WeChatClientException) as unknown:
        client.message.get_mass(1)
    assert unknown.value.errcode == 40059


def test_mass_send_job_finish_is_pushed_and_parses_as_wechatpys_event(client: SimClient, ctl: SimControl,
                                                                      receiver: Receiver) -> None:
    ctl.configure(callback_url=receiver.url)
    media_id = client.draft.add([article(cover(client))])["media_id"]
    msg_id = client.message.send_mass_article(media_id, is_to_all=True)["msg_id"]
    push = receiver.wait(1)[0]
    check_signature(CALLBACK_TOKEN, push["params"]["signature"], push["params"]["timestamp"], push["params"]["nonce"])
    event = parse_message(push["body"])
    assert isinstance(event, MassSendJobFinishEvent)
    assert (event.id, event.status, event.total_count) == (msg_id, "send success", 1280)
    url = event._data["ArticleUrlResult"]["ResultList"]["item"]["ArticleUrl"]
    assert url.startswith("http://mp.weixin.qq.com/s?__biz=")


def test_preview_goes_to_an_openid_or_a_wechat_id(client: SimClient, ctl: SimControl) -> None:
    media_id = client.draft.add([article(cover(client))])["media_id"]
    by_openid = client.message.send_mass_article(media_id, OPENID, preview=True)
    by_wxname = client.message.send_mass_article(media_id, "zhang-wei-1988", preview=True)
    assert by_openid["errmsg"] == "preview success" and isinstance(by_wxname["msg_id"], int)
    previews = ctl.state()["previews"]
    assert previews[0]["touser"] == OPENID and previews[1]["towxname"] == "zhang-wei-1988"
    assert ctl.state()["mass_sends"] == []


# ---------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("errcode", "exception"),
    [(-1, WeChatClientException), (45009, APILimitedException), (45011, WeChatClientException),
     (48001, WeChatClientException)],
)
def test_an_injected_errcode_reaches_wechatpy_as_its_exception(client: SimClient, ctl: SimControl, errcode: int,
                                                               exception: type[Exception]) -> None:
    ctl.inject("draft/count", "errcode", errcode=errcode)
    with pytest.raises(exception) as raised:
        client.draft.count()
    assert type(raised.value) is exception and raised.value.errcode == errcode
    assert " rid: " in raised.value.errmsg
    assert client.draft.count() == {"total_count": 0}


def test_an_http_status_fault_raises_wechat_client_exception_without_errcode(client: SimClient,
                                                                            ctl: SimControl) -> None:
    ctl.inject("draft/count", "http_status", status=502)
    with pytest.raises(WeChatClientException) as raised:
        client.draft.count()
    assert raised.value.errcode is None and raised.value.response.status_code == 502


def test_a_latency_fault_delays_the_answer(client: SimClient, ctl: SimControl, sim: WeChatSim) -> None:
    client.draft.count()
    ctl.inject("draft/count", "latency", seconds=0.3)
    started = time.monotonic()
    assert client.draft.count() == {"total_count": 0}
    assert time.monotonic() - started >= 0.3
    ctl.inject("draft/count", "latency", seconds=0.3)
    impatient = new_client(sim, timeout=0.1)
    try:
        with pytest.raises(requests.exceptions.Timeout):
            impatient.draft.count()
    finally:
        impatient._http.close()
    wait_for(lambda: ctl.state()["in_flight"] == 0)  # the delayed answer ends before the server stops


def test_a_drop_fault_raises_a_requests_connection_error(client: SimClient, ctl: SimControl) -> None:
    client.draft.count()
    ctl.inject("draft/count", "drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.draft.count()
    assert client.draft.count() == {"total_count": 0}


def test_a_drop_reply_fault_does_the_work_and_loses_the_answer(client: SimClient, ctl: SimControl) -> None:
    media_id = client.draft.add([article(cover(client))])["media_id"]
    ctl.inject("freepublish/submit", "drop_reply")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.freepublish.submit(media_id)
    # WeChat took the submission all the same: it publishes.
    [publication] = ctl.state()["publications"]
    wait_for(lambda: client.freepublish.get(publication["publish_id"])["publish_status"] == 0)
    assert len(ctl.published()) == 1


@pytest.mark.parametrize("status", [5, 6])
def test_a_publication_deleted_or_banned_after_publishing_reports_5_or_6(client: SimClient, ctl: SimControl,
                                                                        status: int) -> None:
    media_id = client.draft.add([article(cover(client))])["media_id"]
    ctl.inject("freepublish/submit", "publish_outcome", status=status)
    publish_id = client.freepublish.submit(media_id)["publish_id"]
    wait_for(lambda: client.freepublish.get(publish_id)["publish_status"] != 1)
    gone = client.freepublish.get(publish_id)
    assert gone["publish_status"] == status and "article_id" not in gone and gone["fail_idx"] == []
    assert client.freepublish.batchget(0, 20)["item"] == []  # not among the published ones
    assert client.draft.count() == {"total_count": 0}  # it did go out: the draft left the box
    [entry] = ctl.published()
    assert entry["is_deleted"] is True


@pytest.mark.parametrize(("outcome", "drafts_left"), [("SEND_FAIL", 1), ("DELETE", 0)])
def test_an_injected_mass_outcome_ends_the_send_in_that_status(client: SimClient, ctl: SimControl,
                                                              outcome: str, drafts_left: int) -> None:
    media_id = client.draft.add([article(cover(client))])["media_id"]
    ctl.inject("message/mass/sendall", "mass_outcome", status=outcome)
    msg_id = client.message.send_mass_article(media_id, is_to_all=True)["msg_id"]
    wait_for(lambda: client.message.get_mass(msg_id)["msg_status"] != "SENDING")
    assert client.message.get_mass(msg_id)["msg_status"] == outcome
    assert client.draft.count() == {"total_count": drafts_left}


def test_a_fault_with_times_applies_to_that_many_calls_then_the_api_answers_normally(client: SimClient,
                                                                                     ctl: SimControl) -> None:
    ctl.inject("draft/count", "errcode", times=2, errcode=-1)
    for _ in range(2):
        with pytest.raises(WeChatClientException):
            client.draft.count()
    assert client.draft.count() == {"total_count": 0}
    assert ctl.state()["faults"] == []


def test_a_fault_with_probability_fires_on_about_that_share_of_calls(client: SimClient, ctl: SimControl) -> None:
    ctl.inject("draft/count", "errcode", times=None, probability=0.0, errcode=-1)
    assert client.draft.count() == {"total_count": 0}
    ctl.clear_faults()
    ctl.inject("draft/count", "errcode", times=None, probability=0.5, errcode=-1)
    failures = 0
    for _ in range(60):
        try:
            client.draft.count()
        except WeChatClientException:
            failures += 1
    assert 10 <= failures <= 50
    ctl.clear_faults()
    ctl.inject("draft/count", "errcode", times=None, probability=1.0, errcode=-1)
    for _ in range(3):
        with pytest.raises(WeChatClientException):
            client.draft.count()


def test_a_star_fault_hits_every_endpoint_including_token(client: SimClient, ctl: SimControl) -> None:
    ctl.inject("*", "http_status", times=None, status=503)
    with pytest.raises(WeChatClientException) as raised:
        client.draft.count()  # the token fetch itself fails first
    assert raised.value.errcode is None
    assert ctl.calls("token") == 1 and ctl.calls("draft/count") == 0
    ctl.clear_faults()
    assert client.draft.count() == {"total_count": 0}


def test_the_control_api_refuses_malformed_faults_and_config(ctl: SimControl) -> None:
    with pytest.raises(ValueError, match="kind"):
        ctl.inject("draft/add", "explode")
    with pytest.raises(ValueError, match="status 2, 3, 4, 5 or 6"):
        ctl.inject("freepublish/submit", "publish_outcome", status=0)
    with pytest.raises(ValueError, match="probability"):
        ctl.inject("draft/add", "drop", probability=2)
    with pytest.raises(ValueError, match="unknown config"):
        ctl.configure(no_such_setting=1)
    with pytest.raises(ValueError, match="43 characters"):
        ctl.configure(encoding_aes_key="short")


# ---------------------------------------------------------------------------------------------- inspection


def test_the_inspection_api_reports_what_was_published_and_how_often_each_endpoint_was_called(
        client: SimClient, ctl: SimControl) -> None:
    thumb = cover(client)
    for title in ("一号通知", "二号通知"):
        client.freepublish.submit(client.draft.add([article(thumb, title=title)])["media_id"])
    wait_for(lambda: len(ctl.published()) == 2)
    published = ctl.published()
    assert [p["title"] for p in published] == ["一号通知", "二号通知"]
    assert set(published[0]) >= {"publish_id", "article_id", "url", "title", "author", "digest", "content",
                                  "thumb_media_id", "content_source_url", "published_at"}
    assert published[0]["thumb_media_id"] == thumb
    assert ctl.calls("freepublish/submit") == 2 and ctl.calls("draft/add") == 2 and ctl.calls("token") == 1
    assert ctl.calls() == 6
    state = ctl.state()
    assert state["drafts"] == {} and state["tokens_issued"] == 1 and len(state["publications"]) == 2


def test_reset_forgets_everything_and_restores_the_initial_config(client: SimClient, ctl: SimControl) -> None:
    client.draft.add([article(cover(client))])
    ctl.configure(mass_daily_quota=9)
    ctl.inject("*", "drop", times=None)
    ctl.reset()
    state = ctl.state()
    assert (state["drafts"], state["media"], state["calls"], state["faults"], state["tokens_issued"]) == (
        {}, {}, {}, [], 0)
    assert requests.get(ctl.root_url + "/_sim/config", timeout=5).json()["mass_daily_quota"] == 1
    assert client.draft.count() == {"total_count": 0}  # the old token is gone, so wechatpy fetches a new one
