"""Reminders and escalation: how long a step has waited, in working hours, and what is due. Pure.

A step waits from the change that opened it. Only office hours of working days count (the
working-day calendar of art. 14: holidays off, make-up working days on), so a post laid out on
Friday evening has not waited over the weekend. An approver is reminded each time another
`every` working hours pass, at most `times` times; after that the admins are told once.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum

from approvals.rules.deadlines import WorkCalendar

OFFICE_OPENS = time(9, 0)
OFFICE_CLOSES = time(17, 0)
DAY_HOURS = 8.0


class Due(StrEnum):
    """What a waiting step calls for now."""

    REMIND = "remind"
    ESCALATE = "escalate"


def working_hours(start: datetime, end: datetime, calendar: WorkCalendar) -> float:
    """Office hours of working days between two local times (0 when end is not after start)."""
    if end <= start:
        return 0.0
    total = 0.0
    day = start.date()
    while day <= end.date():
        if calendar.is_working_day(day)[0]:
            opens = datetime.combine(day, OFFICE_OPENS, start.tzinfo)
            closes = datetime.combine(day, OFFICE_CLOSES, start.tzinfo)
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
        day += timedelta(days=1)
    return total


def due(waited_hours: float, reminded: int, escalated: bool, *, every: float, times: int
        ) -> Due | None:
    """What to send for a step that has waited `waited_hours` and had `reminded` reminders."""
    if every <= 0:
        return None
    if reminded < times and waited_hours >= every * (reminded + 1):
        return Due.REMIND
    if reminded >= times and not escalated and waited_hours >= every * (times + 1):
        return Due.ESCALATE
    return None


def working_days_until(today: date, due_on: date, calendar: WorkCalendar) -> int:
    """Working days from today (exclusive) to the due date (inclusive); negative when past."""
    if due_on < today:
        return -sum(1 for n in range((today - due_on).days)
                    if calendar.is_working_day(due_on + timedelta(days=n))[0])
    return sum(1 for n in range(1, (due_on - today).days + 1)
               if calendar.is_working_day(today + timedelta(days=n))[0])


def in_office_hours(at: datetime, calendar: WorkCalendar) -> bool:
    """Whether `at` (local) is in office hours of a working day: when reminders go out."""
    return calendar.is_working_day(at.date())[0] and OFFICE_OPENS <= at.time() < OFFICE_CLOSES
