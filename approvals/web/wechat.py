"""`/wechat/callback`: WeChat's server calls it — the echostr handshake (GET) and the pushes
(POST) that say a publication or a mass send finished.

Signed by WeChat, not by a session: no login and no CSRF token. A request must carry a valid
signature made within the window (default ±5 minutes) and never seen before (a Redis key per
timestamp, nonce and signature, kept past the window); the event then goes through the façade
into the poller's own bookkeeping (`Service.wechat_reported`) and is answered "success" at once.
The WeChat side (signature, safe-mode decryption, the XML) is a `CallbackCodec` handed in by the
composition root, so this package never imports wechatpy. Without one the endpoint is 404.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Protocol

import redis
from flask import Blueprint, Flask, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from approvals.rules.errors import InvalidInput, NotAllowed, SignoffError
from approvals.services import Service
from approvals.views import WeChatEvent
from approvals.web.i18n import ui

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__)

MAX_BODY_BYTES = 64 * 1024  # an event is well under 4 KB; anything far larger is not WeChat
SIGNATURE = re.compile(r"[0-9a-f]{40}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
NONCE = re.compile(r"[0-9A-Za-z_-]{1,64}")
ECHOSTR = re.compile(r"[0-9A-Za-z_-]{1,128}")
SEEN_PREFIX = "signoff:wechat-callback:seen:"


class CallbackCodec(Protocol):
    """The WeChat side: signatures, safe-mode decryption and the event XML."""

    def verify(self, signature: str, timestamp: str, nonce: str) -> bool:
        """Whether the request's signature is WeChat's."""

    def open(self, body: bytes, query: Mapping[str, str]) -> WeChatEvent | None:
        """The publishing event a push carries (None: any other message).

        Raises:
            NotAllowed: a safe-mode signature or appid that does not match.
            InvalidInput: malformed XML, or the wrong mode.
        """


class Callback:
    """The configured callback: its codec, the replay window and the Redis that remembers."""

    def __init__(self, codec: CallbackCodec, redis_url: str, window_seconds: int) -> None:
        self.codec = codec
        self.window = window_seconds
        # Built with the app, connected on first use; short timeouts: WeChat waits 5 s at most.
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)

    def first_time(self, timestamp: str, nonce: str, signature: str) -> bool:
        """Remember this signed request; False when it was seen before (a replay).

        Raises:
            redis.RedisError: Redis does not answer.
        """
        key = SEEN_PREFIX + hashlib.sha256(f"{timestamp}|{nonce}|{signature}".encode()).hexdigest()
        return bool(self.redis.set(key, b"1", nx=True, ex=2 * self.window + 60))

    def forget(self, timestamp: str, nonce: str, signature: str) -> None:
        """Let WeChat's retry of a request we could not handle through."""
        key = SEEN_PREFIX + hashlib.sha256(f"{timestamp}|{nonce}|{signature}".encode()).hexdigest()
        try:
            self.redis.delete(key)
        except redis.RedisError:
            log.warning("WeChat callback: Redis did not answer; a retry of this push is refused "
                        "as a replay until the key expires (the poller still follows it)")


def install_callback(app: Flask, codec: CallbackCodec | None) -> None:
    """Register the callback on `app`: configured with `codec`, else answering 404."""
    core = app.extensions["signoff"]
    app.extensions["signoff.wechat_callback"] = None if codec is None else Callback(
        codec, core.settings.redis_url, core.settings.wechat_callback_window_seconds)
    app.extensions["csrf"].exempt(bp)  # signed by WeChat instead
    app.register_blueprint(bp)


def _plain(text: str, status: int = 200) -> Response:
    return Response(text, status, {"Content-Type": "text/plain; charset=utf-8",
                                   "X-Content-Type-Options": "nosniff",
                                   "Cache-Control": "no-store"})


def _refuse(status: int, key: str) -> Response:
    return _plain(ui(key), status)


def _signed(cb: Callback) -> tuple[str, str, str] | Response:
    """(signature, timestamp, nonce) of a request signed by WeChat within the window."""
    signature = request.args.get("signature", "")
    timestamp = request.args.get("timestamp", "")
    nonce = request.args.get("nonce", "")
    if not (SIGNATURE.fullmatch(signature) and TIMESTAMP.fullmatch(timestamp)
            and NONCE.fullmatch(nonce)):
        return _refuse(400, "wechat_bad_request")
    if not cb.codec.verify(signature, timestamp, nonce):
        return _refuse(403, "wechat_bad_signature")
    service: Service = current_app.extensions["signoff.service"]
    if abs(service.now().timestamp() - int(timestamp)) > cb.window:
        return _refuse(403, "wechat_stale")
    return signature, timestamp, nonce


def _callback() -> Callback:
    cb: Callback | None = current_app.extensions.get("signoff.wechat_callback")
    if cb is None:
        abort(404)
    return cb


@bp.get("/wechat/callback")
def handshake() -> Response:
    """WeChat checks the URL: echo `echostr` when the signature is its own."""
    cb = _callback()
    signed = _signed(cb)
    if isinstance(signed, Response):
        return signed
    echostr = request.args.get("echostr", "")
    if not ECHOSTR.fullmatch(echostr):
        return _refuse(400, "wechat_bad_request")
    return _plain(echostr)


@bp.post("/wechat/callback")
def push() -> Response:
    """A pushed message or event: "success" once it is applied (or is none of ours)."""
    cb = _callback()
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _refuse(400, "wechat_too_large")
    signed = _signed(cb)
    if isinstance(signed, Response):
        return signed
    body = request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _refuse(400, "wechat_too_large")
    try:
        if not cb.first_time(*signed):
            return _refuse(403, "wechat_replay")
    except redis.RedisError:
        log.warning("WeChat callback: Redis does not answer; WeChat will retry the push")
        return _refuse(503, "wechat_unavailable")
    try:
        event = cb.codec.open(body, request.args)
        if event is not None:
            current_app.extensions["signoff.service"].wechat_reported(event)
    except NotAllowed:
        return _refuse(403, "wechat_bad_signature")
    except InvalidInput:
        return _refuse(400, "wechat_malformed")
    except (SignoffError, SQLAlchemyError) as exc:
        # Nothing was changed (each step is one transaction): let WeChat's retry through.
        log.warning("WeChat callback: could not apply the event (%s); WeChat will retry",
                    type(exc).__name__)
        cb.forget(*signed)
        return _refuse(503, "wechat_unavailable")
    return _plain("success")
