"""Turn handed-in material (plain text, Markdown, HTML) into clean article HTML."""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

from approvals.rules.errors import InvalidInput, Text

FORMATS = ("text", "markdown", "html")
# C0 controls but tab and line ends, DEL, C1 controls, lone surrogates: no article carries them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

# What WeChat's article editor keeps; styling must be inline (it drops <style>, ids, scripts).
ALLOWED_TAGS = {
    "section", "p", "span", "strong", "b", "em", "i", "u", "a", "h1", "h2", "h3", "h4", "h5",
    "h6", "ul", "ol", "li", "blockquote", "pre", "code", "table", "thead", "tbody", "tr", "th",
    "td", "br", "img", "hr", "sup", "sub",
}
ALLOWED_ATTRIBUTES = {
    "*": {"style"},
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def sanitize(fragment: str) -> str:
    """Keep only tags and attributes the article may carry; scripts and handlers are removed."""
    return nh3.clean(fragment, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https"}, link_rel=None).strip()


def to_html(body: str, fmt: str) -> str:
    """Clean article HTML from `body` written in `fmt` (text, markdown or html).

    Raises:
        InvalidInput: unknown format, or nothing left after cleaning.
    """
    if fmt not in FORMATS:
        raise InvalidInput(Text("正文格式须为 text、markdown 或 html，而不是“{f}”。",
                                "The body format must be text, markdown or html, not “{f}”.")
                           .format(f=fmt))
    bad = _CONTROL.search(body)
    if bad:
        raise InvalidInput(Text("正文第 {i} 个字符是控制字符（U+{c:04X}），请删去后重新提交。",
                                "Character {i} of the body is a control character (U+{c:04X}); "
                                "remove it and hand in again.")
                           .format(i=bad.start() + 1, c=ord(bad.group())))
    if fmt == "text":
        paragraphs = [p.strip() for p in body.replace("\r\n", "\n").split("\n") if p.strip()]
        result = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    elif fmt == "markdown":
        result = sanitize(_markdown.render(body))
    else:
        result = sanitize(body)
    if not result.strip():
        raise InvalidInput(Text("正文为空。", "The body is empty."))
    return result
