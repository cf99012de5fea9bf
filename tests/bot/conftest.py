"""The chat bot as it runs: aiogram's real Bot and Dispatcher polling the bundled Telegram
simulator over HTTP, the core on the test database, and the outbox's notifications delivered
through the real Telegram channel by an embedded delivery loop (what the worker's job runs)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import Engine

from approvals.bootstrap import Core, bootstrap
from approvals.config.settings import Settings
from approvals.rules.org import OrgChart
from bot.telegram.app import links, make_bot
from bot.telegram.channel import TelegramChannel
from signoff.chatrun import BotThread, DeliveryThread
from signoff.sims.telegram import TelegramSim, TelegramSimConfig
from tests.conftest import EXAMPLE_ORG, Clock, Personas

SECRET = "bot-tests-secret-key-0123456789"
WAIT = 30.0  # generous: CI is a loaded two-core machine


@pytest.fixture
def sim() -> Iterator[TelegramSim]:
    # Update ids as a real bot's: never seen before (the bot remembers handled ones in Redis,
    # which outlives a test).
    first = random.randrange(10**8, 10**9)
    with TelegramSim(TelegramSimConfig(first_update_id=first)) as running:
        yield running


def bot_settings(sim: TelegramSim, engine: Engine, **kw: Any) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False),
                    org_file=EXAMPLE_ORG, notify_channels=["telegram"], secret_key=SECRET,
                    telegram_token=sim.token, telegram_api_base=sim.api_base,
                    console_url="https://console.example.gov.cn/", **kw)


@dataclass
class World:
    """The core, the simulator with every persona's account started, the bot and the delivery."""

    core: Core
    sim: TelegramSim
    settings: Settings
    delivery: DeliveryThread
    ids: dict[str, int]
    storage: BaseStorage
    bots: list[BotThread] = field(default_factory=list)

    @property
    def control(self) -> Any:
        return self.sim.local

    def start_bot(self) -> BotThread:
        # Updates one at a time, in order: a test reads what each one did.
        running = BotThread(self.core, self.settings, self.storage, handle_as_tasks=False).start()
        self.bots.append(running)
        return running

    def messages(self, person: str) -> list[dict[str, Any]]:
        return self.control.messages(self.ids[person])

    def wait_text(self, person: str, fragment: str) -> dict[str, Any]:
        return self.control.wait_text(self.ids[person], fragment, timeout=WAIT)

    def say(self, person: str, text: str) -> None:
        self.control.send_text(self.ids[person], text)


@pytest.fixture
def world(engine: Engine, org: OrgChart, clock: Clock, sim: TelegramSim, who: Personas
          ) -> Iterator[World]:
    settings = bot_settings(sim, engine)
    handoff: list[DeliveryThread] = []
    core = bootstrap(settings, engine=engine, org=org, clock=clock,
                     enqueue=lambda _core: lambda items: handoff[0](list(items)))
    channel = TelegramChannel(core.service.via("chat"), lambda: make_bot(settings), links(settings))

    def move_clock(due: datetime) -> None:  # a retry waits by moving the test clock
        clock.now = max(clock.now, due)

    delivery = DeliveryThread(core, {"telegram": channel}, move_clock)
    handoff.append(delivery)
    ids = {}
    for key, person in org.people.items():
        if person.telegram_id:
            sim.local.add_user(person.telegram_id, person.name, language_code="zh-hans")
            sim.local.start(person.telegram_id)
            ids[key] = person.telegram_id
    w = World(core, sim, settings, delivery, ids, MemoryStorage())
    try:
        yield w
    finally:
        for running in w.bots:
            running.close()
        delivery.close()
