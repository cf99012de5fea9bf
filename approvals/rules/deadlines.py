"""Disclosure deadlines on the Chinese working-day calendar (art. 14)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

# art. 14: proactive information is published within 20 working days of its formation.
DISCLOSURE_WORKING_DAYS = 20


@dataclass(frozen=True)
class DueDate:
    """A due date; `estimated` when a year beyond the calendar's data was counted by weekends."""

    due: date
    estimated: bool


def is_working_day(day: date) -> tuple[bool, bool]:
    """(is a working day, known from the official calendar) for `day`."""
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        # The State Council publishes each year's holidays in the autumn before; until the
        # package knows a year, count Monday to Friday and mark the result as an estimate.
        return day.weekday() < 5, False


def due_date(formed_on: date, working_days: int = DISCLOSURE_WORKING_DAYS) -> DueDate:
    """The last day to publish information formed on `formed_on`."""
    day, counted, estimated = formed_on, 0, False
    while counted < working_days:
        day += timedelta(days=1)
        working, known = is_working_day(day)
        estimated = estimated or not known
        counted += working
    return DueDate(day, estimated)


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (negative when end < start)."""
    if end < start:
        return -working_days_between(end, start)
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)[0]
    return count
