"""Cards as Telegram messages: text pieces under 4096 characters, the buttons under the last."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.cards import Card, split
from bot.telegram.callbacks import Decide


def keyboard(card: Card) -> InlineKeyboardMarkup | None:
    """The card's buttons, one per row (a phone shows whole labels)."""
    if not card.buttons:
        return None
    rows = [[InlineKeyboardButton(text=b.label, callback_data=Decide.of(b).pack())]
            for b in card.buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def pieces(card: Card) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """What to send, in order: each piece of the text, the keyboard with the last one."""
    parts = split(card.text)
    return [(text, keyboard(card) if i == len(parts) - 1 else None) for i, text in enumerate(parts)]
