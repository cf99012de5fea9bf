"""Links into the console that other faces send (the chat bot's preview links).

A preview link is signed with the console's key (itsdangerous, as the console itself does), so a
link the bot sends opens in the console without a login, per revision, and expires.
"""

from __future__ import annotations

from collections.abc import Sequence

from itsdangerous import URLSafeTimedSerializer

PREVIEW_SALT = "signoff-preview-v1"
PREVIEW_MAX_AGE = 7 * 24 * 3600  # a week: a chain takes days, not months


def preview_signer(keys: Sequence[str]) -> URLSafeTimedSerializer:
    """The serializer with every key that may verify; the last one signs."""
    return URLSafeTimedSerializer(list(keys), salt=PREVIEW_SALT)


def preview_link(console_url: str, key: str, post_id: int, revision_hash: str) -> str:
    """The console's preview page of one revision, as a link anyone holding it may open."""
    token = preview_signer([key]).dumps({"p": post_id, "r": revision_hash})
    return f"{console_url.rstrip('/')}/p/{token}"
