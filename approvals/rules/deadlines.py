"""Disclosure deadlines on the Chinese working-day calendar (art. 14).

Which days are working days, in order of authority:

1. the State Council's schedule for the year as the bureau entered it in the org file
   (`[calendar.2027]`: holidays and make-up working days), when there is one;
2. chinesecalendar, which carries the published schedules (up to 2026 in 1.11);
3. for a year neither knows, the statutory holidays of the `holidays` package's China calendar
   (New Year's Day, the Spring Festival, …; no make-up working days), the result marked
   estimated (预估);
4. beyond that package's range, Monday to Friday, also estimated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType

import chinese_calendar

# art. 14: proactive information is published within 20 working days of its formation.
DISCLOSURE_WORKING_DAYS = 20


@dataclass(frozen=True)
class YearSchedule:
    """One year's published schedule: days off and make-up working days (调休上班)."""

    year: int
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    source: str = ""  # e.g. the State Council notice's number


@dataclass(frozen=True)
class WorkCalendar:
    """The working-day calendar with the bureau's own entries (which win)."""

    schedules: Mapping[int, YearSchedule] = field(
        default_factory=lambda: MappingProxyType({}))

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        """(is a working day, known from a published schedule) for `day`."""
        entered = self.schedules.get(day.year)
        if entered is not None:
            if day in entered.workdays:
                return True, True
            return day.weekday() < 5 and day not in entered.holidays, True
        try:
            return chinese_calendar.is_workday(day), True
        except NotImplementedError:
            return day.weekday() < 5 and day not in _statutory(day.year), False

    def knows(self, year: int) -> bool:
        """Whether the year's published schedule is known (entered, or in chinesecalendar)."""
        return year in self.schedules or _calendar_knows(year)


DEFAULT = WorkCalendar()


@lru_cache(maxsize=16)
def _statutory(year: int) -> frozenset[date]:
    # The holidays the law fixes, as the `holidays` package computes them for years the
    # published schedules do not cover yet; empty beyond its range. Imported here: it takes
    # 50 ms, and only a year past chinesecalendar's data needs it.
    import holidays

    try:
        return frozenset(holidays.country_holidays("CN", years=year))
    except (NotImplementedError, KeyError, ValueError):
        return frozenset()


@lru_cache(maxsize=64)
def _calendar_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class DueDate:
    """A due date; `estimated` when a year without a published schedule was counted."""

    due: date
    estimated: bool


def is_working_day(day: date, calendar: WorkCalendar = DEFAULT) -> tuple[bool, bool]:
    """(is a working day, known from a published schedule) for `day`."""
    return calendar.is_working_day(day)


def due_date(formed_on: date, working_days: int = DISCLOSURE_WORKING_DAYS,
             calendar: WorkCalendar = DEFAULT) -> DueDate:
    """The last day to publish information formed on `formed_on`."""
    day, counted, estimated = formed_on, 0, False
    while counted < working_days:
        day += timedelta(days=1)
        working, known = calendar.is_working_day(day)
        estimated = estimated or not known
        counted += working
    return DueDate(day, estimated)


def working_days_between(start: date, end: date, calendar: WorkCalendar = DEFAULT) -> int:
    """Working days after `start` up to and including `end` (negative when end < start)."""
    if end < start:
        return -working_days_between(end, start, calendar)
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += calendar.is_working_day(day)[0]
    return count
