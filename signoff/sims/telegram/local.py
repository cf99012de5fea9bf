"""The control API in-process: what users do, what a test reads and waits for, faults and counters.

`LocalControl` and the HTTP client `TelegramSimControl` offer the same methods with the same
arguments and return the same JSON-ready values; the HTTP control endpoints call this class.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from .bots import BotState, ChatState
from .errors import BotApiError, SimError
from .formatting import command_entities
from .keyboards import find_button
from .methods.media import image_size
from .models import CallbackRecord, SimUser, StoredMessage, Version
from .state import SimState

WAIT_SECONDS = 30.0  # generous: CI is a loaded two-core machine


class LocalControl:
    """Steer and inspect a simulator in this process, for one of its bots (the first when token is None)."""

    def __init__(self, state: SimState, token: str | None = None) -> None:
        self.state = state
        self.token = token
        state.bot(token)  # refuse an unknown token now rather than at first use

    @property
    def bot(self) -> BotState:
        """The bot this control speaks for (looked up afresh: reset() replaces it)."""
        return self.state.bot(self.token)

    # users -------------------------------------------------------------------------------------------

    def add_user(self, user_id: int, first_name: str, last_name: str | None = None, username: str | None = None,
                 language_code: str | None = None) -> dict[str, Any]:
        """Create (or update) a Telegram user; returns the User object."""
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
            raise SimError("user_id must be a positive integer")
        if not isinstance(first_name, str) or not first_name:
            raise SimError("first_name must be a non-empty string")
        user = SimUser(user_id, first_name, last_name, username, language_code)
        with self.state.lock:
            self.state.users[user_id] = user
            for bot in self.state.bots.values():
                if user_id in bot.chats:
                    bot.chats[user_id].user = user
        return user.as_user()

    def _chat(self, user_id: int) -> ChatState:
        return self.bot.chat_for(self.state.user(user_id))

    def _member_update(self, chat: ChatState, old: str, new: str) -> dict[str, Any] | None:
        bot = self.bot

        def member(status: str) -> dict[str, Any]:
            return {"user": bot.user, "status": status, **({"until_date": 0} if status == "kicked" else {})}

        payload = {"chat": chat.user.as_chat(), "from": chat.user.as_user(), "date": int(time.time()),
                   "old_chat_member": member(old), "new_chat_member": member(new)}
        update = self.state.queue_update(bot, "my_chat_member", payload)
        return update.as_update() if update is not None else None

    def block(self, user_id: int) -> dict[str, Any] | None:
        """The user blocks the bot: its sends get 403 and it gets a my_chat_member update (kicked)."""
        with self.state.lock:
            chat = self._chat(user_id)
            if chat.blocked:
                return None
            chat.blocked = True
            return self._member_update(chat, "member", "kicked")

    def unblock(self, user_id: int) -> dict[str, Any] | None:
        """The user unblocks the bot (my_chat_member back to member)."""
        with self.state.lock:
            chat = self._chat(user_id)
            if not chat.blocked:
                return None
            chat.blocked = False
            return self._member_update(chat, "kicked", "member")

    def _user_message(self, user_id: int, text: str | None, *, entities: list[dict[str, Any]] | None = None,
                      reply_to_message_id: int | None = None, **media: Any) -> dict[str, Any]:
        """Store a message from the user and queue its `message` update; writing to a bot lets it answer."""
        with self.state.lock:
            chat = self._chat(user_id)
            if chat.blocked:
                raise SimError(f"user {user_id} has blocked the bot: unblock (or start) first")
            reply_to = None
            if reply_to_message_id is not None:
                reply_to = chat.messages.get(reply_to_message_id)
                if reply_to is None:
                    raise SimError(f"no message {reply_to_message_id} in chat {user_id}")
            chat.started = True
            version = Version(text, entities or [], None, int(time.time()), text)
            message = StoredMessage(chat.next_message_id(), user_id, False, user_id, version.date, [version],
                                    is_caption=bool(media), reply_to=reply_to, **media)
            chat.messages[message.message_id] = message
            doc = self.bot.message_object(chat, message)
            update = self.state.queue_update(self.bot, "message", doc)
            return update.as_update() if update is not None else {"update_id": None, "message": doc}

    def start(self, user_id: int, payload: str | None = None) -> dict[str, Any]:
        """The user starts the bot: `/start` or `/start <payload>` (a deep link); a blocked bot is unblocked."""
        self.unblock(user_id)
        text = "/start" if payload is None else f"/start {payload}"
        return self._user_message(user_id, text, entities=command_entities(text))

    def send_text(self, user_id: int, text: str, reply_to_message_id: int | None = None) -> dict[str, Any]:
        """The user writes in the private chat (commands get their bot_command entities)."""
        if not isinstance(text, str) or not text.strip():
            raise SimError("a user cannot send an empty message")
        return self._user_message(user_id, text, entities=command_entities(text),
                                  reply_to_message_id=reply_to_message_id)

    def send_document(self, user_id: int, data: bytes, file_name: str, mime_type: str | None = None,
                      caption: str | None = None, size: int | None = None) -> dict[str, Any]:
        """The user sends a file; `size` may claim more than `data` holds (to try the 20 MB download limit)."""
        with self.state.lock:
            stored = self.bot.store_file("document", bytes(data), file_name=file_name,
                                         mime_type=mime_type or "application/octet-stream", size=size)
            return self._user_message(user_id, caption, document=stored)

    def send_photo(self, user_id: int, data: bytes, caption: str | None = None) -> dict[str, Any]:
        """The user sends a photo (the bytes must be an image Pillow can read)."""
        try:
            width, height = image_size(bytes(data))
        except BotApiError:
            raise SimError("send_photo needs the bytes of an image") from None
        with self.state.lock:
            stored = self.bot.store_file("photo", bytes(data), file_name=None, mime_type=None, width=width,
                                         height=height)
            return self._user_message(user_id, caption, photo=stored)

    # buttons -----------------------------------------------------------------------------------------

    def _bot_message(self, chat_id: int, message_id: int) -> tuple[ChatState, StoredMessage]:
        chat = self.bot.chats.get(chat_id)
        message = chat.messages.get(message_id) if chat is not None else None
        if chat is None or message is None or not message.from_bot:
            raise SimError(f"the bot sent no message {message_id} in chat {chat_id}")
        if message.deleted:
            raise SimError(f"message {message_id} in chat {chat_id} was deleted")
        return chat, message

    def _callback(self, chat: ChatState, message: StoredMessage, presser: SimUser, data: str,
                  forged: bool) -> dict[str, Any]:
        bot = self.bot
        record = CallbackRecord(str(secrets.randbits(63)), chat.user.id, message.message_id, presser.id, data,
                                time.monotonic(), forged)
        bot.callbacks[record.id] = record
        chat.callbacks.append(record)
        payload = {"id": record.id, "from": presser.as_user(), "message": bot.message_object(chat, message),
                   "chat_instance": chat.chat_instance, "data": data}
        update = self.state.queue_update(bot, "callback_query", payload)
        return update.as_update() if update is not None else {"update_id": None, "callback_query": payload}

    def press(self, chat_id: int, message_id: int, *, data: str | None = None, text: str | None = None,
              user_id: int | None = None) -> dict[str, Any]:
        """Press a callback button that is on the message's current keyboard, by its data or its label.

        `user_id` (default: the chat's user) lets another user press, as on a message forwarded to them.

        Raises:
            SimError: no such message, or no such button on it now.
        """
        with self.state.lock:
            chat, message = self._bot_message(chat_id, message_id)
            button = find_button(message.current.reply_markup, data=data, text=text)
            presser = self.state.user(chat_id if user_id is None else user_id)
            return self._callback(chat, message, presser, button["callback_data"], forged=False)

    def press_forged(self, chat_id: int, message_id: int, data: str, user_id: int | None = None) -> dict[str, Any]:
        """A callback query with any data on a bot message, button or not (a crafted client)."""
        with self.state.lock:
            chat, message = self._bot_message(chat_id, message_id)
            presser = self.state.user(chat_id if user_id is None else user_id)
            return self._callback(chat, message, presser, data, forged=True)

    # reading and waiting -----------------------------------------------------------------------------

    def chat(self, chat_id: int) -> dict[str, Any]:
        """The chat with a user: the bot's messages (current text, markup, history), the user's, callbacks."""
        with self.state.lock:
            return self.bot.chat_view(self._chat(chat_id))

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in a chat, oldest first."""
        return self.chat(chat_id)["messages"]

    def wait_messages(self, chat_id: int, count: int = 1, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least `count` messages in the chat; returns them all.

        Raises:
            SimTimeout: fewer arrived in time.
        """
        state = self.state
        state.user(chat_id)
        state.wait(lambda: len(self._chat(chat_id).bot_messages()) >= count, timeout,
                   f"{count} bot message(s) in chat {chat_id}")
        return self.messages(chat_id)

    def wait_text(self, chat_id: int, fragment: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """Wait until a bot message in the chat shows `fragment` (sent or edited in); returns that message.

        Raises:
            SimTimeout: no such message in time.
        """
        def found() -> StoredMessage | None:
            return next((m for m in self._chat(chat_id).bot_messages() if m.shows(fragment)), None)

        self.state.user(chat_id)
        self.state.wait(lambda: found() is not None, timeout, f"a bot message with {fragment!r} in chat {chat_id}")
        with self.state.lock:
            message = found()
            assert message is not None  # held when the wait ended, under the same lock
            return message.as_view()

    def wait_answer(self, callback_query_id: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """Wait until the bot answered a callback query; returns the query with its answer.

        Raises:
            SimTimeout: not answered in time.
        """
        def record() -> CallbackRecord:
            found = self.bot.callbacks.get(callback_query_id)
            if found is None:
                raise SimError(f"no callback query {callback_query_id!r}")
            return found

        self.state.wait(lambda: record().answer is not None, timeout, f"an answer to query {callback_query_id}")
        with self.state.lock:
            return record().as_view()

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes of a file the bot or a user sent."""
        with self.state.lock:
            stored = self.bot.files.get(file_id)
            if stored is None:
                raise SimError(f"no file {file_id!r}")
            return stored.data

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued for the bot and not yet confirmed."""
        with self.state.lock:
            return [u.as_update() for u in self.bot.updates]

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Each webhook delivery finished so far: update_id, attempts, outcomes, delivered."""
        with self.state.lock:
            return list(self.bot.deliveries)

    # faults, counters, settings ----------------------------------------------------------------------

    def inject(self, method: str, kind: str, times: int | None = 1, **params: Any) -> dict[str, Any]:
        """Make the next `times` calls (None: until cleared) of `method` ("*": any) fail as `kind` says.

        Kinds: retry_after (retry_after=N), server_error (status=500|502), error (status, description),
        delay (seconds=S), drop, accept_then_drop, duplicate_updates (method getUpdates; `times` counts updates).

        Raises:
            SimError: a bad fault.
        """
        with self.state.lock:
            try:
                return self.state.faults.add(method, kind, times, **params).as_dict()
            except ValueError as error:
                raise SimError(str(error)) from None

    def clear_faults(self) -> None:
        """Remove every fault."""
        with self.state.lock:
            self.state.faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """The faults still active."""
        with self.state.lock:
            return [f.as_dict() for f in self.state.faults.faults]

    def calls(self, method: str | None = None) -> int:
        """How many Bot API requests `method` received (all methods when None), faulted ones included."""
        counts = self.call_counts()
        if method is None:
            return sum(counts.values())
        return sum(n for name, n in counts.items() if name.lower() == method.lower())

    def call_counts(self) -> dict[str, int]:
        """Requests per method name."""
        with self.state.lock:
            return dict(self.state.calls)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings at run time (webhook timing, the callback answer window...)."""
        try:
            return self.state.configure(changes).as_dict()
        except (TypeError, ValueError) as error:
            raise SimError(str(error)) from None

    def snapshot(self) -> dict[str, Any]:
        """Everything at once: config, users, each bot's pending updates, webhook and commands, calls, faults."""
        return self.state.snapshot()

    def reset(self) -> None:
        """Forget users, chats, updates, webhooks, faults and counters."""
        self.state.reset()
