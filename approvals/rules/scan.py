"""Pre-publication scan of post text for classified markings and personal data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from html.parser import HTMLParser

from stdnum import luhn

RESIDENT_ID = "resident_id"
MOBILE = "mobile"
BANK_CARD = "bank_card"
CLASSIFICATION_MARKER = "classification_marker"
CLASSIFICATION_MENTION = "classification_mention"


@dataclass(frozen=True)
class Hit:
    """One finding in the scanned text; offsets index the text that was scanned."""

    kind: str
    text: str
    start: int
    end: int
    blocking: bool


# --------------------------------------------------------------------------- HTML

_HEADINGS = {f"h{level}" for level in range(1, 7)}
_BLOCK_TAGS = frozenset({"p", "div", "br", "li", "tr", "section", "blockquote", "pre", *_HEADINGS})
# Only these are dropped: anything else a reader could see must reach the scanner.
_HIDDEN_TAGS = frozenset({"script", "style"})
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


class _TextExtractor(HTMLParser):
    """Collects visible text, turning block boundaries into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._pre = 0

    def _at_line_start(self) -> bool:
        """Whether the output so far is empty or ends with a line break."""
        return not self.parts or self.parts[-1].endswith("\n")

    def _line_break(self) -> None:
        """End the current line unless it is already ended."""
        if not self._at_line_start():
            self.parts.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Track hidden/pre regions and open blocks on a new line."""
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self._pre += 1
            self._line_break()

    def handle_endtag(self, tag: str) -> None:
        """Close hidden/pre regions and end blocks with a line break."""
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS and tag != "br":
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self._line_break()

    def handle_data(self, data: str) -> None:
        """Keep visible text, collapsing source whitespace as a browser would."""
        if self._hidden:
            return
        if not self._pre:
            # A newline in the HTML source is not a visible line break; keeping it
            # would make the "秘密 at line start" marking rule fire mid-paragraph.
            data = _HTML_SPACE.sub(" ", data)
            if self._at_line_start():
                data = data.lstrip(" ")
        if data:
            self.parts.append(data)

    def parse_html_declaration(self, i: int) -> int:
        """Parse a <!...> declaration, keeping a malformed one as plain text."""
        try:
            return super().parse_html_declaration(i)
        except AssertionError:
            # The 3.11 parser raises on malformed "<![" sections; emit the "<" as text
            # and go on, so broken markup can neither crash the gate nor hide what follows.
            self.handle_data("<")
            return i + 1


@lru_cache(maxsize=256)
def html_to_text(html: str) -> str:
    """Return the visible text of an HTML fragment with blocks on separate lines.

    Kept for the most recent fragments (a pure function of its argument): one action runs
    several gates and notices over the same revision, each asking for its text."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


# ------------------------------------------------------------------ classification

_SP = r"[^\S\n]*"  # whitespace that stays on the same line
_LEVEL = "(?:绝密|机密|秘密)"
# Protection period written after the star, e.g. 机密★1年, 秘密★长期.
_PERIOD = r"(?:[0-9０-９一二三四五六七八九十百]+" + _SP + "(?:年|个月|月|日|天)|长期)"
_STARRED = f"(?:★{_SP})?{_LEVEL}{_SP}★(?:{_SP}{_PERIOD})?|★{_SP}{_LEVEL}"

# Art. 15, 18, 26: classified information must not be published, so anything that
# reads as a marking blocks. Ordered by precedence: an earlier rule's hit claims its
# span, so 机密★1年 is one hit rather than 机密 plus a star.
_MARKER_RULES: tuple[re.Pattern[str], ...] = (
    # A level inside brackets is a marking, e.g. 【秘密】, （机密★1年）.
    re.compile(f"[【\\[（(〔]{_SP}(?:{_STARRED}|{_LEVEL}){_SP}[】\\]）)〕]"),
    # The GB/T 9704 marking form "level★period".
    re.compile(_STARRED),
    # 绝密/机密 have no everyday meaning; 商业机密 is a trade-secret term and 机密性
    # the security property "confidentiality", both reported as mentions instead.
    re.compile("绝密|(?<!商业)机密(?!性)"),
    # 秘密 is ordinary prose except as the marking at the head of a line.
    re.compile(f"^{_SP}(?P<m>秘密)", re.MULTILINE),
    # Handling notices on internal material that is not for release.
    re.compile("内部资料|内部文件|内部刊物|注意保存|不予公开|不宜公开"),
)
# Prose such as 国家秘密 or 涉密信息不得发布 is legitimate; a human only double-checks it.
_MENTION = re.compile("商业机密|机密性|涉密|秘密")


def _overlaps(hits: list[Hit], start: int, end: int) -> bool:
    """Whether [start, end) intersects any existing hit."""
    return any(h.start < end and start < h.end for h in hits)


def find_classification_markers(text: str) -> list[Hit]:
    """Find classification markings (blocking) and mentions (warnings), in text order."""
    hits: list[Hit] = []
    for rule in _MARKER_RULES:
        for m in rule.finditer(text):
            start, end = m.span("m") if "m" in rule.groupindex else m.span()
            if not _overlaps(hits, start, end):
                hits.append(Hit(CLASSIFICATION_MARKER, text[start:end], start, end, True))
    for m in _MENTION.finditer(text):
        if not _overlaps(hits, m.start(), m.end()):
            hits.append(Hit(CLASSIFICATION_MENTION, m.group(), m.start(), m.end(), False))
    return sorted(hits, key=lambda h: h.start)


# ------------------------------------------------------------------- personal data

# Same-length mapping, so offsets found in the normalised text are valid in the
# original; editors often type numbers with full-width digits or spaces.
_NORMALIZE = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},
        "Ｘ": "X",
        "ｘ": "x",
        "\u3000": " ",
        "\xa0": " ",
        "－": "-",
        "＋": "+",
        "（": "(",
        "）": ")",
    }
)

# Art. 16 (identity). A run of digit groups joined by single spaces or hyphens, an X allowed at
# its very end; letters or digits glued on either side mean it is part of some longer code.
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9]+(?:[ -][0-9]+)*[Xx]?(?![0-9A-Za-z])")
_GROUP = re.compile(r"[0-9]+[Xx]?")
# A first-generation (15-digit, no check digit) ID counts only where the text names it as one.
_ID_LABEL = re.compile(r"(?:身份证|公民身份|证件)[^0-9\n]{0,12}$")
# GB/T 2260 province-level codes (with 81-83 for the residence permits of Hong Kong, Macao and
# Taiwan residents). The county part is not checked: an ID keeps the code of the office that
# issued it, and districts are created, renamed and merged (吴江区 320509 dates from 2012).
_PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
})
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Art. 16 (property): contiguous, or groups of four with one separator kind; a
# grouped run continuing past the card length is some other number.
_BANK_CARD: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?<![0-9])[0-9]{15,19}(?![0-9])"),
    re.compile(
        r"(?<![0-9])(?<![0-9][ -])[0-9]{4}(?P<sep>[ -])[0-9]{4}(?:(?P=sep)[0-9]{4}){1,2}"
        r"(?:(?P=sep)[0-9]{1,4})?(?![0-9])(?!(?P=sep)[0-9])"
    ),
)
# Art. 16 (contact): 1[3-9]x xxxx xxxx with an optional +86 / 86 / (+86) / 0086 prefix.
# Landlines start with 0 and hotlines are short, so neither can match.
_MOBILE = re.compile(
    r"(?<![0-9])(?:(?:\(\+?86\)|(?:\+|00)?86)[ -]?)?"
    r"1[3-9][0-9](?:[0-9]{8}|(?P<sep>[ -])[0-9]{4}(?P=sep)[0-9]{4}(?!(?P=sep)[0-9]))(?![0-9])"
)


def _compact(candidate: str) -> str:
    """Drop the separators a number was written with."""
    return candidate.replace(" ", "").replace("-", "")


def _plausible_birth(year: int, month: int, day: int) -> bool:
    if not 1900 <= year <= 2100:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def is_resident_id(number: str) -> bool:
    """An 18-character GB 11643 number: a known province, a real birth date, its check digit."""
    if len(number) != 18 or not number[:17].isdigit() or number[:2] not in _PROVINCES:
        return False
    if not _plausible_birth(int(number[6:10]), int(number[10:12]), int(number[12:14])):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def is_first_generation_id(number: str) -> bool:
    """A 15-digit first-generation number (region, YYMMDD of the 1900s, sequence)."""
    return (len(number) == 15 and number.isdigit() and number[:2] in _PROVINCES
            and _plausible_birth(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])))


def _resident_ids(norm: str) -> list[tuple[int, int]]:
    """Spans of resident IDs: 18 characters (15 where labelled), written whole or split into up
    to six groups of two or more digits by one kind of separator."""
    spans = []
    for run in _DIGIT_RUN.finditer(norm):
        groups = [(g.start() + run.start(), g.end() + run.start())
                  for g in _GROUP.finditer(run.group())]
        for i, (first, _) in enumerate(groups):
            labelled = _ID_LABEL.search(norm[max(0, first - 24):first]) is not None
            digits, sep = "", None
            for j in range(i, min(i + 6, len(groups))):
                start, end = groups[j]
                if j > i:
                    gap = norm[groups[j - 1][1]:start]
                    if sep is not None and gap != sep:
                        break
                    sep = gap
                if end - start < 2 and len(groups) > 1:
                    break
                digits += norm[start:end]
                if len(digits) > 18 or (digits[-1] in "Xx" and len(digits) < 18):
                    break
                if is_resident_id(digits) or (labelled and is_first_generation_id(digits)):
                    spans.append((first, end))
                    break
    return spans


def _has_card_issuer(number: str) -> bool:
    """Check length and issuer prefix against the major card schemes."""
    if number[:2] in ("34", "37"):  # American Express is the one 15-digit scheme
        return 15 <= len(number) <= 19
    if not 16 <= len(number) <= 19:
        return False
    return (
        number.startswith(("62", "4", "35", "6011", "65"))  # UnionPay, Visa, JCB, Discover
        or 51 <= int(number[:2]) <= 55  # Mastercard
        or 2221 <= int(number[:4]) <= 2720  # Mastercard 2-series
    )


def find_personal_data(text: str) -> list[Hit]:
    """Find resident IDs, mobile numbers and bank cards (all blocking), in text order."""
    norm = text.translate(_NORMALIZE)
    hits: list[Hit] = []

    def add(kind: str, start: int, end: int) -> None:
        if not _overlaps(hits, start, end):
            hits.append(Hit(kind, text[start:end], start, end, True))

    # IDs first: an 18-digit ID can also be Luhn-valid, and must be reported once.
    for start, end in _resident_ids(norm):
        add(RESIDENT_ID, start, end)
    for pattern in _BANK_CARD:
        for m in pattern.finditer(norm):
            digits = _compact(m.group())
            if _has_card_issuer(digits) and luhn.is_valid(digits):
                add(BANK_CARD, m.start(), m.end())
    for m in _MOBILE.finditer(norm):
        add(MOBILE, m.start(), m.end())
    return sorted(hits, key=lambda h: h.start)


def mask(kind: str, text: str) -> str:
    """Return text with the middle of a personal-data number replaced by stars."""
    if kind in (CLASSIFICATION_MARKER, CLASSIFICATION_MENTION):
        return text  # markings are not personal data; showing them helps the editor
    norm = text.translate(_NORMALIZE)
    significant = [i for i, c in enumerate(norm) if c.isascii() and c.isalnum()]
    head = 4
    if kind == MOBILE:
        # Mask the 11-digit national number; a +86 prefix reveals nothing.
        significant = [i for i in significant if norm[i].isdigit()][-11:]
        head = 3
    shown: set[int] = set()
    if len(significant) > head + 4:  # too short to show anything safely otherwise
        shown = set(significant[:head] + significant[-4:])
    hidden = set(significant) - shown
    return "".join("*" if i in hidden else c for i, c in enumerate(text))
