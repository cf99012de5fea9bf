"""Messenger-neutral cards: a text and the decision buttons a person may press, as plain values.

The buttons come from the façade's `allowed_actions` (the same list the console builds its forms
from); each is bound to the revision the person is looking at, so a tap on a replaced revision is
recognised and refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from approvals.present.common import local_time
from approvals.rules.states import ACTION_LABEL, CATEGORY_LABEL, Action
from approvals.services import Service
from approvals.services.links import preview_link
from bot.texts import BUTTON, tr

# The decisions a card offers, in the order they are shown.
DECISIONS = (Action.CONFIRM, Action.APPROVE, Action.SIGN, Action.REQUEST_CHANGES, Action.REJECT)
# Decisions that need a comment: the bot asks for it before acting.
NEEDS_COMMENT = frozenset({Action.REQUEST_CHANGES, Action.REJECT})
# Chat services cap one message (Telegram: 4096 UTF-16 code units).
MESSAGE_LIMIT = 4096


@dataclass(frozen=True)
class Button:
    """One tap: take `action` on revision `revision` (its content hash) of post `post_id`."""

    label: str
    post_id: int
    revision: str
    action: Action


@dataclass(frozen=True)
class Card:
    """A message and the buttons under it."""

    text: str
    buttons: tuple[Button, ...] = ()


def decision_buttons(post_id: int, revision: str | None, allowed: Iterable[Action],
                     lang: str) -> tuple[Button, ...]:
    """The decision buttons for what the person may do (nothing without a revision)."""
    if not revision:
        return ()
    allowed = set(allowed)
    return tuple(Button(BUTTON[a].get(lang), post_id, revision, a) for a in DECISIONS
                 if a in allowed)


def decided_text(text: str, name: str, action: Action, at: datetime, zone: ZoneInfo,
                 lang: str) -> str:
    """A card's text once decided: who decided what, and when, under it."""
    line = tr("decided_line", lang, name=name, action=ACTION_LABEL[action].get(lang),
              at=local_time(at, zone))
    return fit(f"{text}\n\n{line}", MESSAGE_LIMIT)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to `limit` (an ellipsis marks the cut), for an edit that must stay one message."""
    if utf16_len(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        used += utf16_len(ch)
        if used > limit - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


def split(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` in pieces of at most `limit`, cut at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if utf16_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while utf16_len(line) > limit:  # one line longer than a message: cut inside it
            head = fit(line, limit + 1)[:-1]
            pieces.append(head)
            line = line[len(head):]
        current = line
    if current or not pieces:
        pieces.append(current)
    return pieces


@dataclass(frozen=True)
class Links:
    """Where the console is, and the key its preview links are signed with (None: no links)."""

    console_url: str
    key: str | None = None

    def preview(self, post_id: int, revision_hash: str) -> str | None:
        """The signed preview page of a revision."""
        return preview_link(self.console_url, self.key, post_id, revision_hash) if self.key \
            else None


def post_card(svc: Service, post_id: int, person: str, lang: str, head: str, links: Links
              ) -> Card:
    """`head` about a post, its category, the preview links, and the decisions `person` may
    take on its current revision now.

    Raises:
        NotFound: no such post.
    """
    glance = svc.glance(post_id)
    allowed = svc.allowed_now(glance, person)
    revision = glance.revision_hash
    lines = [head]
    if revision:
        category = CATEGORY_LABEL[glance.post.category].get(lang)
        lines.append(f"类别：{category}" if lang != "en" else f"Category: {category}")
        url = links.preview(post_id, revision)
        if url:
            lines.append(tr("preview", lang, url=url))
        if glance.preview_url:
            lines.append(tr("wechat_preview", lang, url=glance.preview_url))
    return Card("\n".join(lines), decision_buttons(post_id, revision, allowed, lang))
