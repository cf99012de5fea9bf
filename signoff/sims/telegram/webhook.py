"""Webhook mode: a bot's updates POSTed to its URL one at a time, in order, retried on failure."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import requests

from .dispatch import execute
from .errors import BotApiError
from .params import Params

if TYPE_CHECKING:
    from .bots import BotState
    from .models import Update
    from .state import SimState

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookSender(threading.Thread):
    """Delivers one bot's pending updates to the webhook it set, until the webhook changes or the sim stops."""

    def __init__(self, state: SimState, bot: BotState) -> None:
        super().__init__(name=f"telegram-sim-webhook-{bot.id}", daemon=True)
        self.state = state
        self.bot = bot
        self.generation = state.generation
        self.webhook_generation = bot.webhook_generation

    def stale(self) -> bool:
        """Whether this sender should stop: the sim stopped or was reset, or the webhook was set or deleted."""
        return (self.state.stopping.is_set() or self.state.generation != self.generation
                or self.bot.webhook_generation != self.webhook_generation or self.bot.webhook is None)

    def run(self) -> None:
        """Deliver the oldest pending update; on success drop it (an echo comes once more), else retry."""
        state, bot = self.state, self.bot
        attempts: list[str] = []
        while True:
            with state.cond:
                state.cond.wait_for(lambda: self.stale() or bool(bot.deliverable(1)))
                if self.stale() or bot.webhook is None:
                    return
                update = bot.deliverable(1)[0]
                url, secret = bot.webhook.url, bot.webhook.secret_token
                timeout = state.config.webhook_timeout_seconds
            outcome, reply = _post(url, secret, update.as_update(), timeout)
            attempts.append(outcome)
            with state.cond:
                if self.stale():
                    return
                delivered = outcome.startswith("2")
                if not delivered and bot.webhook is not None:
                    bot.webhook.last_error_date = int(time.time())
                    bot.webhook.last_error_message = _error_message(outcome)
                if delivered or len(attempts) >= state.config.webhook_max_attempts:
                    bot.deliveries.append({"update_id": update.update_id, "url": url, "attempts": len(attempts),
                                           "outcomes": attempts, "delivered": delivered})
                    _done(bot, update, delivered)
                    attempts = []
                state.cond.notify_all()
                retry_delay = state.config.webhook_retry_delay_seconds
            if delivered:
                _answer_in_reply(state, bot, reply)
            elif attempts and state.stopping.wait(retry_delay):
                return


def _done(bot: BotState, update: Update, delivered: bool) -> None:
    """Take a delivered (or given up) update off the queue; a delivered one marked to echo stays for one more round."""
    if delivered and update.echo:
        update.echo = False
    elif update in bot.updates:
        bot.updates.remove(update)


def _post(url: str, secret: str | None, doc: dict[str, Any], timeout: float) -> tuple[str, bytes]:
    """POST one update; the outcome is the HTTP status, or the name of the network error."""
    headers = {"Content-Type": "application/json"}
    if secret:
        headers[SECRET_HEADER] = secret
    try:
        response = requests.post(url, data=json.dumps(doc, ensure_ascii=False).encode(), headers=headers,
                                 timeout=timeout)
    except requests.RequestException as exc:
        return type(exc).__name__, b""
    return str(response.status_code), response.content


def _error_message(outcome: str) -> str:
    if outcome.isdigit():
        return f"Wrong response from the webhook: {outcome}"
    return "Connection refused" if outcome == "ConnectionError" else f"Connection error: {outcome}"


def _answer_in_reply(state: SimState, bot: BotState, reply: bytes) -> None:
    """Run a method the bot answered the webhook with (`{"method": "sendMessage", ...}`), as Telegram does."""
    try:
        doc = json.loads(reply or b"{}")
    except ValueError:
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("method"), str):
        return
    name = doc.pop("method")
    try:
        execute(state, bot, name, Params(doc))
    except BotApiError as error:
        with state.lock:
            bot.deliveries.append({"reply_method": name, "error": error.description})
