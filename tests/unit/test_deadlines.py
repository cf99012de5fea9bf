"""Art. 14: proactive information is published within 20 working days, on China's calendar."""

from __future__ import annotations

from datetime import date
from types import MappingProxyType

import pytest

from approvals.rules.deadlines import (
    DEFAULT,
    WorkCalendar,
    YearSchedule,
    due_date,
    is_working_day,
    working_days_between,
)


def test_twenty_working_days_in_an_ordinary_stretch_are_four_weeks() -> None:
    # 2026-11-02 is a Monday; no holidays until the new year.
    assert due_date(date(2026, 11, 2)) == due_date(date(2026, 11, 2))
    assert due_date(date(2026, 11, 2)).due == date(2026, 11, 30)
    assert not due_date(date(2026, 11, 2)).estimated


def test_the_national_day_holiday_is_skipped_and_make_up_workdays_count() -> None:
    # 2026: 10-01..10-07 off; Sunday 09-20 and Saturday 10-10 are make-up working days.
    assert is_working_day(date(2026, 10, 2)) == (False, True)
    assert is_working_day(date(2026, 10, 10)) == (True, True)
    plain = 20 + 5  # twenty weekdays plus the five weekdays of the holiday week
    result = due_date(date(2026, 9, 30))
    assert result.due == date(2026, 11, 3)
    assert working_days_between(date(2026, 9, 30), result.due) == 20
    assert (result.due - date(2026, 9, 30)).days > plain


def test_spring_festival_pushes_the_due_date_out() -> None:
    ordinary = due_date(date(2026, 1, 5)).due
    festival = due_date(date(2026, 2, 9)).due
    assert (ordinary - date(2026, 1, 5)).days < (festival - date(2026, 2, 9)).days


def test_a_year_the_calendar_does_not_know_yet_is_counted_with_the_statutory_holidays(
        ) -> None:
    # 2027-01-01 (a Friday) is New Year's Day, whatever the published schedule will add.
    assert is_working_day(date(2027, 1, 1)) == (False, False)
    assert is_working_day(date(2027, 1, 4)) == (True, False)
    result = due_date(date(2026, 12, 28))
    assert result.estimated
    assert result.due == date(2027, 1, 26)  # 20 weekdays after 12-28, New Year's Day skipped


@pytest.mark.parametrize("year", range(2027, 2041))
def test_the_fixed_statutory_holidays_are_days_off_in_every_later_year(year: int) -> None:
    # The national holidays regulation fixes New Year's Day (1 Jan), Labour Day (1–2 May) and
    # National Day (1–3 Oct): whatever a year's schedule adds, these are never working days.
    for day in (date(year, 1, 1), date(year, 5, 1), date(year, 5, 2), date(year, 10, 1),
                date(year, 10, 2), date(year, 10, 3)):
        assert is_working_day(day) == (False, False), day


def test_a_schedule_the_bureau_entered_wins_and_is_not_an_estimate() -> None:
    entered = WorkCalendar(MappingProxyType({
        2027: YearSchedule(2027, frozenset({date(2027, 1, 1), date(2027, 1, 4)}),
                           frozenset({date(2027, 1, 9)})),
        # Even a year chinesecalendar knows: the entry is what the bureau was told.
        2026: YearSchedule(2026, frozenset({date(2026, 11, 2)})),
    }))
    assert entered.is_working_day(date(2027, 1, 4)) == (False, True)
    assert entered.is_working_day(date(2027, 1, 9)) == (True, True)  # a make-up Saturday
    assert entered.is_working_day(date(2027, 1, 10)) == (False, True)
    assert entered.is_working_day(date(2026, 11, 2)) == (False, True)
    assert is_working_day(date(2026, 11, 2)) == (True, True)
    result = due_date(date(2026, 12, 28), calendar=entered)
    assert not result.estimated and result.due == date(2027, 1, 26)
    assert entered.knows(2027) and not DEFAULT.knows(2027) and DEFAULT.knows(2026)


def test_working_days_between_is_antisymmetric() -> None:
    a, b = date(2026, 9, 25), date(2026, 10, 20)
    assert working_days_between(a, b) == -working_days_between(b, a) > 0
