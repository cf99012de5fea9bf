"""Revision snapshots and their content hash (pure)."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import asdict, dataclass

HASH_VERSION = "signoff-revision-v1"

# The limits WeChat enforces on draft/add, checked before anyone reviews a revision.
TITLE_MAX = 32
AUTHOR_MAX = 16
DIGEST_MAX = 128
CONTENT_MAX_CHARS = 20_000


def _norm(value: str | None) -> str | None:
    if value is None:
        return None
    return unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))


@dataclass(frozen=True)
class RevisionContent:
    """What a person approves: every field that reaches the published article."""

    title: str
    body_html: str
    category: str
    author: str = ""
    digest: str = ""
    cover_sha256: str | None = None
    repost_source: str | None = None

    def normalized(self) -> RevisionContent:
        """The same content with Unicode NFC and LF line ends, as it is stored and hashed."""
        return RevisionContent(
            title=_norm(self.title) or "",
            body_html=_norm(self.body_html) or "",
            category=self.category,
            author=_norm(self.author) or "",
            digest=_norm(self.digest) or "",
            cover_sha256=self.cover_sha256,
            repost_source=_norm(self.repost_source) or None,
        )

    def canonical(self) -> bytes:
        """Canonical bytes: sorted-key compact JSON of the normalized fields, versioned."""
        doc = {"v": HASH_VERSION, **asdict(self.normalized())}
        return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def content_hash(self) -> str:
        """SHA-256 hex digest of the canonical form; every decision records it."""
        return hashlib.sha256(self.canonical()).hexdigest()

