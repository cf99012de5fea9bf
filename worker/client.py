"""A wechatpy client that talks to the configured base URL, shares tokens across workers, and
never retries a token error forever."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import requests
from redis import Redis
from redis.exceptions import LockError
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from worker.scrub import scrubbed

# Token errors on business APIs: invalid or superseded, malformed, expired.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})


class SignoffWeChatClient(WeChatClient):
    """WeChatClient with the fixes signoff needs.

    - The token fetch goes to the configured base URL (wechatpy hard-codes the real host there).
    - Tokens live in Redis (wechatpy's RedisStorage), and a refresh happens under a Redis lock:
      the platform invalidates the previous token on every fetch, so N workers refreshing on
      their own would keep invalidating each other's tokens.
    - A token error is retried a bounded number of times (wechatpy's own retry never stops).
    """

    def __init__(self, appid: str, secret: str, *, api_base: str, redis: Redis,
                 timeout: float = 15.0, token_retries: int = 2) -> None:
        super().__init__(appid, secret, session=RedisStorage(redis, prefix="signoff:wechat"),
                         timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base
        # Proxies and the CA bundle come from the environment once, not on every call (requests
        # re-reads and re-parses the whole environment per request otherwise).
        self._http.proxies = requests.utils.get_environ_proxies(api_base)
        self._http.verify = os.environ.get("REQUESTS_CA_BUNDLE") or \
            os.environ.get("CURL_CA_BUNDLE") or True
        self._http.trust_env = False
        self._redis = redis
        self._token_retries = token_retries
        self._stale: str | None = None

    def fetch_access_token(self) -> dict[str, Any]:
        """A valid token: the one another worker just fetched, or a new one from the base URL."""
        lock = self._redis.lock(f"signoff:wechat:{self.appid}:token-refresh", timeout=30,
                                blocking_timeout=35)
        if not lock.acquire():
            raise WeChatClientException(None, "timed out waiting for the token refresh lock")
        try:
            current = self.session.get(self.access_token_key)
            remaining = (self.expires_at or 0) - time.time()
            if current and current != self._stale and remaining > 60:
                return {"access_token": current, "expires_in": int(remaining)}
            try:
                return self._fetch_access_token(
                    url=self.API_BASE_URL + "token",
                    params={"grant_type": "client_credential", "appid": self.appid,
                            "secret": self.secret},
                )
            except WeChatClientException as exc:
                raise _detached(exc) from None
            except requests.RequestException as exc:
                raise scrubbed(exc) from None  # its message holds the URL with the app secret
        finally:
            with contextlib.suppress(LockError):  # it expired while we fetched: nothing to release
                lock.release()

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        for attempt in range(self._token_retries + 1):
            used = self.access_token
            params = dict(kwargs.get("params") or {})
            params["access_token"] = used
            try:
                return super()._request(method, url_or_endpoint, **{**kwargs, "params": params})
            except WeChatClientException as exc:
                if exc.errcode not in TOKEN_ERRORS or attempt == self._token_retries:
                    raise _detached(exc) from None
                self._stale = used  # refresh unless another worker already has
                self.fetch_access_token()
            except requests.RequestException as exc:
                raise scrubbed(exc) from None  # its message holds the URL with the access token
        raise AssertionError("unreachable")  # pragma: no cover


def _detached(exc: WeChatClientException) -> WeChatClientException:
    """wechatpy raises inside `except requests...`: drop that context (the URL with the token)."""
    exc.__context__ = None
    exc.__cause__ = None
    exc.request = None  # its URL carries the token; the response (45065's msg_id) stays
    return exc
