"""WeChat's callback through Flask's test client: genuinely signed (and, in safe mode, encrypted with
wechatpy's own crypto) requests, the events the simulator's XML builders write, and what each one
leaves in the database: the post's status, the article URL, the audit rows, the notifications."""

from __future__ import annotations

import hashlib
import secrets
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from wechatpy.crypto import WeChatCrypto
from werkzeug.test import TestResponse

from approvals.bootstrap import Core, bootstrap
from approvals.config.settings import Settings, load_settings
from approvals.rules.errors import ConfigError, Text
from approvals.rules.notices import Event
from approvals.rules.org import OrgChart
from approvals.rules.states import PostStatus
from approvals.store import models as m
from approvals.views import PublishFinished, Reported, RevisionInput, ScheduleInput
from approvals.web import create_app
from signoff.embedded import free_port
from signoff.sims.wechat.events import cdata, mass_event_xml, publish_event_xml
from tests.conftest import EXAMPLE_ORG, Clock, HandedOff, Personas
from worker.callback import CallbackCodec, codec_for

TOKEN = "signoffCallback2026"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them
APPID = "wxsim0000000000001"
GH_ID = "gh_signoffsim0001"
PUBLISH_ID = "2247503051"
MSG_ID = "1000001625"
URL = "https://mp.weixin.qq.com/s/AbCdEf123"
BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


# --- fixtures -----------------------------------------------------------------------------------


def _core(engine: Engine, org: OrgChart, clock: Clock, handed_off: HandedOff,
          redis_url: str) -> Core:
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        org_file=EXAMPLE_ORG, redis_url=redis_url)
    return bootstrap(settings, engine=engine, org=org, clock=clock,
                     enqueue=lambda _core: handed_off)


@pytest.fixture
def core(engine: Engine, org: OrgChart, clock: Clock, handed_off: HandedOff, redis_url: str,
         redis_conn: object) -> Core:
    """The core on the test database, whose Redis (the replay memory) is the test Redis."""
    return _core(engine, org, clock, handed_off, redis_url)


@pytest.fixture
def plain(core: Core) -> Flask:
    return create_app(core, secret_key="k" * 32, testing=True,
                      wechat_callback=CallbackCodec(TOKEN))


@pytest.fixture
def safe(core: Core) -> Flask:
    return create_app(core, secret_key="k" * 32, testing=True,
                      wechat_callback=CallbackCodec(TOKEN, AES_KEY, APPID))


@pytest.fixture(params=["plain", "safe"])
def app(request: pytest.FixtureRequest) -> Flask:
    return request.getfixturevalue(request.param)


# --- WeChat's side: signing and encrypting a push exactly as its server does ---------------------


def sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class WeChat:
    """Sends pushes to the app as WeChat's server does (timestamps from the core's clock)."""

    def __init__(self, app: Flask, clock: Clock, *, token: str = TOKEN) -> None:
        self.client: FlaskClient = app.test_client()
        self.clock = clock
        self.token = token
        self.safe = app.extensions["signoff.wechat_callback"].codec.safe_mode

    def params(self, *, skew: float = 0, nonce: str | None = None) -> dict[str, str]:
        ts = str(int(self.clock().timestamp() + skew))
        nonce = nonce or secrets.token_hex(8)
        return {"signature": sha1(self.token, ts, nonce), "timestamp": ts, "nonce": nonce,
                "openid": "oSimMpHelper0000000000000000"}

    def seal(self, xml: str, params: dict[str, str]) -> tuple[dict[str, str], bytes]:
        """The query and body of a push: in safe mode encrypted with wechatpy's WeChatCrypto."""
        if not self.safe:
            return params, xml.encode()
        sealed = ET.fromstring(WeChatCrypto(self.token, AES_KEY, APPID).encrypt_message(
            xml, params["nonce"], params["timestamp"]))
        encrypted = sealed.findtext("Encrypt") or ""
        query = {**params, "encrypt_type": "aes", "msg_signature": sealed.findtext("MsgSignature")
                 or ""}
        return query, (f"<xml><ToUserName>{cdata(GH_ID)}</ToUserName>"
                       f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>").encode()

    def push(self, xml: str, **kw: float | str) -> TestResponse:
        query, body = self.seal(xml, self.params(**kw))  # type: ignore[arg-type]
        return self.send(query, body)

    def send(self, query: dict[str, str], body: bytes) -> TestResponse:
        return self.client.post("/wechat/callback", query_string=query, data=body,
                                content_type="text/xml; charset=utf-8")


def publish_event(status: int = 0, *, publish_id: str = PUBLISH_ID, url: str = URL,
                  event: str = "PUBLISHJOBFINISH", fail_idx: tuple[int, ...] = ()) -> str:
    return publish_event_xml(gh_id=GH_ID, event=event, publish_id=publish_id, status=status,
                             article_id="b5O2OUs25HBxRceL7hfReg" if status == 0 else None,
                             article_urls=[url, url + "2"] if status == 0 else [],
                             fail_idx=list(fail_idx), create_time=1481013459)


def mass_event(status: str = "send success", *, msg_id: str = MSG_ID, url: str = URL) -> str:
    return mass_event_xml(gh_id=GH_ID, msg_id=int(msg_id), status=status, total=8, sent=8,
                          errors=0, article_urls=[url], create_time=1481013459)


# --- a post WeChat is publishing ----------------------------------------------------------------


def publishing(core: Core, who: Personas, *, mass: bool = False) -> tuple[int, str]:
    """A signed post claimed by worker w1, submitted to WeChat (publish_id or msg_id saved)."""
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="我局开展冬季防汛应急演练", body=BODY)
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
    if mass:
        svc.act(pid, "schedule", who.admin, schedule=ScheduleInput(None, "mass_send"))
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    for action, person in [("confirm", who.drafter), ("approve", who.head),
                           ("approve", who.leader), ("sign", who.issuer)]:
        svc.act(pid, action, person, revision_hash=h)
    assert core.publishing.claim(pid, "w1", 60).snapshot is not None
    core.publishing.record_draft(pid, h, "draft-1", "c" * 64)
    if mass:
        core.publishing.record_clientmsgid(pid, h, f"so{pid}-0-{h[:16]}")
        core.publishing.record_msg_id(pid, h, MSG_ID)
    else:
        core.publishing.record_submit_started(pid, h)
        core.publishing.record_publish_id(pid, h, PUBLISH_ID)
    return pid, h


def audit_actions(core: Core, pid: int) -> list[str]:
    return [e.action for e in core.service.view(pid).timeline]


def audit_count(core: Core) -> int:
    with core.deps.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(m.AuditEntry)) or 0)


def told(core: Core, pid: int, event: Event) -> int:
    return len([n for n in core.service.notifications_for(post_id=pid) if n.event is event])


def publication(core: Core, pid: int, h: str) -> m.Publication:
    with core.deps.sessions() as s:
        row = s.scalars(select(m.Publication).where(m.Publication.post_id == pid,
                                                    m.Publication.revision_hash == h)).one()
        s.expunge(row)
        return row


def answered(response: TestResponse, status: int, text: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert text in body, body
    assert "Traceback" not in body and TOKEN not in body


# --- the handshake and the configuration ---------------------------------------------------------


def test_the_handshake_echoes_echostr_only_for_wechats_signature(plain: Flask, clock: Clock
                                                                   ) -> None:
    wechat = WeChat(plain, clock)
    ok = wechat.client.get("/wechat/callback", query_string={**wechat.params(),
                                                              "echostr": "6213547128815012345"})
    answered(ok, 200, "6213547128815012345")
    assert ok.get_data(as_text=True) == "6213547128815012345"
    forged = WeChat(plain, clock, token="guessedToken")
    answered(forged.client.get("/wechat/callback", query_string={**forged.params(),
                                                                  "echostr": "123"}),
             403, "签名无效")
    answered(wechat.client.get("/wechat/callback", query_string={"echostr": "123"}), 400,
             "signature")
    html = wechat.client.get("/wechat/callback",
                             query_string={**wechat.params(), "echostr": "<script>x</script>"})
    answered(html, 400, "echostr")


def test_the_safe_mode_handshake_is_plain_too(safe: Flask, clock: Clock) -> None:
    # An official account's echostr is plain even in safe mode (facts §8.1).
    wechat = WeChat(safe, clock)
    answered(wechat.client.get("/wechat/callback", query_string={**wechat.params(),
                                                                  "echostr": "abc123"}),
             200, "abc123")


def test_without_a_token_the_callback_is_not_there(core: Core, clock: Clock) -> None:
    client = create_app(core, secret_key="k" * 32, testing=True).test_client()
    ts = str(int(clock().timestamp()))
    query = {"signature": sha1(TOKEN, ts, "n1"), "timestamp": ts, "nonce": "n1", "echostr": "e"}
    assert client.get("/wechat/callback", query_string=query).status_code == 404
    assert client.post("/wechat/callback", query_string=query,
                       data=publish_event().encode()).status_code == 404


def test_the_callback_secrets_come_from_the_environment_or_files_never_the_settings_file(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path
    base = Path(str(tmp_path))
    toml = base / "signoff.toml"
    toml.write_text(f'wechat_callback_token = "{TOKEN}"\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(toml)
    assert "SIGNOFF_WECHAT_CALLBACK_TOKEN_FILE" in refused.value.text.en
    assert TOKEN not in refused.value.text.en and TOKEN not in refused.value.text.zh
    (base / "token").write_text(TOKEN + "\n")
    (base / "key").write_text(AES_KEY)
    monkeypatch.setenv("SIGNOFF_WECHAT_CALLBACK_TOKEN_FILE", str(base / "token"))
    monkeypatch.setenv("SIGNOFF_WECHAT_ENCODING_AES_KEY_FILE", str(base / "key"))
    monkeypatch.setenv("SIGNOFF_WECHAT_APPID", APPID)
    codec = codec_for(load_settings())
    assert codec is not None and codec.safe_mode
    monkeypatch.setenv("SIGNOFF_WECHAT_CALLBACK_TOKEN", "no spaces allowed")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert "3–32 letters or digits" in bad.value.text.en
    assert "no spaces allowed" not in bad.value.text.en
    monkeypatch.delenv("SIGNOFF_WECHAT_CALLBACK_TOKEN")
    monkeypatch.delenv("SIGNOFF_WECHAT_APPID")
    with pytest.raises(ConfigError) as no_appid:
        load_settings()
    assert "wechat_appid" in no_appid.value.text.en
    monkeypatch.delenv("SIGNOFF_WECHAT_CALLBACK_TOKEN_FILE")
    monkeypatch.delenv("SIGNOFF_WECHAT_ENCODING_AES_KEY_FILE")
    assert codec_for(load_settings()) is None


# --- events, in both modes -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["PUBLISHJOBFINISH", "FREEPUBLISHJOBFINISH"])
def test_a_publish_event_publishes_the_post_with_its_url(app: Flask, core: Core, who: Personas,
                                                         clock: Clock, name: str) -> None:
    pid, h = publishing(core, who)
    answered(WeChat(app, clock).push(publish_event(0, event=name)), 200, "success")
    post = core.service.view(pid).post
    assert post.status is PostStatus.PUBLISHED and post.article_url == URL
    pub = publication(core, pid, h)
    assert (pub.article_url, pub.article_id, pub.wechat_status) == (URL, "b5O2OUs25HBxRceL7hfReg",
                                                                    "0")
    (row,) = [e for e in core.service.view(pid).timeline if e.action == "post.mark_published"]
    assert row.detail["via"] == "callback" and row.detail["publish_id"] == PUBLISH_ID
    assert row.detail["url"] == URL
    assert told(core, pid, Event.PUBLISHED) > 0
    # The job's lease is gone with the claim: the worker stops following it.
    assert not core.publishing.renew(pid, "w1", 60)


def test_a_mass_send_event_publishes_the_post_with_the_url_from_article_url_result(
        app: Flask, core: Core, who: Personas, clock: Clock) -> None:
    pid, h = publishing(core, who, mass=True)
    answered(WeChat(app, clock).push(mass_event("send success")), 200, "success")
    post = core.service.view(pid).post
    assert post.status is PostStatus.PUBLISHED and post.article_url == URL
    assert publication(core, pid, h).wechat_status == "SEND_SUCCESS"
    (row,) = [e for e in core.service.view(pid).timeline if e.action == "post.mark_published"]
    assert row.detail["msg_id"] == MSG_ID and row.detail["via"] == "callback"


def test_a_failed_publication_fails_the_post_and_lets_a_retry_submit_again(
        app: Flask, core: Core, who: Personas, clock: Clock) -> None:
    pid, h = publishing(core, who)
    answered(WeChat(app, clock).push(publish_event(4, fail_idx=(1,))), 200, "success")
    post = core.service.view(pid).post
    assert post.status is PostStatus.FAILED and "未通过平台审核" in post.problem.zh
    assert "rejected by the platform's review" in post.problem.en
    assert publication(core, pid, h).wechat_status == "4"
    assert audit_actions(core, pid)[-1] == "post.fail" and told(core, pid, Event.FAILED) > 0
    core.service.act(pid, "retry", who.admin, comment="重试")
    assert publication(core, pid, h).publish_id is None  # WeChat said it failed: submit anew


def test_a_refused_mass_send_fails_the_post_with_wechats_words(
        app: Flask, core: Core, who: Personas, clock: Clock) -> None:
    pid, h = publishing(core, who, mass=True)
    answered(WeChat(app, clock).push(mass_event("err(20001)")), 200, "success")
    post = core.service.view(pid).post
    assert post.status is PostStatus.FAILED and "err(20001)" in post.problem.zh
    assert publication(core, pid, h).wechat_status == "SEND_FAIL"


@pytest.mark.parametrize("status", ["", "SEND_SUCCESS", "send_success", "sending", "queued"])
def test_a_mass_send_status_wechat_does_not_document_leaves_it_to_a_person(
        plain: Flask, core: Core, who: Personas, clock: Clock, status: str) -> None:
    pid, h = publishing(core, who, mass=True)
    answered(WeChat(plain, clock).push(mass_event(status)), 200, "success")
    post = core.service.view(pid).post
    # Never "failed": a retry would send it to every follower again.
    assert post.status is PostStatus.UNCONFIRMED and "确认已发布" in post.problem.zh, status
    assert publication(core, pid, h).msg_id == MSG_ID


@pytest.mark.parametrize("status,said", [(5, "发布后文章已被删除"), (7, "无法识别的发布状态")])
def test_an_article_deleted_after_publishing_or_an_undocumented_status_leaves_it_to_a_person(
        plain: Flask, core: Core, who: Personas, clock: Clock, status: int, said: str) -> None:
    pid, h = publishing(core, who)
    answered(WeChat(plain, clock).push(publish_event(status)), 200, "success")
    post = core.service.view(pid).post
    assert post.status is PostStatus.UNCONFIRMED and "确认已发布" in post.problem.zh
    assert said in post.problem.zh and "a retry submits it again" not in post.problem.en
    assert told(core, pid, Event.UNCONFIRMED) > 0
    assert publication(core, pid, h).wechat_status == str(status)


def test_still_publishing_changes_nothing(plain: Flask, core: Core, who: Personas,
                                          clock: Clock) -> None:
    pid, _h = publishing(core, who)
    before = audit_count(core)
    answered(WeChat(plain, clock).push(publish_event(1)), 200, "success")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING
    assert audit_count(core) == before


# --- once, whoever learns it first ----------------------------------------------------------------


def test_the_same_event_pushed_twice_is_applied_once(app: Flask, core: Core, who: Personas,
                                                     clock: Clock) -> None:
    pid, _h = publishing(core, who)
    wechat = WeChat(app, clock)
    answered(wechat.push(publish_event(0)), 200, "success")
    rows, notes = audit_count(core), told(core, pid, Event.PUBLISHED)
    answered(wechat.push(publish_event(0, url=URL + "-other")), 200, "success")  # fresh signature
    assert audit_count(core) == rows and told(core, pid, Event.PUBLISHED) == notes
    assert core.service.view(pid).post.article_url == URL


def test_the_poller_first_makes_the_event_a_no_op(plain: Flask, core: Core, who: Personas,
                                                  clock: Clock) -> None:
    pid, h = publishing(core, who)
    assert core.publishing.mark_published(pid, "w1", url=URL, article_id="a1",
                                          detail={"publish_id": PUBLISH_ID}, wechat_status="0")
    rows = audit_count(core)
    answered(WeChat(plain, clock).push(publish_event(0, url=URL + "-late")), 200, "success")
    answered(WeChat(plain, clock).push(publish_event(3)), 200, "success")  # a contrary one too
    view = core.service.view(pid)
    assert view.post.status is PostStatus.PUBLISHED and view.post.article_url == URL
    assert audit_count(core) == rows and publication(core, pid, h).wechat_status == "0"


def test_the_event_first_makes_the_pollers_finish_a_no_op(plain: Flask, core: Core,
                                                          who: Personas, clock: Clock) -> None:
    pid, _h = publishing(core, who)
    answered(WeChat(plain, clock).push(publish_event(0)), 200, "success")
    rows = audit_count(core)
    # What the worker does next: renew its lease (refused: LostClaim), or finish (refused).
    assert not core.publishing.renew(pid, "w1", 60)
    assert not core.publishing.mark_published(pid, "w1", url=URL + "-poll", article_id="a1")
    assert not core.publishing.mark_failed(pid, "w1", Text("失败", "failed"))
    assert audit_count(core) == rows
    assert core.service.view(pid).post.article_url == URL
    # And a later job for it finds nothing to do.
    assert core.publishing.claim(pid, "w2", 60).reason == "status is published"


def test_a_mass_send_the_poller_finished_gets_its_link_from_the_event_once(
        plain: Flask, core: Core, who: Personas, clock: Clock) -> None:
    pid, h = publishing(core, who, mass=True)
    # mass/get says SEND_SUCCESS but carries no link.
    assert core.publishing.mark_published(pid, "w1", url=None, article_id=None,
                                          detail={"msg_id": MSG_ID}, wechat_status="SEND_SUCCESS")
    assert core.service.view(pid).post.article_url is None
    wechat = WeChat(plain, clock)
    answered(wechat.push(mass_event()), 200, "success")
    assert core.service.view(pid).post.article_url == URL
    assert publication(core, pid, h).article_url == URL
    assert audit_actions(core, pid)[-1] == "post.article_url"
    rows = audit_count(core)
    answered(wechat.push(mass_event(url=URL + "-again")), 200, "success")
    assert audit_count(core) == rows and core.service.view(pid).post.article_url == URL
    report = core.service.verify_audit()
    assert report.ok, report


def test_an_event_for_an_unknown_id_is_answered_success_and_changes_nothing(
        app: Flask, core: Core, who: Personas, clock: Clock) -> None:
    pid, _h = publishing(core, who)
    rows = audit_count(core)
    wechat = WeChat(app, clock)
    answered(wechat.push(publish_event(0, publish_id="999999")), 200, "success")
    answered(wechat.push(mass_event(msg_id="777")), 200, "success")
    assert audit_count(core) == rows
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING


def test_a_followers_message_is_answered_success(plain: Flask, clock: Clock) -> None:
    text = (f"<xml><ToUserName>{cdata(GH_ID)}</ToUserName><FromUserName>{cdata('o1')}"
            "</FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            "<Content><![CDATA[你好]]></Content><MsgId>1</MsgId></xml>")
    answered(WeChat(plain, clock).push(text), 200, "success")


# --- forged, replayed, stale, malformed ----------------------------------------------------------


def test_a_forged_signature_is_refused_and_changes_nothing(app: Flask, core: Core,
                                                           who: Personas, clock: Clock) -> None:
    pid, _h = publishing(core, who)
    answered(WeChat(app, clock, token="guessedToken").push(publish_event(0)), 403, "签名无效")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING


def test_a_safe_mode_body_whose_msg_signature_is_forged_is_refused(
        safe: Flask, core: Core, who: Personas, clock: Clock) -> None:
    pid, _h = publishing(core, who)
    wechat = WeChat(safe, clock)
    query, body = wechat.seal(publish_event(0), wechat.params())
    query["msg_signature"] = sha1("x", "y")
    answered(wechat.send(query, body), 403, "签名无效")
    # Encrypted under another appid: decrypts, but is not this account's.
    other = WeChatCrypto(TOKEN, AES_KEY, "wxanotherapp00001")
    params = wechat.params()
    sealed = ET.fromstring(other.encrypt_message(publish_event(0), params["nonce"],
                                                 params["timestamp"]))
    query = {**params, "encrypt_type": "aes", "msg_signature": sealed.findtext("MsgSignature")
             or ""}
    body = f"<xml><Encrypt>{cdata(sealed.findtext('Encrypt') or '')}</Encrypt></xml>".encode()
    answered(wechat.send(query, body), 403, "签名无效")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING


def test_each_mode_refuses_the_other(plain: Flask, safe: Flask, core: Core, who: Personas,
                                     clock: Clock) -> None:
    pid, _h = publishing(core, who)
    answered(WeChat(safe, clock).send(WeChat(plain, clock).params(), publish_event(0).encode()),
             400, "消息格式不正确")
    sealed = WeChat(safe, clock).seal(publish_event(0), WeChat(safe, clock).params())
    answered(WeChat(plain, clock).send(*sealed), 400, "消息格式不正确")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING


def test_a_replayed_request_is_refused(app: Flask, core: Core, who: Personas,
                                       clock: Clock) -> None:
    pid, _h = publishing(core, who)
    wechat = WeChat(app, clock)
    query, body = wechat.seal(publish_event(1), wechat.params())
    answered(wechat.send(query, body), 200, "success")
    answered(wechat.send(query, body), 403, "拒绝重放")
    answered(wechat.client.post("/wechat/callback", query_string={**query, "lang": "en"},
                                data=body), 403, "replay refused")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING


def test_a_stale_or_future_timestamp_is_refused(app: Flask, core: Core, who: Personas,
                                                clock: Clock) -> None:
    pid, _h = publishing(core, who)
    wechat = WeChat(app, clock)
    answered(wechat.push(publish_event(0), skew=-301), 403, "时间戳超出允许范围")
    answered(wechat.push(publish_event(0), skew=+301), 403, "时间戳超出允许范围")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING
    query, body = wechat.seal(publish_event(0), wechat.params())
    clock.advance(minutes=6)  # the same genuine request, held back and sent later
    answered(wechat.send(query, body), 403, "时间戳超出允许范围")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING
    answered(wechat.push(publish_event(0), skew=-200), 200, "success")  # within the window
    assert core.service.view(pid).post.status is PostStatus.PUBLISHED


BOMB = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        '<xml><MsgType>event</MsgType><Event>PUBLISHJOBFINISH</Event><PublishEventInfo>'
        f'<publish_id>{PUBLISH_ID}</publish_id><publish_status>0</publish_status>'
        '<article_detail><item><idx>1</idx><article_url>&c;</article_url></item>'
        '</article_detail></PublishEventInfo></xml>')


@pytest.mark.parametrize("xml", [
    "<xml><MsgType>event</MsgType",  # cut short
    "not xml at all",
    BOMB,  # entities expanding: refused, never expanded
    '<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><MsgType>event</MsgType></xml>',
    "<xml><MsgType>event</MsgType><Event>PUBLISHJOBFINISH</Event></xml>",  # no PublishEventInfo
    "<xml><MsgType>event</MsgType><Event>PUBLISHJOBFINISH</Event><PublishEventInfo>"
    "<publish_id>1</publish_id><publish_status>zero</publish_status></PublishEventInfo></xml>",
    "<xml><MsgType>event</MsgType><Event>MASSSENDJOBFINISH</Event><MsgID>x1</MsgID></xml>",
    "<other><MsgType>event</MsgType></other>",
    # Digits Python's int() refuses, or reads as another number ("٣" is 3).
    publish_event(0).replace("<publish_status>0<", "<publish_status>²<"),
    publish_event(0).replace("<publish_status>0<", "<publish_status>٣<"),
    publish_event(0).replace("<publish_status>0<", "<publish_status>" + "9" * 5000 + "<"),
    publish_event(0).replace("<idx>1<", "<idx>¹<"),
])
def test_malformed_xml_is_refused_with_a_short_message(app: Flask, core: Core, who: Personas,
                                                       clock: Clock, xml: str) -> None:
    pid, _h = publishing(core, who)
    wechat = WeChat(app, clock)
    answered(wechat.push(xml), 400, "消息格式不正确")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING


def test_an_oversize_body_is_refused(plain: Flask, core: Core, who: Personas,
                                     clock: Clock) -> None:
    pid, _h = publishing(core, who)
    wechat = WeChat(plain, clock)
    big = publish_event(0).replace("</xml>", "<Pad>" + "x" * 70_000 + "</Pad></xml>")
    answered(wechat.push(big), 400, "消息过大")
    answered(wechat.client.post("/wechat/callback", query_string={**wechat.params(),
                                                                   "lang": "en"},
                                data=big.encode()), 400, "too large")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING


def test_missing_or_malformed_parameters_are_refused(plain: Flask, clock: Clock) -> None:
    wechat = WeChat(plain, clock)
    params = wechat.params()
    for drop in ("signature", "timestamp", "nonce"):
        query = {k: v for k, v in params.items() if k != drop}
        answered(wechat.send(query, publish_event(0).encode()), 400, "signature")
    answered(wechat.send({**params, "timestamp": "1e9"}, publish_event(0).encode()), 400,
             "timestamp")


# --- when a service does not answer ---------------------------------------------------------------


@pytest.fixture
def no_redis(engine: Engine, org: OrgChart, clock: Clock, handed_off: HandedOff
             ) -> Iterator[Flask]:
    core = _core(engine, org, clock, handed_off, f"redis://127.0.0.1:{free_port()}/0")
    yield create_app(core, secret_key="k" * 32, testing=True,
                     wechat_callback=CallbackCodec(TOKEN))


def test_without_redis_the_push_is_refused_for_wechat_to_retry_and_nothing_changes(
        no_redis: Flask, clock: Clock, who: Personas) -> None:
    core = no_redis.extensions["signoff"]
    pid, _h = publishing(core, who)
    answer = WeChat(no_redis, clock).push(publish_event(0))
    answered(answer, 503, "暂时无法处理")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHING


def test_a_push_that_could_not_be_applied_is_let_through_when_wechat_retries(
        plain: Flask, core: Core, who: Personas, clock: Clock) -> None:
    pid, _h = publishing(core, who)
    wechat = WeChat(plain, clock)
    query, body = wechat.seal(publish_event(0), wechat.params())
    # The database goes away for a moment: the same push is refused with 503, not 500 ...
    broken = bootstrap(core.settings.model_copy(update={
        "database_url": "sqlite:////nonexistent-directory/signoff.db"}), org=core.org,
        clock=clock, check_schema=False)
    plain.extensions["signoff.service"] = broken.service.via("web")
    answered(wechat.send(query, body), 503, "暂时无法处理")
    # ... and WeChat's retry of that very request is applied once the database is back.
    plain.extensions["signoff.service"] = core.service.via("web")
    answered(wechat.send(query, body), 200, "success")
    assert core.service.view(pid).post.status is PostStatus.PUBLISHED


def race(core: Core, pid: int, publish_id: str) -> list[object]:
    """The callback and the worker's poller finish the same post at the same moment."""
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def callback() -> None:
        start.wait()
        outcomes.append(core.service.wechat_reported(PublishFinished(publish_id, 0, url=URL)))

    def poller() -> None:
        start.wait()
        outcomes.append(core.publishing.mark_published(pid, "w1", url=URL + "-poll",
                                                       article_id="a1"))

    threads = [threading.Thread(target=callback), threading.Thread(target=poller)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_the_poller_and_the_callback_racing_finish_each_post_once(core: Core, who: Personas
                                                                   ) -> None:
    # SQLite runs one writing transaction at a time; on PostgreSQL both read the post as
    # publishing and the loser's conditional update must find nothing to change.
    posts = []
    for i in range(12):
        pid, h = publishing(core, who)
        core.publishing.record_publish_id(pid, h, f"{PUBLISH_ID}{i}")
        posts.append((pid, f"{PUBLISH_ID}{i}"))
    for pid, publish_id in posts:
        outcomes = race(core, pid, publish_id)
        won = [o for o in outcomes if o in (True, Reported.PUBLISHED)]
        assert len(won) == 1, outcomes
        assert audit_actions(core, pid).count("post.mark_published") == 1
        assert core.service.view(pid).post.status is PostStatus.PUBLISHED
    assert core.service.verify_audit().ok
