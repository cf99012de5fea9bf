"""One bot's side of the simulator: its chats, files, pending updates, webhook and commands."""

from __future__ import annotations

import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any

from .errors import BLOCKED, CANT_INITIATE, CHAT_NOT_FOUND, BotApiError
from .models import DEFAULT_UPDATE_TYPES, CallbackRecord, SimUser, StoredFile, StoredMessage, Update

FILE_ID_PREFIX = {"document": "BQACAgIAAxkBAAI", "photo": "AgACAgIAAxkBAAI"}  # how real ids begin


@dataclass
class Webhook:
    """The webhook a bot set, and how delivering to it went."""

    url: str
    secret_token: str | None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class ChatState:
    """A private chat between one user and one bot."""

    user: SimUser
    chat_instance: str
    started: bool = False
    blocked: bool = False
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    callbacks: list[CallbackRecord] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_message_id(self) -> int:
        """Message ids grow per chat, shared by both sides."""
        return next(self._ids)

    def bot_messages(self) -> list[StoredMessage]:
        """What the bot sent here, oldest first (deleted ones included, flagged)."""
        return [m for m in self.messages.values() if m.from_bot]


class BotState:
    """Everything one bot token owns. The caller holds the simulator's lock."""

    def __init__(self, token: str, first_name: str, username: str, first_update_id: int) -> None:
        self.token = token
        self.id = int(token.split(":", 1)[0])
        self.username = username
        self.user = {"id": self.id, "is_bot": True, "first_name": first_name, "username": username,
                     "can_join_groups": True, "can_read_all_group_messages": False,
                     "supports_inline_queries": False, "can_connect_to_business": False,
                     "has_main_web_app": False}
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self.updates: list[Update] = []
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.webhook: Webhook | None = None
        self.webhook_generation = 0  # bumped by every setWebhook/deleteWebhook: a sender knows it is stale
        self.deliveries: list[dict[str, Any]] = []
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.poll_generation = 0  # bumped by every getUpdates: an older long poll knows it was superseded
        self._update_ids = itertools.count(first_update_id)
        self._file_paths = itertools.count(1)

    # chats -----------------------------------------------------------------------------------------

    def chat_for(self, user: SimUser) -> ChatState:
        """The chat with `user`, opened on first use."""
        chat = self.chats.get(user.id)
        if chat is None:
            digest = hashlib.sha1(f"{self.id}:{user.id}".encode()).digest()
            chat = ChatState(user, str(int.from_bytes(digest[:8], "big", signed=True)))
            self.chats[user.id] = chat
        return chat

    def writable_chat(self, chat_id: Any, users: dict[int, SimUser]) -> ChatState:
        """The chat a bot method addresses, if the bot may write there.

        Raises:
            BotApiError: 400 chat not found, 403 blocked or never started.
        """
        try:
            user = users[int(chat_id)]
        except (KeyError, TypeError, ValueError):
            raise BotApiError.of(CHAT_NOT_FOUND) from None
        chat = self.chat_for(user)
        if chat.blocked:
            raise BotApiError.of(BLOCKED)
        if not chat.started:
            raise BotApiError.of(CANT_INITIATE)
        return chat

    def message_object(self, chat: ChatState, message: StoredMessage, *, with_reply: bool = True) -> dict[str, Any]:
        """The Message object of a stored message (a reply carries the message it replies to)."""
        sender = self.user if message.from_bot else chat.user.as_user()
        reply = None
        if with_reply and message.reply_to is not None:
            reply = self.message_object(chat, message.reply_to, with_reply=False)
        return message.as_message(sender, chat.user.as_chat(), reply)

    # updates ---------------------------------------------------------------------------------------

    def queue(self, kind: str, payload: dict[str, Any], *, echo: bool = False) -> Update | None:
        """Queue an update, unless the bot's allowed_updates leave its kind out (then it is never created)."""
        if kind not in self.allowed_updates:
            return None
        update = Update(next(self._update_ids), kind, payload, echo)
        self.updates.append(update)
        return update

    def confirm(self, offset: int) -> None:
        """Forget updates below `offset`, as getUpdates does; a negative offset keeps only the last -offset.

        An update marked `echo` survives its first confirmation once: it is delivered again, with the
        same update_id, as Telegram does after a redelivery.
        """
        if offset < 0:
            self.updates = self.updates[offset:]
            return
        kept = []
        for update in self.updates:
            if update.update_id >= offset:
                kept.append(update)
            elif update.echo:
                update.echo = False
                kept.append(update)
        self.updates = kept

    def deliverable(self, limit: int) -> list[Update]:
        """The first `limit` pending updates of the kinds the bot asked for."""
        return [u for u in self.updates if u.kind in self.allowed_updates][:limit]

    def drop_pending(self) -> None:
        """Forget every pending update (drop_pending_updates)."""
        self.updates.clear()

    # files -----------------------------------------------------------------------------------------

    def store_file(self, kind: str, data: bytes, *, file_name: str | None, mime_type: str | None,
                   size: int | None = None, width: int = 0, height: int = 0) -> StoredFile:
        """Keep an uploaded file under fresh ids."""
        stored = StoredFile(FILE_ID_PREFIX[kind] + secrets.token_urlsafe(42), "AgAD" + secrets.token_urlsafe(9),
                            kind, data, file_name, mime_type, len(data) if size is None else size, width, height)
        self.files[stored.file_id] = stored
        return stored

    def file_path(self, stored: StoredFile) -> str:
        """The path getFile hands out for a file (given once, kept after)."""
        if stored.file_path is None:
            folder = "photos" if stored.kind == "photo" else "documents"
            suffix = ""
            if stored.file_name and "." in stored.file_name:
                suffix = "." + stored.file_name.rsplit(".", 1)[1]
            elif stored.kind == "photo":
                suffix = ".jpg"
            stored.file_path = f"{folder}/file_{next(self._file_paths)}{suffix}"
        return stored.file_path

    def file_at(self, path: str) -> StoredFile | None:
        """The file getFile gave `path` to."""
        return next((f for f in self.files.values() if f.file_path == path), None)

    # inspection ------------------------------------------------------------------------------------

    def chat_view(self, chat: ChatState) -> dict[str, Any]:
        """A chat as a test reads it: the bot's messages, the user's, callback queries, chat actions."""
        return {
            "chat_id": chat.user.id, "user": chat.user.as_user(), "started": chat.started, "blocked": chat.blocked,
            "messages": [m.as_view() for m in chat.bot_messages()],
            "user_messages": [m.as_view() for m in chat.messages.values() if not m.from_bot],
            "callbacks": [c.as_view() for c in chat.callbacks],
            "actions": list(chat.actions),
        }

    def webhook_info(self) -> dict[str, Any]:
        """getWebhookInfo's answer."""
        info: dict[str, Any] = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self.updates)}
        hook = self.webhook
        if hook is not None:
            info.update(url=hook.url, max_connections=hook.max_connections, ip_address="127.0.0.1")
            if self.allowed_updates != DEFAULT_UPDATE_TYPES:
                info["allowed_updates"] = sorted(self.allowed_updates)
            if hook.last_error_date is not None:
                info.update(last_error_date=hook.last_error_date, last_error_message=hook.last_error_message)
        return info

    def summary(self) -> dict[str, Any]:
        """The bot as the inspection document shows it."""
        return {"id": self.id, "username": self.username, "pending_updates": [u.as_update() for u in self.updates],
                "allowed_updates": sorted(self.allowed_updates), "webhook": self.webhook_info(),
                "webhook_deliveries": list(self.deliveries), "commands": dict(self.commands),
                "chats": sorted(self.chats)}
