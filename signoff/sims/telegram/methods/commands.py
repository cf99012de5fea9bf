"""setMyCommands, getMyCommands, deleteMyCommands and sendChatAction."""

from __future__ import annotations

import json
import re
import time

from ..bots import BotState
from ..dispatch import method
from ..errors import BotApiError
from ..params import Params
from ..state import SimState

COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
COMMANDS_MAX = 100
CHAT_ACTIONS = ("typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note")


def _scope_key(params: Params) -> str:
    """Commands are kept per scope and language, as Telegram keeps them."""
    scope = params.obj("scope") or {"type": "default"}
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise BotApiError.bad_request("can't parse BotCommandScope JSON object")
    return f"{json.dumps(scope, sort_keys=True)}|{params.text('language_code') or ''}"


@method("setMyCommands")
def set_my_commands(state: SimState, bot: BotState, params: Params) -> bool:
    """Keep the command list for a scope and language.

    Raises:
        BotApiError: 400 for a malformed list, command or description.
    """
    commands = params.obj("commands")
    if not isinstance(commands, list) or len(commands) > COMMANDS_MAX:
        raise BotApiError.bad_request("can't parse commands JSON array")
    kept = []
    for entry in commands:
        if not isinstance(entry, dict) or not COMMAND_RE.match(str(entry.get("command", ""))):
            raise BotApiError.bad_request("BOT_COMMAND_INVALID")
        description = entry.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= 256:
            raise BotApiError.bad_request("command description must be non-empty")
        kept.append({"command": entry["command"], "description": description})
    bot.commands[_scope_key(params)] = kept
    return True


@method("getMyCommands")
def get_my_commands(state: SimState, bot: BotState, params: Params) -> list[dict[str, str]]:
    """The command list of a scope and language (empty when none was set)."""
    return list(bot.commands.get(_scope_key(params), []))


@method("deleteMyCommands")
def delete_my_commands(state: SimState, bot: BotState, params: Params) -> bool:
    """Forget the command list of a scope and language."""
    bot.commands.pop(_scope_key(params), None)
    return True


@method("sendChatAction")
def send_chat_action(state: SimState, bot: BotState, params: Params) -> bool:
    """Record a chat action ("typing"...) in the chat.

    Raises:
        BotApiError: 400 for an unknown action or chat, 403 when the user blocked the bot.
    """
    chat = bot.writable_chat(params.text("chat_id", required=True), state.users)
    action = params.text("action", required=True)
    if action not in CHAT_ACTIONS:
        raise BotApiError.bad_request("wrong parameter action in request")
    chat.actions.append({"action": action, "date": int(time.time())})
    return True
