"""Reply markup: checked as Telegram checks it, and searched for the button a user presses."""

from __future__ import annotations

from typing import Any

from .errors import BUTTON_DATA_INVALID, BotApiError, SimError

CALLBACK_DATA_MAX_BYTES = 64
# what an inline button may do besides showing its text; a button with none of these is refused
BUTTON_ACTIONS = ("callback_data", "url", "web_app", "login_url", "switch_inline_query",
                  "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
                  "callback_game", "pay")
MARKUP_KINDS = ("inline_keyboard", "keyboard", "remove_keyboard", "force_reply")


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise BotApiError.bad_request("can't parse inline keyboard button: Field \"text\" must be of type String")
    if not any(key in button for key in BUTTON_ACTIONS):
        raise BotApiError.bad_request("can't parse inline keyboard button: Text buttons are unallowed in the "
                                      "inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        # 1-64 bytes of UTF-8 (not characters: two Chinese characters take six bytes)
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_MAX_BYTES:
            raise BotApiError.of(BUTTON_DATA_INVALID)
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
            raise BotApiError.bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def check_markup(markup: Any) -> dict[str, Any] | None:
    """Validate a reply_markup object (already decoded from JSON) and return it.

    Raises:
        BotApiError: 400 for a malformed keyboard or callback data outside 1-64 bytes.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict) or not any(kind in markup for kind in MARKUP_KINDS):
        raise BotApiError.bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise BotApiError.bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array "
                                          "of Arrays")
        for row in rows:
            for button in row:
                _check_button(button)
        # an empty inline keyboard is the same as none (Telegram drops it)
        if not any(rows):
            return None
    return markup


def inline(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The markup a Message shows: Telegram echoes inline keyboards only."""
    return markup if markup is not None and "inline_keyboard" in markup else None


def buttons(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every inline button of a markup, row by row."""
    rows = (inline(markup) or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def find_button(markup: dict[str, Any] | None, *, data: str | None, text: str | None) -> dict[str, Any]:
    """The callback button with this callback_data or this visible text.

    Raises:
        SimError: no such callback button on the markup (which lists the buttons it has).
    """
    if (data is None) == (text is None):
        raise SimError("press a button by exactly one of data= (its callback_data) or text= (its label)")
    for button in buttons(markup):
        if "callback_data" in button and (button["callback_data"] == data or button["text"] == text):
            return button
    shown = [f"{b['text']!r} -> {b.get('callback_data', '(no callback_data)')!r}" for b in buttons(markup)]
    wanted = f"data={data!r}" if data is not None else f"text={text!r}"
    raise SimError(f"no callback button with {wanted} on the message; it has: {', '.join(shown) or 'no buttons'}")
