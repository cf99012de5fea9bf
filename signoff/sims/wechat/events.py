"""Event pushes to the developer's callback URL: the XML, the signature, safe-mode encryption, retries."""

from __future__ import annotations

import hashlib
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import requests
from wechatpy.crypto import WeChatCrypto

# the mass-send assistant ("mphelper") is the sender of job-finish events
MPHELPER_OPENID = "oSimMpHelper0000000000000000"
PUSH_ATTEMPTS = 3  # WeChat tries a push three times in total


def cdata(text: str) -> str:
    """Wrap text in CDATA, splitting any `]]>` it contains."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _head(gh_id: str, event: str, create_time: int) -> str:
    return (f"<ToUserName>{cdata(gh_id)}</ToUserName><FromUserName>{cdata(MPHELPER_OPENID)}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType>{cdata('event')}</MsgType><Event>{cdata(event)}</Event>")


def publish_event_xml(*, gh_id: str, event: str, publish_id: str, status: int, article_id: str | None,
                      article_urls: list[str], fail_idx: list[int], create_time: int) -> str:
    """The PUBLISHJOBFINISH event (facts §4.6): article details on success, fail_idx on failure."""
    info = f"<publish_id>{publish_id}</publish_id><publish_status>{status}</publish_status>"
    if status == 0 and article_id is not None:
        items = "".join(f"<item><idx>{i}</idx><article_url>{cdata(url)}</article_url></item>"
                        for i, url in enumerate(article_urls, start=1))
        info += (f"<article_id>{cdata(article_id)}</article_id>"
                 f"<article_detail><count>{len(article_urls)}</count>{items}</article_detail>")
    info += "".join(f"<fail_idx>{i}</fail_idx>" for i in fail_idx)
    return f"<xml>{_head(gh_id, event, create_time)}<PublishEventInfo>{info}</PublishEventInfo></xml>"


def mass_event_xml(*, gh_id: str, msg_id: int, status: str, total: int, sent: int, errors: int,
                   article_urls: list[str], create_time: int) -> str:
    """The MASSSENDJOBFINISH event (facts §5.5), with no reprint found by the copyright check."""
    urls = "".join(f"<item><ArticleIdx>{i}</ArticleIdx><ArticleUrl>{cdata(url)}</ArticleUrl></item>"
                   for i, url in enumerate(article_urls, start=1))
    return (f"<xml>{_head(gh_id, 'MASSSENDJOBFINISH', create_time)}<MsgID>{msg_id}</MsgID>"
            f"<Status>{cdata(status)}</Status><TotalCount>{total}</TotalCount>"
            f"<FilterCount>{sent + errors}</FilterCount>"
            f"<SentCount>{sent}</SentCount><ErrorCount>{errors}</ErrorCount>"
            "<CopyrightCheckResult><Count>0</Count><ResultList></ResultList><CheckState>1</CheckState>"
            "</CopyrightCheckResult>"
            f"<ArticleUrlResult><Count>{len(article_urls)}</Count><ResultList>{urls}</ResultList></ArticleUrlResult>"
            "</xml>")


def signature(*parts: str) -> str:
    """WeChat's callback signature: sha1 over the parts sorted as strings and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


@dataclass
class Push:
    """A signed (and in safe mode encrypted) event push, ready to POST."""

    event: str
    ref: str  # the publish_id or msg_id it reports on
    url: str
    params: dict[str, str]
    body: bytes
    xml: str  # the plain XML, kept for inspection
    attempts: int = 0
    outcomes: list[str] = field(default_factory=list)
    delivered: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The push as the inspection API shows it."""
        return {"event": self.event, "ref": self.ref, "url": self.url, "attempts": self.attempts,
                "outcomes": self.outcomes, "delivered": self.delivered, "xml": self.xml,
                "encrypted": "encrypt_type" in self.params}


def build_push(xml: str, *, event: str, ref: str, url: str, token: str, aes_key: str | None, appid: str,
               gh_id: str, nonce: str) -> Push:
    """Sign the push exactly as WeChat does; in safe mode encrypt it with wechatpy's WeChatCrypto."""
    timestamp = str(int(time.time()))
    params = {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
              "openid": MPHELPER_OPENID}
    body = xml
    if aes_key:
        reply = ET.fromstring(WeChatCrypto(token, aes_key, appid).encrypt_message(xml, nonce, timestamp))
        encrypted = reply.findtext("Encrypt") or ""
        params["encrypt_type"] = "aes"
        params["msg_signature"] = reply.findtext("MsgSignature") or ""
        body = f"<xml><ToUserName>{cdata(gh_id)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
    return Push(event, ref, url, params, body.encode(), xml)


def deliver(push: Push, *, timeout: float, retry_delay: float, stopping: threading.Event) -> Push:
    """POST the push, trying up to three times in all; any 2xx answer counts as received."""
    while push.attempts < PUSH_ATTEMPTS and not push.delivered:
        if push.attempts and stopping.wait(retry_delay):
            break
        push.attempts += 1
        try:
            response = requests.post(push.url, params=push.params, data=push.body, timeout=timeout,
                                     headers={"Content-Type": "text/xml; charset=utf-8"})
        except requests.RequestException as exc:
            push.outcomes.append(type(exc).__name__)
            continue
        push.outcomes.append(str(response.status_code))
        push.delivered = 200 <= response.status_code < 300
    return push
