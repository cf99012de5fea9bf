"""The article as published: the laid-out body, uploaded image URLs, and the art. 28 footer."""

from __future__ import annotations

import html

from approvals.services.publishing import ASSET_SRC


def article_html(body_html: str, footer: str, image_urls: dict[str, str]) -> str:
    """Body with /assets/<sha256> images pointed at their uploaded URLs, then the footer."""

    def swap(match: object) -> str:
        sha = match.group(1)  # type: ignore[attr-defined]
        return f'src="{html.escape(image_urls[sha], quote=True)}"' if sha in image_urls \
            else match.group(0)  # type: ignore[attr-defined]

    body = ASSET_SRC.sub(swap, body_html)
    lines = "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in footer.splitlines())
    return f'{body}<section style="margin-top:2em;color:#888;font-size:14px">{lines}</section>'


def clientmsgid(post_id: int, revision_hash: str, attempt: int = 0) -> str:
    """The mass-send de-dup key: ASCII, at most 32 characters, one per post, revision and attempt."""
    return f"so{post_id}-{attempt}-{revision_hash[:16]}"[:32]
