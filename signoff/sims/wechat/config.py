"""The simulator's settings: one dataclass, changeable at run time through the control API."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class SimConfig:
    """Settings of one simulated Official Account."""

    appid: str = "wxsim0000000000001"
    secret: str = "sim-secret"
    token_expires_in: int = 7200
    # the real platform keeps the superseded token alive "within 5 minutes" of a refresh
    token_grace_seconds: float = 300.0
    token_daily_quota: int = 2000
    callback_url: str | None = None
    callback_token: str = "signoffcallback"  # WeChat: 3–32 letters or digits
    # 43 characters switch pushes to safe mode (AES, as wechatpy.crypto.WeChatCrypto does it)
    encoding_aes_key: str | None = None
    callback_timeout_seconds: float = 5.0
    callback_retry_delay_seconds: float = 0.2
    # the docs say PUBLISHJOBFINISH; one SDK and one report say FREEPUBLISHJOBFINISH
    publish_event: str = "PUBLISHJOBFINISH"
    publish_delay_seconds: float = 0.5
    mass_daily_quota: int = 1
    mass_send_delay_seconds: float = 0.5
    follower_count: int = 1280
    gh_id: str = "gh_signoffsim0001"
    random_seed: int | None = None

    def validate(self) -> None:
        """Check values that would otherwise fail later, far from their cause.

        Raises:
            ValueError: a value is out of range.
        """
        if self.encoding_aes_key is not None and len(self.encoding_aes_key) != 43:
            raise ValueError("encoding_aes_key must be 43 characters (or None for plain-text pushes)")
        for name in ("token_grace_seconds", "publish_delay_seconds", "mass_send_delay_seconds",
                     "callback_timeout_seconds", "callback_retry_delay_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.token_expires_in <= 0:
            raise ValueError("token_expires_in must be positive")

    def updated(self, changes: dict[str, Any]) -> SimConfig:
        """Return a copy with `changes` applied and validated.

        Raises:
            ValueError: an unknown field or a bad value.
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def as_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return dataclasses.asdict(self)
