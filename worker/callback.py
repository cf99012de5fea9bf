"""The WeChat side of the console's `/wechat/callback`: the signature, safe-mode decryption and
the event XML, with wechatpy's own tools (`check_signature`, `WeChatCrypto`, `parse_message`).

The console's blueprint (`approvals.web.wechat`) is handed a `CallbackCodec` by the composition
root; the core never imports wechatpy. Every body is first parsed by defusedxml, which refuses a
DTD, entities and external references, so neither wechatpy's xmltodict nor anything else sees an
XML bomb. wechatpy 2.0.0a26 has no class for PUBLISHJOBFINISH (an `UnknownMessage`), and
`MassSendJobFinishEvent` lacks ArticleUrlResult: both are read from the defused tree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from xml.etree.ElementTree import Element  # the type only: parsing is defusedxml's

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as safe_fromstring
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import MassSendJobFinishEvent
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from approvals.config.settings import Settings
from approvals.rules.errors import InvalidInput, NotAllowed, Text
from approvals.views import MassSendFinished, PublishFinished, WeChatEvent

log = logging.getLogger(__name__)

# the docs say PUBLISHJOBFINISH; SDK samples use FREEPUBLISHJOBFINISH: accept both
PUBLISH_EVENTS = frozenset({"publishjobfinish", "freepublishjobfinish"})
MASS_EVENT = "masssendjobfinish"
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_URL = re.compile(r"https?://\S{1,1000}")

MALFORMED = Text("消息格式不正确", "malformed message")
NOT_SAFE_MODE = Text("此回调地址使用安全模式，消息须加密", "this callback expects encrypted (safe mode) "
                     "messages")
NO_SAFE_MODE = Text("此回调地址未配置安全模式（EncodingAESKey）", "this callback is not configured for "
                    "safe mode (no EncodingAESKey)")
BAD_SIGNATURE = Text("签名无效", "invalid signature")


class CallbackCodec:
    """Checks WeChat's signatures and opens its pushes for one official account."""

    def __init__(self, token: str, encoding_aes_key: str | None = None, appid: str = "") -> None:
        self._token = token
        self._crypto = WeChatCrypto(token, encoding_aes_key, appid) if encoding_aes_key else None

    @property
    def safe_mode(self) -> bool:
        """Whether pushes are encrypted (安全模式)."""
        return self._crypto is not None

    def verify(self, signature: str, timestamp: str, nonce: str) -> bool:
        """Whether `signature` is sha1(sorted([token, timestamp, nonce])) (every request has it)."""
        try:
            check_signature(self._token, signature, timestamp, nonce)
        except InvalidSignatureException:
            return False
        return True

    def open(self, body: bytes, query: Mapping[str, str]) -> WeChatEvent | None:
        """The publishing event a verified push carries, or None for any other message.

        Raises:
            NotAllowed: a safe-mode message whose msg_signature or appid does not match.
            InvalidInput: malformed XML (a DTD or entity included), or a mode this URL does not
                use.
        """
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        envelope = _defused(body)
        if self._crypto is None:
            if encrypted:
                raise InvalidInput(NO_SAFE_MODE)
            tree = envelope
            try:
                xml = body.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(MALFORMED) from None
        else:
            if not encrypted or envelope.find("Encrypt") is None:
                raise InvalidInput(NOT_SAFE_MODE)
            xml = self._decrypt(body, query)
            tree = _defused(xml.encode("utf-8"))
        return _event(xml, tree)

    def _decrypt(self, body: bytes, query: Mapping[str, str]) -> str:
        assert self._crypto is not None
        try:
            return str(self._crypto.decrypt_message(
                body, query.get("msg_signature", ""), query.get("timestamp", ""),
                query.get("nonce", "")))
        except (InvalidSignatureException, InvalidAppIdException):
            raise NotAllowed(BAD_SIGNATURE) from None
        except Exception:  # signed, yet undecryptable (bad padding, base64, …)
            raise InvalidInput(MALFORMED) from None


def _defused(data: bytes) -> Element:
    try:
        root = safe_fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError):
        raise InvalidInput(MALFORMED) from None
    if root.tag != "xml":
        raise InvalidInput(MALFORMED)
    return root


def _event(xml: str, tree: Element) -> WeChatEvent | None:
    if (tree.findtext("MsgType") or "").strip().lower() != "event":
        return None  # a follower's message: not ours to answer
    try:
        msg = parse_message(xml)
    except Exception:  # xmltodict on a tree defusedxml accepted: bad fields
        raise InvalidInput(MALFORMED) from None
    name = (tree.findtext("Event") or "").strip().lower()
    if name in PUBLISH_EVENTS:
        return _publish(tree)
    if isinstance(msg, MassSendJobFinishEvent) and name == MASS_EVENT:
        try:
            return _mass(msg, tree)
        except (ValueError, TypeError):  # wechatpy's IntegerField on a field that is no number
            raise InvalidInput(MALFORMED) from None
    return None


def _publish(tree: Element) -> PublishFinished:
    info = tree.find("PublishEventInfo")
    if info is None:
        raise InvalidInput(MALFORMED)
    publish_id = (info.findtext("publish_id") or "").strip()
    status = (info.findtext("publish_status") or "").strip()
    if not _ID.fullmatch(publish_id):
        raise InvalidInput(MALFORMED)
    items = sorted((_int(i.findtext("idx")), (i.findtext("article_url") or "").strip())
                    for i in info.findall("article_detail/item"))
    fail_idx = tuple(_int(f.text) for f in info.findall("fail_idx"))
    article_id = (info.findtext("article_id") or "").strip() or None
    return PublishFinished(publish_id, _int(status), article_id[:128] if article_id else None,
                           _url(items[0][1]) if items else None, fail_idx)


def _mass(msg: MassSendJobFinishEvent, tree: Element) -> MassSendFinished:
    msg_id = str(msg.id)
    if not msg.id or not _ID.fullmatch(msg_id):
        raise InvalidInput(MALFORMED)
    items = sorted((_int(i.findtext("ArticleIdx")), (i.findtext("ArticleUrl") or "").strip())
                    for i in tree.findall("ArticleUrlResult/ResultList/item"))
    return MassSendFinished(msg_id, str(msg.status or "")[:64],
                            _url(items[0][1]) if items else None, int(msg.sent_count),
                            int(msg.error_count))


def _int(text: str | None) -> int:
    # ASCII digits only: isdigit() takes "²" and "٣", which int() refuses or reads as 3.
    value = (text or "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise InvalidInput(MALFORMED)
    return int(value)


def _url(text: str) -> str | None:
    if _URL.fullmatch(text):
        return text
    if text:
        log.warning("WeChat callback: an article link that is not an http(s) URL was ignored")
    return None


def codec_for(settings: Settings) -> CallbackCodec | None:
    """The codec for the configured account, or None when the callback is not configured."""
    if settings.wechat_callback_token is None:
        return None
    key = settings.wechat_encoding_aes_key
    return CallbackCodec(settings.wechat_callback_token.get_secret_value(),
                         key.get_secret_value() if key else None, settings.wechat_appid)
