"""Turn handed-in material (plain text, Markdown, HTML) into clean article HTML."""

from __future__ import annotations

import html
import re
import unicodedata

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

# The inline styles an article keeps (what WeChat's editor keeps): text, spacing, borders, sizes.
# Anything else (position, z-index, behavior, -moz-binding, …) is dropped property by property.
STYLE_PROPERTIES = {
    "color", "background", "background-color", "background-image", "font-size", "font-weight",
    "font-style", "font-family",
    "text-align", "text-decoration", "text-indent", "text-transform", "line-height",
    "letter-spacing", "word-spacing", "word-break", "word-wrap", "overflow-wrap", "white-space",
    "vertical-align", "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left", "border",
    "border-top", "border-right", "border-bottom", "border-left", "border-color", "border-style",
    "border-width", "border-radius", "border-collapse", "border-spacing", "width", "max-width",
    "min-width", "height", "max-height", "min-height", "box-sizing", "display", "list-style-type",
}
# A style that could run code or hide what it does (IE's expression(), script URLs, bindings,
# CSS escapes and comments that split a keyword) is dropped whole. url(…) stays for layout to
# refuse with its own message (art. 28's "what was approved is what is published").
_STYLE_DANGER = re.compile(r"expression|javascript|vbscript|behavior|binding|@import|[\\<>]|/\*",
                           re.IGNORECASE)

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def sanitize(fragment: str) -> str:
    """Keep only tags and attributes the article may carry; scripts and handlers are removed."""
    return nh3.clean(fragment, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https"}, link_rel=None,
                     filter_style_properties=STYLE_PROPERTIES,
                     attribute_filter=_attribute).strip()


def _attribute(_tag: str, name: str, value: str) -> str | None:
    """nh3's hook for each kept attribute: a dangerous style goes whole (None drops it)."""
    if name == "style" and _STYLE_DANGER.search(value):
        return None
    return value


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
    if not _shows_anything(result):
        raise InvalidInput(Text("正文为空。", "The body is empty."))
    return result


def _shows_anything(fragment: str) -> bool:
    """Whether clean HTML shows something: an image, or a character that is neither a space
    nor invisible (a body of zero-width spaces alone is empty)."""
    if "<img" in fragment:
        return True
    text = html.unescape(re.sub(r"<[^>]*>", "", fragment))
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)
