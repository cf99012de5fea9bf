"""Access tokens: each fetch issues a new one; the superseded one lives on for a grace period."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from .errors import ApiError

BEIJING_OFFSET_SECONDS = 8 * 3600


def beijing_day(now: float) -> int:
    """The calendar day number in China Standard Time, which is when WeChat's daily quotas reset."""
    return int((now + BEIJING_OFFSET_SECONDS) // 86400)


@dataclass
class Token:
    """One issued access token."""

    value: str
    lineage: str  # "token" (cgi-bin/token) or "stable" (stable_token): neither supersedes the other
    issued_at: float
    expires_at: float
    superseded_at: float | None = None
    revoked: bool = False


class TokenBook:
    """Issues and checks access tokens. Not thread-safe: the caller holds the state lock."""

    def __init__(self) -> None:
        self.tokens: dict[str, Token] = {}
        self.current: dict[str, Token] = {}
        self.issued = 0
        self.issued_by_day: dict[int, int] = {}
        self.forced_refreshes: list[float] = []

    def issue(self, lineage: str, now: float, expires_in: int) -> Token:
        """Issue a new token and start the grace period of the one it replaces."""
        previous = self.current.get(lineage)
        if previous is not None and previous.superseded_at is None:
            previous.superseded_at = now
        # real tokens are opaque, 100+ characters; the docs say to allow 512
        token = Token(secrets.token_urlsafe(96), lineage, now, now + expires_in)
        self.tokens[token.value] = token
        self.current[lineage] = token
        self.issued += 1
        if lineage == "token":  # the 2000-a-day quota is cgi-bin/token's; stable_token has its own limits
            day = beijing_day(now)
            self.issued_by_day[day] = self.issued_by_day.get(day, 0) + 1
        return token

    def issued_today(self, now: float) -> int:
        """How many cgi-bin/token tokens were issued on the current Beijing calendar day."""
        return self.issued_by_day.get(beijing_day(now), 0)

    def live_stable(self, now: float) -> Token | None:
        """The current stable token if it is still valid (stable_token hands it out again)."""
        token = self.current.get("stable")
        if token is None or token.revoked or now >= token.expires_at:
            return None
        return token

    def check(self, value: str | None, now: float, grace: float) -> Token:
        """Return the token if it may call the API.

        Raises:
            ApiError: 41001 missing, 40014 never issued, 40001 revoked or superseded past the grace, 42001 expired.
        """
        if not value:
            raise ApiError(41001)
        token = self.tokens.get(value)
        if token is None:
            raise ApiError(40014)
        if token.revoked or (token.superseded_at is not None and now > token.superseded_at + grace):
            raise ApiError(40001)
        if now >= token.expires_at:
            raise ApiError(42001)
        return token

    def revoke_all(self) -> None:
        """Invalidate every token issued so far."""
        for token in self.tokens.values():
            token.revoked = True
