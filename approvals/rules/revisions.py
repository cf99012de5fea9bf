"""Revision snapshots and their content hash (pure)."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import asdict, dataclass

from approvals.rules.errors import InvalidInput, Text

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


def check_fits_wechat(content: RevisionContent) -> None:
    """Refuse a revision WeChat's draft/add would refuse, before anyone reviews it.

    Raises:
        InvalidInput: naming every field that does not fit.
    """
    problems = []
    if not content.title.strip():
        problems.append(Text("标题不能为空", "the title is empty"))
    if len(content.title) > TITLE_MAX:
        problems.append(Text(f"标题 {len(content.title)} 字，公众号最多 {TITLE_MAX} 字",
                             f"the title has {len(content.title)} characters; WeChat allows "
                             f"{TITLE_MAX}"))
    if len(content.author) > AUTHOR_MAX:
        problems.append(Text(f"作者最多 {AUTHOR_MAX} 字", f"the author allows {AUTHOR_MAX} "
                             "characters"))
    if len(content.digest) > DIGEST_MAX:
        problems.append(Text(f"摘要最多 {DIGEST_MAX} 字", f"the digest allows {DIGEST_MAX} "
                             "characters"))
    if len(content.body_html) >= CONTENT_MAX_CHARS:
        problems.append(Text(f"正文须少于 {CONTENT_MAX_CHARS} 字符",
                             f"the body must be under {CONTENT_MAX_CHARS} characters"))
    if problems:
        raise InvalidInput(Text("排版稿不符合要求：" + "；".join(p.zh for p in problems),
                                "The revision does not fit: " + "; ".join(p.en for p in problems)))
