"""The chat bot inside another program (the demo, the benchmark, the tests): aiogram's Dispatcher
polling a Bot API server on an event loop of its own, on a thread."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

from approvals.bootstrap import Core
from approvals.config.settings import Settings
from approvals.services import Channel
from approvals.views import Handoff, OutboxKind
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


class DeliveryThread:
    """The worker's notification job without RQ: every notification handed off after a commit
    is delivered through `channels` on a thread, in order (the benchmark and the tests; the
    demo and production use RQ). Install it as the core's queue hand-off.

    `wait_until` is called with the time a retry is due (a test moves its clock there)."""

    def __init__(self, core: Core, channels: dict[str, Channel],
                 wait_until: Callable[[datetime], None] | None = None) -> None:
        self.core, self.channels, self.wait_until = core, channels, wait_until
        self.items: queue.Queue[int | None] = queue.Queue()
        self.outcomes: list[str] = []
        self.idle = threading.Event()
        self.idle.set()
        self._thread = threading.Thread(target=self._run, name="signoff-delivery", daemon=True)
        self._thread.start()

    def __call__(self, items: Sequence[Handoff]) -> None:
        """The hand-off: queue each new notification."""
        for item in items:
            if item.kind is OutboxKind.NOTIFY and not item.cancel:
                self.idle.clear()
                self.items.put(item.id)

    def _run(self) -> None:
        while True:
            nid = self.items.get()
            if nid is None:
                return
            try:
                self.outcomes.append(self.core.notifications.deliver(nid, self.channels))
                for pending in self.core.notifications.pending():  # a retry, handed off again
                    if pending.id == nid and pending.due_at > self.core.deps.now() \
                            and self.wait_until is not None:
                        self.wait_until(pending.due_at)
            finally:
                if self.items.empty():
                    self.idle.set()

    def settle(self, timeout: float = START_SECONDS) -> None:
        """Wait until every handed-off notification has had its delivery attempt(s)."""
        if not self.idle.wait(timeout):
            raise TimeoutError("notifications still being delivered")

    def close(self) -> None:
        """Finish what is queued, stop the thread and close the channels."""
        self.items.put(None)
        self._thread.join(START_SECONDS)
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()
