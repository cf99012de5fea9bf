"""WeChat's business errors: HTTP 200 bodies carrying errcode and an errmsg that ends in a request id."""

from __future__ import annotations

import random
import time
from typing import Any

# errmsg texts as the platform writes them (facts file §1.3, §7 and community captures)
ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40005: "invalid file type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40012: "invalid thumb size",
    40013: "invalid appid",
    40014: "invalid access_token",
    40033: "invalid charset. please check your request, if include \\uxxxx will create fail!",
    40059: "invalid msg id",
    40114: "invalid index value",
    40125: "invalid appsecret",
    40152: "invalid tag_id",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    41039: "invalid content_source_url",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    44001: "empty media data",
    44002: "empty post data",
    44003: "empty news data",
    45002: "content size out of limit",
    45003: "title size out of limit",
    45004: "description size out of limit",
    45005: "url size out of limit",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    45028: "has no masssend quota",
    45065: "clientmsgid exist",
    45066: "same clientmsgid retry too fast",
    45067: "clientmsgid size out of limit",
    45110: "author size out of limit",
    45166: "invalid content",
    47001: "data format error",
    48001: "api unauthorized",
    53500: "publish is banned",
    53501: "publish too frequently",
    53502: "invalid publish_id",
    53600: "invalid article_id",
}

_rng = random.SystemRandom()


def rid() -> str:
    """A request id shaped like the platform's (`xxxxxxxx-xxxxxxxx-xxxxxxxx`)."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}-{_rng.getrandbits(32):08x}-{_rng.getrandbits(32):08x}"


def errmsg(code: int, text: str | None = None) -> str:
    """The errmsg for `code`, with the trailing rid the platform appends."""
    return f"{text or ERRMSG.get(code, 'unknown error')} rid: {rid()}"


class ApiError(Exception):
    """A business error the simulated API answers with (HTTP 200, non-zero errcode)."""

    def __init__(self, errcode: int, text: str | None = None, **extra: Any) -> None:
        super().__init__(errcode, text)
        self.errcode = errcode
        self.text = text
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON document sent to the client."""
        return {"errcode": self.errcode, "errmsg": errmsg(self.errcode, self.text), **self.extra}
