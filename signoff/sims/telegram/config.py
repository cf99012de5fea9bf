"""The simulator's settings: one dataclass, partly changeable at run time through the control API."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")  # aiogram accepts `<digits>:<non-empty>`, as Telegram issues
DEFAULT_TOKEN = "7000000001:SIMsignoffAAFakeTokenForLocalTests01"
FROZEN_AT_RUN_TIME = ("tokens", "bot_first_name", "bot_username")


@dataclass
class TelegramSimConfig:
    """Settings of one simulated Bot API server (one or more bots)."""

    tokens: tuple[str, ...] = (DEFAULT_TOKEN,)
    bot_first_name: str = "Signoff"
    # the first bot's username; further bots get `signoff_sim_<id>_bot`
    bot_username: str = "signoff_sim_bot"
    # real Telegram wants HTTPS on 443/80/88/8443; a local sim talks to a plain loopback server
    webhook_require_https: bool = False
    webhook_timeout_seconds: float = 5.0
    webhook_retry_delay_seconds: float = 0.2
    # Telegram repeats a failed push "and gives up after a reasonable amount of attempts"
    webhook_max_attempts: int = 5
    # a callback query unanswered this long can no longer be answered ("query is too old")
    callback_answer_window_seconds: float = 900.0
    first_update_id: int = 600_000_001

    def validate(self) -> None:
        """Check values that would otherwise fail later, far from their cause.

        Raises:
            ValueError: a value is out of range.
        """
        if not self.tokens:
            raise ValueError("at least one bot token is needed")
        for token in self.tokens:
            if not TOKEN_RE.match(token):
                raise ValueError(f"a bot token looks like <digits>:<secret>, not {token!r}")
        ids = [token.split(":", 1)[0] for token in self.tokens]
        if len(set(ids)) != len(ids):
            raise ValueError("two tokens name the same bot id")
        for name in ("webhook_timeout_seconds", "webhook_retry_delay_seconds", "callback_answer_window_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.webhook_max_attempts < 1:
            raise ValueError("webhook_max_attempts must be at least 1")

    def updated(self, changes: dict[str, Any]) -> TelegramSimConfig:
        """Return a copy with `changes` applied and validated (the bots themselves stay as started).

        Raises:
            ValueError: an unknown or frozen field, or a bad value.
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        frozen = sorted(set(changes) & set(FROZEN_AT_RUN_TIME))
        if frozen:
            raise ValueError(f"{', '.join(frozen)} cannot change while the simulator runs")
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def as_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        doc = dataclasses.asdict(self)
        doc["tokens"] = list(self.tokens)
        return doc
