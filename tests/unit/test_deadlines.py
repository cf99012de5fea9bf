"""Art. 14: proactive information is published within 20 working days, on China's calendar."""

from __future__ import annotations

from datetime import date

from approvals.rules.deadlines import due_date, is_working_day, working_days_between


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


def test_a_year_the_calendar_does_not_know_yet_is_counted_by_weekdays_and_marked_estimated(
        ) -> None:
    result = due_date(date(2027, 3, 1))  # a Monday
    assert result.due == date(2027, 3, 29)
    assert result.estimated


def test_working_days_between_is_antisymmetric() -> None:
    a, b = date(2026, 9, 25), date(2026, 10, 20)
    assert working_days_between(a, b) == -working_days_between(b, a) > 0
