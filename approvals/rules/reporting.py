"""Pure rules of the dashboard, the annual report (art. 30) and the disclosure catalogue (art. 9).

- Who may read the figures: admins, the operator and the unit's leaders (the issuer, the principal
  leader, the chain's fallbacks and every department's supervising leader).
- Which year may be reported: a four-digit year that has begun (art. 30: the report of a year is
  published by 31 January of the next; a year in progress is shown as such, never one ahead).
- The catalogue's index number (索引号, art. 9): `<year>-<sequence>`, see `index_number`.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from urllib.parse import urlsplit

from approvals.rules.errors import InvalidInput, Text
from approvals.rules.org import OrgChart

FIRST_YEAR = 2000  # nothing older was ever published on an official account
INDEX_DIGITS = 4


def may_see_reports(org: OrgChart, person: str) -> bool:
    """Whether `person` may see the dashboard and the annual figures (art. 30's report is
    compiled by the 法宣科 and answered for by the leaders)."""
    leaders = {org.issuer, *org.chain.fallback,
               *(d.supervising_leader for d in org.departments.values())}
    if org.principal_leader:
        leaders.add(org.principal_leader)
    return person in leaders or org.is_admin(person) or org.is_operator(person)


def parse_year(value: str | int | None, today: date) -> int:
    """The report's year from what a person typed: four digits, not before FIRST_YEAR, and not
    after the current year (in the unit's time zone).

    Raises:
        InvalidInput: saying which rule the value breaks.
    """
    typed = str(value if value is not None else "").strip()
    if not (len(typed) == 4 and typed.isascii() and typed.isdigit()):
        raise InvalidInput(Text("年份“{v}”无效，应为四位数字，如 {y}。",
                                "Invalid year “{v}”; give four digits, like {y}.")
                           .format(v=typed[:20], y=today.year - 1))
    year = int(typed)
    if year > today.year:
        raise InvalidInput(Text("{v} 年尚未开始，不能编制该年度报告。",
                                "The year {v} has not begun; there is nothing to report yet.")
                           .format(v=year))
    if year < FIRST_YEAR:
        raise InvalidInput(Text("年份 {v} 过早，最早为 {f} 年。", "The year {v} is too early; the "
                                "first is {f}.").format(v=year, f=FIRST_YEAR))
    return year


def index_number(year: int, sequence: int) -> str:
    """The catalogue index of the `sequence`-th post first published in `year` (from 1):
    `2026-0001`. Wider sequences keep every digit (`2026-12345`)."""
    return f"{year}-{sequence:0{INDEX_DIGITS}d}"


def source_channel(source: str) -> str:
    """The channel a repost came from (art. 28): a URL's host without `www.`, or an official
    account's name as written (NFKC, trimmed): the reposts of one channel count together."""
    source = unicodedata.normalize("NFKC", source).strip()
    if "://" in source:
        try:
            host = urlsplit(source).hostname or ""
        except ValueError:
            host = ""
        host = host.rstrip(".").lower()
        return host.removeprefix("www.") or source
    return source
