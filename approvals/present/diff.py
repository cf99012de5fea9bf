"""What changed between two revisions, line by line, for people comparing what they approved."""

from __future__ import annotations

import difflib
import html
import re

from approvals.rules.errors import Text
from approvals.rules.revisions import RevisionContent

_BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|blockquote|pre|tr|section)>|<br\s*/?>|<hr\s*/?>", re.I)
_TAG = re.compile(r"<[^>]+>")
FIELDS = (("title", Text("标题", "Title")), ("author", Text("作者", "Author")),
          ("digest", Text("摘要", "Digest")), ("repost_source", Text("来源", "Source")),
          ("cover_sha256", Text("封面", "Cover")))


def text_lines(body_html: str) -> list[str]:
    """The body as the reader sees it: one line per paragraph, markup removed."""
    text = html.unescape(_TAG.sub("", _BLOCK_END.sub("\n", body_html)))
    return [line.strip() for line in text.splitlines() if line.strip()]


def revision_diff(old: RevisionContent, new: RevisionContent, lang: str
                  ) -> list[tuple[str, str]]:
    """(kind, text) lines: "-" only in the old, "+" only in the new, " " in both, "@" a heading."""
    out: list[tuple[str, str]] = []
    for name, label in FIELDS:
        before, after = getattr(old, name) or "", getattr(new, name) or ""
        if before != after:
            out.append(("@", label.get(lang)))
            if before:
                out.append(("-", before))
            if after:
                out.append(("+", after))
    a, b = text_lines(old.body_html), text_lines(new.body_html)
    if a != b:
        out.append(("@", "正文" if lang != "en" else "Body"))
        for line in difflib.ndiff(a, b):
            if line[0] in "+- ":
                out.append((line[0], line[2:]))
    return out
