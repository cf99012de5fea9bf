"""What the simulator holds (users, messages, files, callback queries, updates) and their API shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .keyboards import inline

UPDATE_TYPES = ("message", "edited_message", "callback_query", "my_chat_member", "chat_member",
                "message_reaction", "message_reaction_count")
# what a bot gets when it asks for nothing in particular (Bot API: getUpdates, allowed_updates)
DEFAULT_UPDATE_TYPES = frozenset(UPDATE_TYPES) - {"chat_member", "message_reaction", "message_reaction_count"}


@dataclass
class SimUser:
    """A Telegram user who may talk to the bots."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def as_user(self) -> dict[str, Any]:
        """The User object."""
        doc: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for name in ("last_name", "username", "language_code"):
            if getattr(self, name) is not None:
                doc[name] = getattr(self, name)
        return doc

    def as_chat(self) -> dict[str, Any]:
        """The private Chat with this user (its id is the user's id)."""
        doc: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        for name in ("last_name", "username"):
            if getattr(self, name) is not None:
                doc[name] = getattr(self, name)
        return doc


@dataclass
class StoredFile:
    """A file a bot or a user sent; its bytes stay here so tests (and getFile) can read them back."""

    file_id: str
    file_unique_id: str
    kind: str  # "document" or "photo"
    data: bytes
    file_name: str | None
    mime_type: str | None
    size: int  # as reported; a test may declare more than the bytes it hands over
    width: int = 0
    height: int = 0
    file_path: str | None = None  # given by the first getFile

    def as_object(self) -> dict[str, Any]:
        """The Document object, or the one PhotoSize of a photo."""
        doc: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                               "file_size": self.size}
        if self.kind == "photo":
            doc.update(width=self.width, height=self.height)
        else:
            doc.update({k: v for k, v in (("file_name", self.file_name), ("mime_type", self.mime_type)) if v})
        return doc


@dataclass
class Version:
    """One content of a message: the text (or caption) with its entities and its markup."""

    text: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    date: int
    source: str | None = None  # the text as sent, before parse_mode
    parse_mode: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The version as the chat view shows it."""
        return {"text": self.text, "entities": self.entities, "reply_markup": self.reply_markup,
                "date": self.date, "source": self.source, "parse_mode": self.parse_mode}


@dataclass
class StoredMessage:
    """A message in a private chat, from the bot or from the user."""

    message_id: int
    chat_id: int
    from_bot: bool
    sender_id: int
    date: int
    versions: list[Version]  # the first as sent, then one per edit
    is_caption: bool = False  # a media message: versions hold its caption
    document: StoredFile | None = None
    photo: StoredFile | None = None
    reply_to: StoredMessage | None = None
    edit_date: int | None = None
    deleted: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # link preview, notification flags: kept, not acted on

    @property
    def current(self) -> Version:
        """The content the message shows now."""
        return self.versions[-1]

    def as_message(self, sender: dict[str, Any], chat: dict[str, Any],
                   reply_to_message: dict[str, Any] | None = None) -> dict[str, Any]:
        """The Message object a bot receives."""
        doc: dict[str, Any] = {"message_id": self.message_id, "from": sender, "chat": chat, "date": self.date}
        if self.edit_date is not None:
            doc["edit_date"] = self.edit_date
        if reply_to_message is not None:
            doc["reply_to_message"] = reply_to_message
        if self.document is not None:
            doc["document"] = self.document.as_object()
        if self.photo is not None:
            doc["photo"] = [self.photo.as_object()]
        text_key, entities_key = ("caption", "caption_entities") if self.is_caption else ("text", "entities")
        if self.current.text is not None:
            doc[text_key] = self.current.text
            if self.current.entities:
                doc[entities_key] = self.current.entities
        markup = inline(self.current.reply_markup)
        if markup is not None:
            doc["reply_markup"] = markup
        return doc

    def as_view(self) -> dict[str, Any]:
        """The message as a test reads it in the chat view: current content, history, files."""
        doc: dict[str, Any] = {
            "message_id": self.message_id, "from_bot": self.from_bot, "date": self.date,
            "text": self.current.text if not self.is_caption else None,
            "caption": self.current.text if self.is_caption else None,
            "entities": self.current.entities, "reply_markup": self.current.reply_markup,
            "source": self.current.source, "parse_mode": self.current.parse_mode,
            "edit_date": self.edit_date, "history": [v.as_dict() for v in self.versions[:-1]],
            "deleted": self.deleted, "reply_to_message_id": self.reply_to.message_id if self.reply_to else None,
            "options": self.options,
        }
        if self.document is not None:
            doc["document"] = self.document.as_object()
        if self.photo is not None:
            doc["photo"] = self.photo.as_object()
        return doc

    def shows(self, fragment: str) -> bool:
        """Whether the message's current text or caption contains `fragment` (deleted ones show nothing)."""
        return not self.deleted and fragment in (self.current.text or "")


@dataclass
class CallbackRecord:
    """A callback query a user's press produced, and how the bot answered it."""

    id: str
    chat_id: int
    message_id: int
    from_id: int
    data: str | None
    created: float  # monotonic seconds
    forged: bool = False
    answer: dict[str, Any] | None = None

    def as_view(self) -> dict[str, Any]:
        """The query as the chat view shows it."""
        return {"id": self.id, "message_id": self.message_id, "from_user_id": self.from_id, "data": self.data,
                "forged": self.forged, "answered": self.answer is not None, "answer": self.answer}


@dataclass
class Update:
    """One update waiting for a bot; `echo` marks one that will come back once after being confirmed."""

    update_id: int
    kind: str
    payload: dict[str, Any]
    echo: bool = False

    def as_update(self) -> dict[str, Any]:
        """The Update object."""
        return {"update_id": self.update_id, self.kind: self.payload}
