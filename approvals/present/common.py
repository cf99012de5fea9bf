"""Small helpers every text uses: one language, local times, people's names."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from approvals.rules.errors import Text
from approvals.rules.org import OrgChart
from approvals.rules.states import WORKER

PUBLISHER = Text("发布程序", "publisher")


def t(text: Text, lang: str) -> str:
    """Shorthand for a Text in `lang`."""
    return text.get(lang)


def local_time(at: datetime, zone: ZoneInfo) -> str:
    """`at` (UTC, naive or aware) as local minutes."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def who(actor: str, org: OrgChart, lang: str) -> str:
    """A person's display name, or "发布程序" for the publishing worker."""
    return t(PUBLISHER, lang) if actor == WORKER else org.name_of(actor)
