"""One error type at the WeChat boundary: PublishError(text, permanent)."""

from __future__ import annotations

import requests
from wechatpy.exceptions import WeChatClientException

from approvals.rules.errors import Text

# Worth retrying with backoff: busy, rate limits, token trouble, server and network errors.
TRANSIENT_CODES = frozenset({-1, 45011, 40001, 40014, 42001, 45066, 53501})

KNOWN: dict[int, Text] = {
    -1: Text("微信系统繁忙", "WeChat is busy"),
    40005: Text("图片格式不受支持（仅支持 jpg/png）", "unsupported image type (jpg/png only)"),
    40007: Text("素材或草稿编号无效", "invalid media or draft id"),
    40009: Text("图片过大", "image too large"),
    45009: Text("接口当日调用次数已用完，请明日重试", "the API's daily quota is used up; retry tomorrow"),
    45011: Text("接口调用过于频繁", "API minute quota reached"),
    45028: Text("今日群发次数已用完", "no mass-send quota left today"),
    48001: Text("公众号没有发布接口权限（需认证）", "the account may not use the publishing API "
                "(verification needed)"),
    53503: Text("草稿未通过发布检查", "the draft failed WeChat's publish check"),
}


class PublishError(Exception):
    """A publishing failure: transient ones are retried, permanent ones mark the post failed.

    `errcode` is WeChat's answer when it gave one (None for network and HTTP-level failures).
    """

    def __init__(self, text: Text, permanent: bool, errcode: int | None = None) -> None:
        super().__init__(text.en)
        self.text = text
        self.permanent = permanent
        self.errcode = errcode


def from_wechat(exc: WeChatClientException, doing: Text) -> PublishError:
    """Classify a wechatpy error raised while `doing` something."""
    code = exc.errcode
    if code is None:  # a non-2xx answer: the platform's side is failing
        return PublishError(Text(f"{doing.zh}时微信返回服务器错误", f"WeChat answered with a server "
                                 f"error while {doing.en}"), permanent=False)
    known = KNOWN.get(int(code), Text(str(exc.errmsg), str(exc.errmsg)))
    text = Text(f"{doing.zh}失败：{known.zh}（错误码 {code}）",
                f"{doing.en} failed: {known.en} (errcode {code})")
    return PublishError(text, permanent=int(code) not in TRANSIENT_CODES, errcode=int(code))


def from_network(exc: requests.RequestException, doing: Text) -> PublishError:
    """A network failure is transient."""
    return PublishError(Text(f"{doing.zh}时网络错误：{type(exc).__name__}",
                             f"network error while {doing.en}: {type(exc).__name__}"),
                        permanent=False)


class LostClaim(Exception):
    """The post is no longer this worker's (its publication was cancelled, or another worker took
    it over after our lease ran out): stop without touching it, and never submit."""


class Unconfirmed(Exception):
    """WeChat may hold the post, and nothing can confirm it: a person checks the account."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


def never_sent(exc: requests.RequestException) -> bool:
    """Whether the request provably never reached WeChat (no connection was made).

    A refused or timed-out connection is a clear "no"; a timeout while waiting for the answer,
    or a connection dropped after the request went out, is a lost reply: the outcome is unknown.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
        text = str(exc)
        return any(sign in text for sign in ("NewConnectionError", "Failed to establish a new "
                                             "connection", "Connection refused"))
    return False
