"""A client of the simulator's control API (`/_sim/*`), usable from any process.

Its methods match `LocalControl`'s one for one: same arguments, same JSON-ready results.
"""

from __future__ import annotations

import base64
from typing import Any

import requests

from .errors import SimError, SimTimeout
from .local import WAIT_SECONDS

TIMEOUT_SECONDS = 10
WAIT_MARGIN_SECONDS = 10  # the HTTP timeout of a wait call: the wait itself plus this


class TelegramSimControl:
    """Steer and inspect a running simulator over HTTP, for one of its bots (the first when token is None)."""

    def __init__(self, root_url: str, token: str | None = None) -> None:
        self.root_url = root_url.rstrip("/")
        self.token = token

    def _query(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {}

    def _act(self, action: str, http_timeout: float = TIMEOUT_SECONDS, **kwargs: Any) -> Any:
        # None is sent as null: every optional argument of LocalControl defaults to None (or means None)
        response = requests.post(f"{self.root_url}/_sim/{action}", params=self._query(), json=kwargs,
                                 timeout=http_timeout)
        if response.status_code == 408:
            raise SimTimeout(response.json()["error"])
        if response.status_code >= 400:
            # the simulator's reason (an unknown user, a button not on the message) rather than a bare status
            raise SimError(response.json().get("error", response.text))
        return response.json()["result"]

    # users -------------------------------------------------------------------------------------------

    def add_user(self, user_id: int, first_name: str, last_name: str | None = None, username: str | None = None,
                 language_code: str | None = None) -> dict[str, Any]:
        """Create (or update) a Telegram user; returns the User object."""
        return self._act("add_user", user_id=user_id, first_name=first_name, last_name=last_name,
                         username=username, language_code=language_code)

    def start(self, user_id: int, payload: str | None = None) -> dict[str, Any]:
        """The user starts the bot: `/start` or `/start <payload>`; a blocked bot is unblocked."""
        return self._act("start", user_id=user_id, payload=payload)

    def block(self, user_id: int) -> dict[str, Any] | None:
        """The user blocks the bot."""
        return self._act("block", user_id=user_id)

    def unblock(self, user_id: int) -> dict[str, Any] | None:
        """The user unblocks the bot."""
        return self._act("unblock", user_id=user_id)

    def send_text(self, user_id: int, text: str, reply_to_message_id: int | None = None) -> dict[str, Any]:
        """The user writes in the private chat; returns the update."""
        return self._act("send_text", user_id=user_id, text=text, reply_to_message_id=reply_to_message_id)

    def send_document(self, user_id: int, data: bytes, file_name: str, mime_type: str | None = None,
                      caption: str | None = None, size: int | None = None) -> dict[str, Any]:
        """The user sends a file; `size` may claim more than `data` holds."""
        return self._act("send_document", user_id=user_id, data_base64=base64.b64encode(data).decode(),
                         file_name=file_name, mime_type=mime_type, caption=caption, size=size)

    def send_photo(self, user_id: int, data: bytes, caption: str | None = None) -> dict[str, Any]:
        """The user sends a photo."""
        return self._act("send_photo", user_id=user_id, data_base64=base64.b64encode(data).decode(),
                         caption=caption)

    # buttons -----------------------------------------------------------------------------------------

    def press(self, chat_id: int, message_id: int, *, data: str | None = None, text: str | None = None,
              user_id: int | None = None) -> dict[str, Any]:
        """Press a callback button on the message's current keyboard, by its data or label (SimError if absent)."""
        return self._act("press", chat_id=chat_id, message_id=message_id, data=data, text=text, user_id=user_id)

    def press_forged(self, chat_id: int, message_id: int, data: str, user_id: int | None = None) -> dict[str, Any]:
        """A callback query with any data on a bot message, button or not."""
        return self._act("press_forged", chat_id=chat_id, message_id=message_id, data=data, user_id=user_id)

    # reading and waiting -----------------------------------------------------------------------------

    def chat(self, chat_id: int) -> dict[str, Any]:
        """The chat with a user: the bot's messages (current text, markup, history), the user's, callbacks."""
        return self._act("chat", chat_id=chat_id)

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in a chat, oldest first."""
        return self._act("messages", chat_id=chat_id)

    def wait_messages(self, chat_id: int, count: int = 1, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        """Wait (server-side, no polling) until the bot sent at least `count` messages in the chat."""
        return self._act("wait_messages", timeout + WAIT_MARGIN_SECONDS, chat_id=chat_id, count=count,
                         timeout=timeout)

    def wait_text(self, chat_id: int, fragment: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """Wait until a bot message in the chat shows `fragment`; returns that message."""
        return self._act("wait_text", timeout + WAIT_MARGIN_SECONDS, chat_id=chat_id, fragment=fragment,
                         timeout=timeout)

    def wait_answer(self, callback_query_id: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """Wait until the bot answered a callback query; returns the query with its answer."""
        return self._act("wait_answer", timeout + WAIT_MARGIN_SECONDS, callback_query_id=callback_query_id,
                         timeout=timeout)

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes of a file the bot or a user sent."""
        response = requests.get(f"{self.root_url}/_sim/files/{file_id}", params=self._query(),
                                timeout=TIMEOUT_SECONDS)
        if response.status_code != 200:
            raise SimError(response.json().get("error", response.text))
        return response.content

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued for the bot and not yet confirmed."""
        return self._act("pending_updates")

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Each webhook delivery finished so far: update_id, attempts, outcomes, delivered."""
        return self._act("webhook_deliveries")

    # faults, counters, settings ----------------------------------------------------------------------

    def inject(self, method: str, kind: str, times: int | None = 1, **params: Any) -> dict[str, Any]:
        """Make the next `times` calls (None: until cleared) of `method` ("*": any) fail as `kind` says."""
        return self._act("inject", method=method, kind=kind, times=times, **params)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._act("clear_faults")

    def faults(self) -> list[dict[str, Any]]:
        """The faults still active."""
        return self._act("faults")

    def calls(self, method: str | None = None) -> int:
        """How many Bot API requests `method` received (all methods when None)."""
        return self._act("calls", method=method)

    def call_counts(self) -> dict[str, int]:
        """Requests per method name."""
        return self._act("call_counts")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings at run time."""
        return self._act("configure", **changes)

    def snapshot(self) -> dict[str, Any]:
        """Everything at once: config, users, bots, calls, faults."""
        return self._act("snapshot")

    def reset(self) -> None:
        """Forget users, chats, updates, webhooks, faults and counters."""
        self._act("reset")
