"""Named errors of the core, each carrying its message in zh-CN and en."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


def normalize_language(lang: str | None) -> str:
    """Map any zh*/en* language tag to one of LANGUAGES (zh-CN when unknown)."""
    if lang and lang.lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Text:
    """A user-facing message in Chinese and English."""

    zh: str
    en: str

    def get(self, lang: str | None = None) -> str:
        """The message in `lang` (zh-CN by default)."""
        return self.en if normalize_language(lang) == "en" else self.zh

    def format(self, **kw: Any) -> Text:
        """Both languages with the same placeholders filled in."""
        return Text(self.zh.format(**kw), self.en.format(**kw))

    def __str__(self) -> str:
        return self.zh


def sentences(head: Text, parts: Iterable[Text], tail: Text | None = None) -> Text:
    """`head`, then each part as one clause, then `tail`: 「签发被拒绝：甲；乙。」 and
    "Sign-off refused: A. B." (each part's own full stop is not doubled)."""
    parts = list(parts)
    zh = head.zh + "；".join(p.zh.strip().rstrip("。；;.") for p in parts) + "。"
    en = head.en + " ".join(p.en.strip() if p.en.strip().endswith((".", "!", "?"))
                            else p.en.strip() + "." for p in parts)
    if tail is not None:
        zh, en = zh + tail.zh, en + " " + tail.en
    return Text(zh, en)


class SignoffError(Exception):
    """Base of every error the core raises; `text` is shown to the user."""

    code = "error"

    def __init__(self, text: Text) -> None:
        super().__init__(text.zh)
        self.text = text

    def message(self, lang: str | None = None) -> str:
        """The message in the user's language."""
        return self.text.get(lang)


class InvalidTransition(SignoffError):
    """The action does not apply to the post in its current state."""

    code = "invalid_transition"


class StaleRevision(InvalidTransition):
    """The decision was made on a revision that is no longer the current one."""

    code = "stale_revision"


class AlreadyDecided(InvalidTransition):
    """Someone else decided this step (or changed the post) first."""

    code = "already_decided"


class NotAllowed(SignoffError):
    """The person is not entitled to take this action on this post."""

    code = "not_allowed"


class GateBlocked(SignoffError):
    """Sign-off refused: at least one gate has a blocking finding."""

    code = "gate_blocked"

    def __init__(self, text: Text, findings: tuple[Any, ...] = ()) -> None:
        super().__init__(text)
        self.findings = findings


class NotFound(SignoffError):
    """No such post, person or revision."""

    code = "not_found"


class InvalidInput(SignoffError):
    """Input from a user or a file that does not validate."""

    code = "invalid_input"


class Unavailable(SignoffError):
    """A service signoff needs (Redis, the database, WeChat) does not answer."""

    code = "unavailable"


class ConfigError(SignoffError):
    """A configuration file or setting is invalid; `problems` lists every error."""

    code = "config_error"

    def __init__(self, text: Text, problems: tuple[Any, ...] = ()) -> None:
        super().__init__(text)
        self.problems = problems


class InvalidRevision(InvalidInput):
    """A layout revision breaks one or more limits; `problems` names the field of each
    (title, author, digest, body), so a form can show each next to its field."""

    code = "invalid_input"

    def __init__(self, text: Text, problems: tuple[tuple[str, Text], ...] = ()) -> None:
        super().__init__(text)
        self.problems = problems
