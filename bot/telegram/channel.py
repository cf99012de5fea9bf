"""The Telegram channel of the notification outbox: what the worker's delivery jobs send through.

The worker is synchronous; aiogram is not. The channel keeps one event loop on a thread of its
own, with one Bot (and its connection pool) on it, and each delivery waits for its coroutine. A
job's messages to several chats are in flight together (`deliver_many`), each chat's in order.

Answers are told apart from unknowns. Telegram answering an error is a clear "not sent": 429 is
retried after its retry_after, 5xx and a refused connection after a backoff, a blocked bot or an
unknown chat fail for good. A request that went out and lost its answer (a dropped connection, a
timeout) may have been delivered: it is reported as uncertain, never sent a second time, and so
is an attempt that an earlier, interrupted one may have sent.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiohttp import ClientConnectorError

from approvals.rules.errors import SignoffError
from approvals.rules.notices import Event
from approvals.services import Service
from approvals.views import Delivered, Delivery, Message, Permanent, RetryAfter, Uncertain
from bot.cards import Card, Links, post_card
from bot.telegram.render import pieces

log = logging.getLogger("signoff.bot.channel")
T = TypeVar("T")
SEND_TIMEOUT = 30.0


def _not_sent(exc: TelegramNetworkError) -> bool:
    """Whether the request never reached the server (so sending again cannot duplicate it)."""
    return isinstance(exc.__cause__, ClientConnectorError)


class TelegramChannel:
    """Delivers outbox notifications as Telegram messages; step notices carry decision buttons."""

    name = "telegram"

    def __init__(self, service: Service, make_bot: Callable[[], Bot], links: Links) -> None:
        self.service = service
        self._make_bot = make_bot
        self.links = links
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bot: Bot | None = None
        self._lock = threading.Lock()

    # --- the Channel port -------------------------------------------------------------------------

    def deliver(self, message: Message) -> Delivery:
        """Send one notification; never raises for an answer it can describe."""
        return self.deliver_many([message])[0]

    def deliver_many(self, messages: Sequence[Message]) -> list[Delivery]:
        """Send several notifications at once, an answer each: the chats' requests are in
        flight together, and each chat gets its messages in the order given."""
        answers: dict[int, Delivery] = {}
        chats: dict[int, list[tuple[int, Card]]] = {}
        for i, message in enumerate(messages):
            if message.address is None:
                answers[i] = Permanent(f"{message.person.key} has no Telegram account linked")
            elif message.interrupted:
                answers[i] = Uncertain("an earlier attempt was interrupted after asking "
                                       "Telegram; check the person's chat before sending again")
            else:
                chats.setdefault(message.address, []).append((i, self.card(message)))
        if chats:
            try:
                answers.update(self._run(self._send_chats(chats)))
            except TimeoutError:  # no answer in time: a lost reply, never a clear no
                answers.update((i, Uncertain("Telegram did not answer in time; it may hold the "
                                             "message")) for cards in chats.values() for i, _ in cards)
        return [answers[i] for i in range(len(messages))]

    async def _send_chats(self, chats: dict[int, list[tuple[int, Card]]]
                          ) -> list[tuple[int, Delivery]]:
        async def one_chat(chat_id: int, cards: list[tuple[int, Card]]
                           ) -> list[tuple[int, Delivery]]:
            out: list[tuple[int, Delivery]] = []
            for i, card in cards:
                try:
                    out.append((i, await self._send(chat_id, card)))
                except Exception as exc:  # unforeseen: retried, as the core retries one alone
                    out.append((i, RetryAfter(0, f"{type(exc).__name__}")))
            return out

        done = await asyncio.gather(*(one_chat(c, cards) for c, cards in chats.items()))
        return [pair for chat in done for pair in chat]

    def card(self, message: Message) -> Card:
        """The notification's text; a step that opened (or a reminder of it) gets the links and
        the decision buttons."""
        if message.event not in (Event.STEP_OPENED, Event.REMINDER):
            return Card(message.text)
        try:
            return post_card(self.service, message.post_id, message.person.key, message.language,
                             message.text, self.links)
        except SignoffError:  # the post is gone: the text alone
            return Card(message.text)

    async def _send(self, chat_id: int, card: Card) -> Delivery:
        bot = self._bot
        assert bot is not None
        refs = []
        try:
            for text, markup in pieces(card):
                sent = await bot.send_message(chat_id, text, reply_markup=markup)
                refs.append(f"{chat_id}:{sent.message_id}")
        except TelegramRetryAfter as exc:
            return self._partial(refs) or RetryAfter(exc.retry_after, "Telegram: too many requests")
        except (TelegramForbiddenError, TelegramNotFound, TelegramUnauthorizedError) as exc:
            return self._partial(refs) or Permanent(f"Telegram: {exc.message}")
        except TelegramBadRequest as exc:
            return self._partial(refs) or Permanent(f"Telegram: {exc.message}")
        except TelegramServerError as exc:
            return self._partial(refs) or RetryAfter(0, f"Telegram: {exc.message}")
        except TelegramNetworkError as exc:
            if _not_sent(exc):
                return self._partial(refs) or RetryAfter(0, "Telegram unreachable")
            return Uncertain(f"the answer was lost ({exc.message}); Telegram may hold the message")
        except TelegramAPIError as exc:
            return self._partial(refs) or RetryAfter(0, f"Telegram: {exc.message}")
        return Delivered(" ".join(refs))

    @staticmethod
    def _partial(refs: list[str]) -> Delivery | None:
        """A long message cut in pieces of which some went out: never send those again."""
        if refs:
            return Uncertain(f"only the first {len(refs)} piece(s) were sent ({' '.join(refs)})")
        return None

    # --- the loop thread ---------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._start()
        return asyncio.run_coroutine_threadsafe(coro, loop).result(SEND_TIMEOUT * 4)

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="telegram-channel",
                                                daemon=True)
                self._thread.start()
                self._bot = self._make_bot()
                self._loop = loop
            return self._loop

    def close(self) -> None:
        """Close the Bot's connections and stop the loop thread."""
        with self._lock:
            loop, bot, thread = self._loop, self._bot, self._thread
            self._loop, self._bot, self._thread = None, None, None
        if loop is None or thread is None:
            return
        if bot is not None:
            asyncio.run_coroutine_threadsafe(bot.session.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
