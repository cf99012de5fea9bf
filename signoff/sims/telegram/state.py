"""The simulator's in-memory state: users, bots, faults and counters, under one lock and one condition."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from .bots import BotState
from .config import TelegramSimConfig
from .errors import SimError, SimTimeout
from .faults import FaultBook
from .models import SimUser, Update
from .webhook import WebhookSender


class SimState:
    """Everything the simulated server holds.

    Handlers run under `lock`; anything that changes what a waiter waits for (an update queued, a
    message sent, a query answered) is followed by `cond.notify_all()`, so long polls and the
    control API's wait helpers wake at once instead of polling.
    """

    def __init__(self, config: TelegramSimConfig) -> None:
        config.validate()
        self.initial_config = config
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.generation = 0  # bumped by reset(): long polls, waits and senders of the old state let go
        self._senders: list[WebhookSender] = []
        self._clear(config)

    def _clear(self, config: TelegramSimConfig) -> None:
        self.config = config
        self.users: dict[int, SimUser] = {}
        self.bots: dict[str, BotState] = {}
        for index, token in enumerate(config.tokens):
            bot_id = token.split(":", 1)[0]
            username = config.bot_username if index == 0 else f"signoff_sim_{bot_id}_bot"
            self.bots[token] = BotState(token, config.bot_first_name, username, config.first_update_id)
        self.faults = FaultBook()
        self.calls: Counter[str] = Counter()

    # lookups ---------------------------------------------------------------------------------------

    def bot(self, token: str | None = None) -> BotState:
        """The bot with this token (the first configured one when None).

        Raises:
            SimError: no bot has this token.
        """
        if token is None:
            return next(iter(self.bots.values()))
        try:
            return self.bots[token]
        except KeyError:
            raise SimError(f"no bot has the token {token!r}") from None

    def user(self, user_id: int) -> SimUser:
        """A user added with add_user.

        Raises:
            SimError: no such user.
        """
        try:
            return self.users[int(user_id)]
        except (KeyError, TypeError, ValueError):
            raise SimError(f"no user {user_id!r}: add_user first") from None

    # updates ---------------------------------------------------------------------------------------

    def queue_update(self, bot: BotState, kind: str, payload: dict[str, Any]) -> Update | None:
        """Queue an update for `bot` (doubled when a duplicate_updates fault fires) and wake its poller."""
        with self.lock:
            if kind not in bot.allowed_updates:
                return None
            echo = self.faults.fire("getUpdates", "duplicate_updates") is not None
            update = bot.queue(kind, payload, echo=echo)
            self.cond.notify_all()
            return update

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Block until `predicate()` holds (checked under the lock at every change).

        Raises:
            SimTimeout: it did not hold within `timeout` seconds, or the simulator stopped or was reset.
        """
        with self.cond:
            generation = self.generation
            done = self.cond.wait_for(
                lambda: self.stopping.is_set() or self.generation != generation or predicate(), timeout)
            if not done or self.stopping.is_set() or self.generation != generation or not predicate():
                raise SimTimeout(f"waited {timeout:g} s for {what}")

    # webhooks --------------------------------------------------------------------------------------

    def start_sender(self, bot: BotState) -> None:
        """Start delivering `bot`'s updates to its (just set) webhook on a thread of their own."""
        with self.lock:
            self._senders = [s for s in self._senders if s.is_alive()]
            sender = WebhookSender(self, bot)
            self._senders.append(sender)
            sender.start()

    # lifecycle -------------------------------------------------------------------------------------

    def configure(self, changes: dict[str, Any]) -> TelegramSimConfig:
        """Change settings at run time.

        Raises:
            ValueError: an unknown or frozen field, or a bad value.
        """
        with self.lock:
            self.config = self.config.updated(changes)
            return self.config

    def reset(self) -> None:
        """Forget users, chats, updates, webhooks, faults and counters; back to the initial settings."""
        with self.lock:
            self.generation += 1
            self._clear(self.initial_config)
            self.cond.notify_all()
        self._join_senders()

    def close(self) -> None:
        """Wake every long poll and waiter so they answer now, and stop webhook senders."""
        with self.lock:
            self.stopping.set()
            self.cond.notify_all()
        self._join_senders()

    def _join_senders(self) -> None:
        for sender in list(self._senders):
            sender.join(timeout=10)
        with self.lock:
            self._senders = [s for s in self._senders if s.is_alive()]

    # inspection ------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The inspection document of GET /_sim/state."""
        with self.lock:
            return {
                "config": self.config.as_dict(),
                "users": [u.as_user() for u in self.users.values()],
                "bots": {str(b.id): b.summary() for b in self.bots.values()},
                "calls": dict(self.calls),
                "faults": [f.as_dict() for f in self.faults.faults],
            }
