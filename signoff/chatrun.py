"""The chat bot inside another program (the demo, the benchmark, the tests): aiogram's Dispatcher
polling a Bot API server on an event loop of its own, on a thread."""

from __future__ import annotations

import asyncio
import threading

from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

from approvals.bootstrap import Core
from approvals.config.settings import Settings
from bot.telegram.app import make_bot, make_dispatcher, poll

START_SECONDS = 30.0


class BotThread:
    """`signoff bot` on a background thread: start() returns once it polls, close() stops it."""

    def __init__(self, core: Core, settings: Settings, storage: BaseStorage | None = None, *,
                 handle_as_tasks: bool = True, polling_timeout: int = 1) -> None:
        self.bot = make_bot(settings)
        self.dp = make_dispatcher(core.service, settings, storage or MemoryStorage())
        self.handle_as_tasks = handle_as_tasks
        self.polling_timeout = polling_timeout
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> BotThread:
        """Start polling; returns when the loop runs."""
        ready = threading.Event()

        async def main() -> None:
            self._stop = asyncio.Event()
            ready.set()
            try:
                await poll(self.bot, self.dp, stop=self._stop, polling_timeout=self.polling_timeout,
                           handle_as_tasks=self.handle_as_tasks)
            finally:
                await self.bot.session.close()

        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),),
                                        name="signoff-bot", daemon=True)
        self._thread.start()
        if not ready.wait(START_SECONDS):
            raise RuntimeError("the bot did not start")
        return self

    def close(self) -> None:
        """Stop polling (the update being handled is finished first) and free the loop."""
        if self._thread is None or self._stop is None:
            return
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_SECONDS)
        if self._thread.is_alive():
            raise RuntimeError("the bot did not stop")
        self._thread = None
        self.loop.close()

    def __enter__(self) -> BotThread:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()
