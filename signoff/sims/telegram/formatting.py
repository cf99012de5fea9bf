"""Message text as Telegram reads it: lengths in UTF-16 code units, HTML parse mode, command entities."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import BotApiError

PARSE_MODES = ("HTML", "Markdown", "MarkdownV2")
# tag -> entity type; <a>, <span>, <tg-emoji> and <blockquote expandable> are handled apart
SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "code": "code", "pre": "pre", "blockquote": "blockquote",
}
# no <br>: Telegram refuses it (a newline is a newline)
KNOWN_TAGS = {*SIMPLE_TAGS, "a", "span", "tg-emoji"}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}  # the only named ones Telegram knows
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^<>]*?)?)\s*/?>")
_ATTR = re.compile(r"""([A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]+));")
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")


def utf16_len(text: str) -> int:
    """The length Telegram measures limits and entity offsets in."""
    return len(text.encode("utf-16-le")) // 2


def _fail(reason: str) -> BotApiError:
    return BotApiError.bad_request(f"can't parse entities: {reason}")


@dataclass
class _Open:
    tag: str
    offset: int  # UTF-16 offset in the plain text where the tag opened
    entity: dict[str, Any] | None


@dataclass
class _Parser:
    source: str
    parts: list[str] = field(default_factory=list)
    length: int = 0
    stack: list[_Open] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def open(self, name: str, attrs: dict[str, str], at: int) -> None:
        if name not in KNOWN_TAGS:
            raise _fail(f'Unsupported start tag "{name}" at byte offset {self.byte_offset(at)}')
        entity: dict[str, Any] | None = None
        if name in SIMPLE_TAGS:
            entity = {"type": SIMPLE_TAGS[name]}
            if name == "blockquote" and "expandable" in attrs:
                entity["type"] = "expandable_blockquote"
        elif name == "a":
            href = attrs.get("href", "")
            match = re.fullmatch(r"tg://user\?id=(\d+)", href)
            if match:
                entity = {"type": "text_mention", "user": {"id": int(match.group(1)), "is_bot": False,
                                                           "first_name": ""}}
            elif href:
                entity = {"type": "text_link", "url": href}
        elif name == "span":
            if attrs.get("class") != "tg-spoiler":
                raise _fail('Tag "span" must have class "tg-spoiler"')
            entity = {"type": "spoiler"}
        elif name == "tg-emoji":
            if not attrs.get("emoji-id", "").isdigit():
                raise _fail('Tag "tg-emoji" must have attribute "emoji-id" with a number')
            entity = {"type": "custom_emoji", "custom_emoji_id": attrs["emoji-id"]}
        if name == "code" and self.stack and self.stack[-1].tag == "pre":
            language = attrs.get("class", "")
            if language.startswith("language-") and self.stack[-1].entity is not None:
                self.stack[-1].entity["language"] = language.removeprefix("language-")
            entity = None  # <pre><code> is one pre entity
        self.stack.append(_Open(name, self.length, entity))

    def close(self, name: str, at: int) -> None:
        if not self.stack:
            raise _fail(f"Unexpected end tag at byte offset {self.byte_offset(at)}")
        top = self.stack.pop()
        if top.tag != name:
            raise _fail(f'Unmatched end tag at byte offset {self.byte_offset(at)}, expected "</{top.tag}>", '
                        f'found "</{name}>"')
        if top.entity is not None and self.length > top.offset:
            self.entities.append({**top.entity, "offset": top.offset, "length": self.length - top.offset})

    def text(self, chunk: str, start: int) -> None:
        if "<" in chunk:  # a "<" that opens no tag (a lone ">" passes, as Telegram lets it)
            raise _fail(f"Unsupported start tag at byte offset {self.byte_offset(start + chunk.index('<'))}")
        position = 0
        for match in _ENTITY.finditer(chunk):
            self.emit(chunk[position:match.start()])
            decimal, hexa, named = match.groups()
            if named is not None:
                # unknown named entities stay literal text
                self.emit(NAMED_ENTITIES.get(named, match.group(0)))
            else:
                code = int(decimal) if decimal is not None else int(hexa, 16)
                self.emit(chr(code) if 0 < code <= 0x10FFFF else "\ufffd")
            position = match.end()
        self.emit(chunk[position:])


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and the entities of a text sent with parse_mode=HTML, validated loosely.

    Raises:
        BotApiError: 400 "can't parse entities: ..." for an unknown, unbalanced or unclosed tag.
    """
    parser = _Parser(source)
    position = 0
    for match in _TAG.finditer(source):
        parser.text(source[position:match.start()], position)
        closing, name, attrs = match.groups()
        name = name.lower()
        if closing:
            parser.close(name, match.start())
        else:
            found = {m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "")
                     for m in _ATTR.finditer(attrs)}
            parser.open(name, found, match.start())
        position = match.end()
    parser.text(source[position:], position)
    if parser.stack:
        raise _fail(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1].tag}"')
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.parts), entities


def render(source: str, parse_mode: str | None, entities: Any = None) -> tuple[str, list[dict[str, Any]]]:
    """What Telegram stores for a text or caption: plain text and entities.

    HTML is parsed; Markdown modes are accepted and kept as sent (not parsed); without a parse
    mode, explicit `entities` are kept.

    Raises:
        BotApiError: 400 for an unsupported parse mode or HTML that does not parse.
    """
    if parse_mode:
        if parse_mode not in PARSE_MODES:
            raise BotApiError.bad_request("unsupported parse_mode")
        if parse_mode == "HTML":
            return parse_html(source)
        return source, []
    return source, list(entities) if isinstance(entities, list) else []


def command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entities Telegram marks in a user's text (`/start`, `/help@some_bot`)."""
    found = []
    for match in _COMMAND.finditer(text):
        offset = utf16_len(text[:match.start()])
        found.append({"type": "bot_command", "offset": offset, "length": utf16_len(match.group(0))})
    return found
