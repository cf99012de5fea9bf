"""Reminders, escalation and due-date flags on a real database, with the working-hours rule
checked on its own (weekends, the 2026 National Day holiday and its make-up working days)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from approvals.bootstrap import Core
from approvals.rules.deadlines import DEFAULT
from approvals.rules.notices import Event
from approvals.rules.reminders import Due, due, working_days_until, working_hours
from approvals.services.reminders import ReminderPolicy
from tests.conftest import ZONE, Clock, Personas

BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"
POLICY = ReminderPolicy(every_hours=8, times=2, due_soon_days=3)


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZONE)


# --- the rule ---------------------------------------------------------------------------------


def test_only_office_hours_of_working_days_count() -> None:
    assert working_hours(at(2026, 12, 8, 10), at(2026, 12, 8, 18), DEFAULT) == 7  # Tue
    assert working_hours(at(2026, 12, 11, 16), at(2026, 12, 14, 10), DEFAULT) == 2  # Fri → Mon
    # 2026: Mid-Autumn (Fri Sep 25) and National Day (Oct 1–7) off; Sunday Sep 20 and Saturday
    # Oct 10 are make-up working days.
    assert working_hours(at(2026, 9, 24, 16), at(2026, 9, 28, 10), DEFAULT) == 2
    assert working_hours(at(2026, 9, 30, 16), at(2026, 10, 8, 10), DEFAULT) == 2
    assert working_hours(at(2026, 9, 20, 8), at(2026, 9, 20, 20), DEFAULT) == 8
    assert working_hours(at(2026, 10, 10, 9), at(2026, 10, 10, 12), DEFAULT) == 3
    assert working_hours(at(2026, 10, 11, 9), at(2026, 10, 11, 17), DEFAULT) == 0
    assert working_hours(at(2026, 12, 8, 12), at(2026, 12, 8, 11), DEFAULT) == 0


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
def test_working_hours_add_up_and_never_exceed_eight_a_day(start: datetime, a: timedelta,
                                                           b: timedelta) -> None:
    s = start.replace(tzinfo=ZONE)
    whole = working_hours(s, s + a + b, DEFAULT)
    assert abs(whole - working_hours(s, s + a, DEFAULT) - working_hours(s + a, s + a + b, DEFAULT)) < 1e-6
    assert 0 <= whole <= 8 * ((a + b).days + 2)


def test_reminders_come_every_period_up_to_the_limit_then_one_escalation() -> None:
    sent, escalated, seen = 0, False, []
    for hours in range(0, 60):
        what = due(hours, sent, escalated, every=8, times=2)
        if what is Due.REMIND:
            sent += 1
        elif what is Due.ESCALATE:
            escalated = True
        if what is not None:
            seen.append((hours, what))
    assert seen == [(8, Due.REMIND), (16, Due.REMIND), (24, Due.ESCALATE)]
    assert due(100, 0, False, every=0, times=2) is None  # switched off


def test_working_days_until_counts_forward_and_back() -> None:
    assert working_days_until(date(2026, 12, 11), date(2026, 12, 15), DEFAULT) == 2  # Fri → Tue
    assert working_days_until(date(2026, 9, 30), date(2026, 10, 9), DEFAULT) == 2  # over the holiday
    assert working_days_until(date(2026, 12, 15), date(2026, 12, 11), DEFAULT) == -2
    assert working_days_until(date(2026, 12, 8), date(2026, 12, 8), DEFAULT) == 0


# --- the pass on a real database ---------------------------------------------------------------


def told(core: Core, pid: int, event: Event) -> list[str]:
    return [n.recipient for n in core.service.notifications_for(post_id=pid) if n.event is event]


def test_an_approver_is_reminded_twice_then_the_admins_are_told_once(
        core: Core, clock: Clock, who: Personas) -> None:
    svc = core.service
    clock.now = at(2026, 12, 8, 10)  # Tuesday
    pid = svc.create_post(drafter=who.drafter, title="我局开展冬季防汛应急演练", body=BODY)
    svc.act(pid, "new_revision", who.operator)
    clock.now = at(2026, 12, 8, 18)  # 7 working hours, and the office is closed: nothing
    assert svc.send_reminders(POLICY) == {"reminded": 0, "escalated": 0, "due_soon": 0}
    clock.now = at(2026, 12, 9, 10)  # 8 working hours
    assert svc.send_reminders(POLICY)["reminded"] == 1
    assert svc.send_reminders(POLICY)["reminded"] == 0  # a second pass sends nothing twice
    (text,) = [n.text for n in svc.notifications_for(post_id=pid) if n.event is Event.REMINDER]
    assert "已等待您办理 8 个工作小时" in text and "拟稿人确认" in text
    clock.now = at(2026, 12, 10, 10)
    assert svc.send_reminders(POLICY)["reminded"] == 1
    clock.now = at(2026, 12, 11, 10)
    done = svc.send_reminders(POLICY)
    assert done["reminded"] == 0 and done["escalated"] == len(core.org.admins)
    clock.now = at(2026, 12, 14, 10)
    assert svc.send_reminders(POLICY)["escalated"] == 0
    assert told(core, pid, Event.REMINDER) == [who.drafter, who.drafter]
    assert sorted(told(core, pid, Event.ESCALATED)) == sorted(core.org.admins)
    (escalation, *_) = [n.text for n in svc.notifications_for(post_id=pid)
                        if n.event is Event.ESCALATED]
    assert "李娜" in escalation and "已催办 2 次" in escalation


def test_a_decision_restarts_the_count_for_the_next_step(
        core: Core, clock: Clock, who: Personas) -> None:
    svc = core.service
    clock.now = at(2026, 12, 8, 10)
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    svc.act(pid, "new_revision", who.operator)
    clock.now = at(2026, 12, 9, 10)
    svc.send_reminders(POLICY)
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    clock.now = at(2026, 12, 9, 17)
    assert svc.send_reminders(POLICY)["reminded"] == 0  # the head's step has waited 0 hours
    clock.now = at(2026, 12, 10, 16)
    assert svc.send_reminders(POLICY)["reminded"] == 1
    assert told(core, pid, Event.REMINDER) == [who.drafter, who.head]


def test_posts_near_or_past_their_due_date_are_flagged_to_the_admins_once_a_day(
        core: Core, clock: Clock, who: Personas) -> None:
    svc = core.service
    clock.now = at(2026, 12, 8, 10)
    late = svc.create_post(drafter=who.drafter, title="逾期稿件", body=BODY,
                           formed_on=date(2026, 11, 2))  # due 20 working days later: Nov 30
    fresh = svc.create_post(drafter=who.drafter, title="新稿件", body=BODY)
    assert svc.send_reminders(POLICY)["due_soon"] == len(core.org.admins)
    assert svc.send_reminders(POLICY)["due_soon"] == 0
    assert told(core, fresh, Event.DUE_SOON) == []
    (text, *_) = [n.text for n in svc.notifications_for(post_id=late) if n.event is Event.DUE_SOON]
    assert "已超过公开期限" in text
    clock.now = at(2026, 12, 9, 10)
    assert svc.send_reminders(POLICY)["due_soon"] == len(core.org.admins)
