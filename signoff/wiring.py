"""The composition root: the core with its queue hand-off, as every `signoff` command builds it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from approvals.bootstrap import Core
from approvals.config.settings import Settings
from approvals.rules.org import OrgChart
from approvals.services import Channel
from worker.context import build_core as _build_core


def build_core(settings: Settings, *, engine: Engine | None = None, org: OrgChart | None = None,
               clock: Callable[[], datetime] | None = None, check_schema: bool = True) -> Core:
    """The core for `settings`; what a command commits is handed to the RQ queue at once."""
    return _build_core(settings, engine=engine, org=org, clock=clock, check_schema=check_schema)


def chat_channels(settings: Settings) -> dict[str, Callable[[Core], Channel]]:
    """The chat channels switched on in `settings`, as the worker builds them around its core."""
    if "telegram" not in settings.notify_channels:
        return {}
    from bot.telegram.app import links, make_bot
    from bot.telegram.channel import TelegramChannel

    def telegram(core: Core) -> Channel:
        return TelegramChannel(core.service.via("chat"), lambda: make_bot(settings), links(settings))

    return {"telegram": telegram}
