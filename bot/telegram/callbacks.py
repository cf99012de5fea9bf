"""Callback data: versioned, ids only, under Telegram's 64 bytes.

`d1:<post>:<revision prefix>:<action code>`. The prefix binds the tap to the revision the person
saw; everything else (who pressed, what they may do) is decided from the update and the core, never
from the data.
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from approvals.rules.states import Action
from bot.cards import Button

REVISION_PREFIX = 16  # hex characters of the revision's content hash: 64 bits

CODE = {Action.CONFIRM: "c", Action.APPROVE: "a", Action.SIGN: "s",
        Action.REQUEST_CHANGES: "m", Action.REJECT: "r"}
ACTION = {code: action for action, code in CODE.items()}


class Decide(CallbackData, prefix="d1"):
    """A decision button."""

    p: int
    r: str
    a: str

    @classmethod
    def of(cls, button: Button) -> Decide:
        """The callback data of a card's button."""
        return cls(p=button.post_id, r=button.revision[:REVISION_PREFIX], a=CODE[button.action])

    @property
    def action(self) -> Action | None:
        """The action, or None for a code this version does not know."""
        return ACTION.get(self.a)

    def matches(self, revision_hash: str) -> bool:
        """Whether the tap was on this revision."""
        return len(self.r) == REVISION_PREFIX and revision_hash.startswith(self.r)
