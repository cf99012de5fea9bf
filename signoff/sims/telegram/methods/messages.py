"""sendMessage, the edits, deleteMessage and answerCallbackQuery, with Telegram's checks and errors."""

from __future__ import annotations

import time
from typing import Any

from ..bots import BotState, ChatState
from ..dispatch import method
from ..errors import (
    CANT_EDIT,
    CHAT_NOT_FOUND,
    DELETE_NOT_FOUND,
    EDIT_NOT_FOUND,
    NO_TEXT_TO_EDIT,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    REPLY_NOT_FOUND,
    TEXT_EMPTY,
    TEXT_TOO_LONG,
    BotApiError,
)
from ..formatting import render, utf16_len
from ..keyboards import check_markup, inline
from ..models import StoredFile, StoredMessage, Version
from ..params import Params
from ..state import SimState

TEXT_MAX = 4096  # UTF-16 code units
ANSWER_TEXT_MAX = 200
OPTION_FIELDS = ("link_preview_options", "disable_web_page_preview", "disable_notification", "protect_content",
                 "message_effect_id", "message_thread_id")


def content(params: Params, field: str, *, limit: int, too_long: tuple[int, str], required: bool) -> Version:
    """The text (or caption) of a call as Telegram stores it, with the markup sent beside it.

    Raises:
        BotApiError: 400 empty or too long text, HTML that does not parse, a bad keyboard.
    """
    source = params.text(field)
    parse_mode = params.text("parse_mode") or None
    entities_field = "entities" if field == "text" else "caption_entities"
    text: str | None = None
    entities: list[dict[str, Any]] = []
    if source is not None:
        text, entities = render(source, parse_mode, params.obj(entities_field))
    if required and not (text or "").strip():
        raise BotApiError.of(TEXT_EMPTY)
    if text is not None and utf16_len(text) > limit:
        raise BotApiError.of(too_long)
    markup = check_markup(params.obj("reply_markup"))
    return Version(text if text or required else None, entities, markup, int(time.time()), source, parse_mode)


def reply_target(chat: ChatState, params: Params) -> StoredMessage | None:
    """The message a call replies to (reply_parameters, or the older reply_to_message_id).

    Raises:
        BotApiError: 400 when it is not in the chat, unless sending without the reply is allowed.
    """
    reply = params.obj("reply_parameters")
    if isinstance(reply, dict) and reply.get("message_id") is not None:
        message_id, allow = reply["message_id"], bool(reply.get("allow_sending_without_reply"))
    elif params.has("reply_to_message_id"):
        message_id = params.integer("reply_to_message_id")
        allow = params.flag("allow_sending_without_reply")
    else:
        return None
    target = chat.messages.get(message_id) if isinstance(message_id, int) else None
    if target is None or target.deleted:
        if allow:
            return None
        raise BotApiError.of(REPLY_NOT_FOUND)
    return target


def post(bot: BotState, chat: ChatState, params: Params, version: Version, *, is_caption: bool = False,
         document: StoredFile | None = None, photo: StoredFile | None = None) -> dict[str, Any]:
    """Store a message from the bot and return its Message object."""
    reply_to = reply_target(chat, params)
    options = {name: params.obj(name) for name in OPTION_FIELDS if params.has(name)}
    message = StoredMessage(chat.next_message_id(), chat.user.id, True, bot.id, version.date, [version],
                            is_caption=is_caption, document=document, photo=photo, reply_to=reply_to,
                            options=options)
    chat.messages[message.message_id] = message
    return bot.message_object(chat, message)


@method("sendMessage")
def send_message(state: SimState, bot: BotState, params: Params) -> dict[str, Any]:
    """Send a text message to a user's private chat.

    Raises:
        BotApiError: 400 chat not found / empty / too long / unparsable / bad keyboard / reply not
            found; 403 blocked or never started.
    """
    chat = bot.writable_chat(params.text("chat_id", required=True), state.users)
    version = content(params, "text", limit=TEXT_MAX, too_long=TEXT_TOO_LONG, required=True)
    return post(bot, chat, params, version)


def _own_message(state: SimState, bot: BotState, params: Params, missing: tuple[int, str]) -> StoredMessage:
    if params.has("inline_message_id") and not params.has("chat_id"):
        raise BotApiError.bad_request("MESSAGE_ID_INVALID")  # the simulator has no inline messages
    chat = bot.writable_chat(params.text("chat_id", required=True), state.users)
    message = chat.messages.get(params.integer("message_id", required=True) or 0)
    if message is None or message.deleted:
        raise BotApiError.of(missing)
    if not message.from_bot:
        raise BotApiError.of(CANT_EDIT)
    return message


def _edit(bot: BotState, state: SimState, message: StoredMessage, new: Version) -> dict[str, Any]:
    old = message.current
    if (new.text, new.entities, inline(new.reply_markup)) == (old.text, old.entities, inline(old.reply_markup)):
        raise BotApiError.of(NOT_MODIFIED)
    message.versions.append(new)
    message.edit_date = new.date
    return bot.message_object(bot.chats[message.chat_id], message)


@method("editMessageText")
def edit_message_text(state: SimState, bot: BotState, params: Params) -> dict[str, Any]:
    """Replace a bot message's text; without reply_markup the inline keyboard goes, as on Telegram.

    Raises:
        BotApiError: 400 not found / not modified / no text / empty / too long; 403 blocked.
    """
    message = _own_message(state, bot, params, EDIT_NOT_FOUND)
    if message.is_caption:
        raise BotApiError.of(NO_TEXT_TO_EDIT)
    new = content(params, "text", limit=TEXT_MAX, too_long=TEXT_TOO_LONG, required=True)
    return _edit(bot, state, message, new)


@method("editMessageReplyMarkup")
def edit_message_reply_markup(state: SimState, bot: BotState, params: Params) -> dict[str, Any]:
    """Replace (or, without reply_markup, remove) a bot message's inline keyboard.

    Raises:
        BotApiError: 400 not found / not modified / bad keyboard; 403 blocked.
    """
    message = _own_message(state, bot, params, EDIT_NOT_FOUND)
    old = message.current
    markup = check_markup(params.obj("reply_markup"))
    new = Version(old.text, old.entities, markup, int(time.time()), old.source, old.parse_mode)
    return _edit(bot, state, message, new)


@method("deleteMessage")
def delete_message(state: SimState, bot: BotState, params: Params) -> bool:
    """Delete a message of the chat (the bot's or, in a private chat, the user's).

    Raises:
        BotApiError: 400 chat not found or message to delete not found.
    """
    chat_id = params.text("chat_id", required=True) or ""
    chat = bot.chats.get(int(chat_id)) if chat_id.lstrip("-").isdigit() else None
    if chat is None:
        raise BotApiError.of(CHAT_NOT_FOUND)
    message = chat.messages.get(params.integer("message_id", required=True) or 0)
    if message is None or message.deleted:
        raise BotApiError.of(DELETE_NOT_FOUND)
    message.deleted = True
    return True


@method("answerCallbackQuery")
def answer_callback_query(state: SimState, bot: BotState, params: Params) -> bool:
    """Answer a callback query once, within the answer window.

    Raises:
        BotApiError: 400 "query is too old ..." for an unknown, answered or expired query id.
    """
    query = bot.callbacks.get(params.text("callback_query_id", required=True) or "")
    window = state.config.callback_answer_window_seconds
    if query is None or query.answer is not None or time.monotonic() - query.created > window:
        raise BotApiError.of(QUERY_TOO_OLD)
    text = params.text("text")
    if text is not None and len(text) > ANSWER_TEXT_MAX:
        raise BotApiError.bad_request("MESSAGE_TOO_LONG")
    query.answer = {"text": text, "show_alert": params.flag("show_alert"), "url": params.text("url"),
                    "cache_time": params.integer("cache_time", default=0)}
    return True
