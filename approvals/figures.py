"""Plain values of the dashboard, the annual report (art. 30) and the disclosure catalogue (art. 9).

The services compute them once; the console, the CLI's `report annual` and its files render the
same values (no face counts anything itself).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from approvals.rules.states import Category, Step

MONTHS = tuple(range(1, 13))


@dataclass(frozen=True)
class StepTime:
    """How long one chain step took in the year: from the moment it opened (the previous step's
    decision, or the revision or resubmission that started the run) to its decision."""

    step: Step
    decisions: int
    median_hours: float | None  # None: no decision at this step in the year


@dataclass(frozen=True)
class AnnualFigures:
    """What a year's report says, counted in the unit's time zone."""

    year: int
    as_of: date  # the day the figures were computed
    # (month, category value) -> posts published; (month, department code) -> posts published
    by_category: Counter[tuple[int, str]] = field(default_factory=Counter)
    by_department: Counter[tuple[int, str]] = field(default_factory=Counter)
    step_times: tuple[StepTime, ...] = ()
    # month of the due date -> posts published after it; and not published by now, due passed
    late: Counter[int] = field(default_factory=Counter)
    overdue_open: Counter[int] = field(default_factory=Counter)
    due: Counter[int] = field(default_factory=Counter)  # month -> posts whose due date has passed
    reposts: tuple[tuple[str, int], ...] = ()  # (channel, published reposts), most first

    @property
    def complete(self) -> bool:
        """Whether the year is over (else the figures are of the year so far)."""
        return self.as_of.year > self.year

    @property
    def published(self) -> int:
        """Posts published in the year."""
        return sum(self.by_category.values())

    def month_totals(self) -> list[int]:
        """Posts published in each month, January first."""
        return [sum(n for (mo, _), n in self.by_category.items() if mo == month)
                for month in MONTHS]

    def categories(self) -> list[Category]:
        """Categories with a post in the year, in the rules' order."""
        used = {c for _, c in self.by_category}
        return [c for c in Category if c.value in used]

    def departments(self) -> list[str]:
        """Department codes with a post in the year, most posts first."""
        totals: Counter[str] = Counter()
        for (_, d), n in self.by_department.items():
            totals[d] += n
        return [d for d, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]

    def series(self, kind: str, key: str) -> list[int]:
        """Month by month for one category (`kind` "category") or department ("department")."""
        counts = self.by_category if kind == "category" else self.by_department
        return [counts.get((month, key), 0) for month in MONTHS]


@dataclass(frozen=True)
class CatalogueEntry:
    """One line of the disclosure catalogue (政府信息公开目录, art. 9): index, name, summary and
    the date the information was formed (生成日期), with when and where it was published."""

    index: str  # 索引号, e.g. 2026-0001
    post_id: int
    title: str  # 名称
    summary: str  # 内容概述: the digest as published
    formed_on: date  # 生成日期
    published_on: date  # 公开日期 (the unit's time zone)
    category: Category
    department: str
    url: str | None


@dataclass(frozen=True)
class CatalogueQuery:
    """Which catalogue lines to show: a search in the name and summary, a year, a page (from 1)."""

    search: str | None = None
    year: int | None = None
    page: int = 1
    per_page: int = 50


CATALOGUE_PAGE_MAX = 200


@dataclass(frozen=True)
class CataloguePage:
    """One page of the catalogue, and how many lines match in all."""

    entries: tuple[CatalogueEntry, ...]
    total: int
    page: int
    per_page: int
    years: tuple[int, ...] = ()  # years with a published post, newest first

    @property
    def pages(self) -> int:
        """How many pages the matching lines fill (at least one)."""
        return max(1, -(-self.total // self.per_page))
