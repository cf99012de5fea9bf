"""The dashboard's and the annual report's figures (art. 30) and the disclosure catalogue (art. 9)
on a real database, checked against what the test itself recorded while it made the posts."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date

import pytest

from approvals.bootstrap import Core
from approvals.figures import CatalogueQuery
from approvals.rules.errors import InvalidInput
from approvals.rules.reporting import source_channel
from approvals.rules.states import Step
from tests.conftest import ZONE, Clock, Personas
from tests.reports_data import Made, a_year, local, make_post

YEAR_START, YEAR_END = local("2026-01-01 00:00"), local("2027-01-01 00:00")


@pytest.fixture
def made(core: Core, clock: Clock) -> list[Made]:
    return a_year(core, clock)


def in_2026(made: list[Made]) -> list[Made]:
    return [p for p in made if p.published_at and YEAR_START <= p.published_at < YEAR_END]


def test_published_posts_are_counted_by_local_month_category_and_department(
        core: Core, made: list[Made]) -> None:
    figures = core.service.annual_figures(2026)
    expected_cat: Counter[tuple[int, str]] = Counter()
    expected_dept: Counter[tuple[int, str]] = Counter()
    for p in in_2026(made):
        month = p.published_at.astimezone(ZONE).month  # type: ignore[union-attr]
        expected_cat[(month, p.category)] += 1
        expected_dept[(month, p.department)] += 1
    assert figures.by_category == expected_cat
    assert figures.by_department == expected_dept
    assert figures.published == 7
    # Published at 01:00 on New Year's Day (17:00 UTC on 31 December): January, not last year.
    assert figures.month_totals()[0] == 1
    assert figures.series("category", "repost")[2] == 1 and figures.series("department", "jck")[5] == 1
    assert not figures.complete and figures.as_of == date(2026, 12, 8)


def test_the_median_time_of_each_step_counts_the_decisions_taken_in_the_year(
        core: Core, made: list[Made]) -> None:
    figures = core.service.annual_figures("2026")
    hours: dict[Step, list[float]] = {step: [] for step in Step}
    for p in made:
        for step, h, at in p.decisions:
            if YEAR_START <= at < YEAR_END:
                hours[step].append(h)
    got = {t.step: (t.decisions, t.median_hours) for t in figures.step_times}
    for step, values in hours.items():
        assert got[step][0] == len(values), step
        assert got[step][1] == pytest.approx(statistics.median(values)), step
    # The second run's confirmation is timed from the new layout, not from the sending back.
    assert hours[Step.DRAFTER_CONFIRM].count(1) >= 2


def test_overdue_posts_are_those_not_published_by_their_art_14_due_date(
        core: Core, made: list[Made]) -> None:
    figures = core.service.annual_figures(2026)
    due, late, still_open = Counter[int](), Counter[int](), Counter[int]()
    today = date(2026, 12, 8)
    withdrawn = made[-1].post_id
    for p in made:
        due_on = core.service.view(p.post_id).post.due_on
        if p.post_id == withdrawn or due_on.year != 2026 or due_on >= today:
            continue
        due[due_on.month] += 1
        if p.published_at is None:
            still_open[due_on.month] += 1
        elif p.published_at.astimezone(ZONE).date() > due_on:
            late[due_on.month] += 1
    assert figures.due == due and figures.late == late and figures.overdue_open == still_open
    assert sum(late.values()) == 1 and sum(still_open.values()) == 1


def test_reposts_are_counted_by_the_channel_they_came_from(core: Core, made: list[Made]) -> None:
    figures = core.service.annual_figures(2026)
    expected = Counter(source_channel(p.source) for p in in_2026(made) if p.category == "repost"
                       if p.source)
    assert dict(figures.reposts) == dict(expected) == {"mem.gov.cn": 2, "应急管理部": 1}
    assert figures.reposts[0] == ("mem.gov.cn", 2)


def test_a_year_with_nothing_published_has_empty_figures(core: Core, made: list[Made]) -> None:
    figures = core.service.annual_figures(2024)
    assert figures.published == 0 and figures.reposts == () and figures.complete
    assert all(t.decisions == 0 and t.median_hours is None for t in figures.step_times)


@pytest.mark.parametrize("year", ["26", "20266", "２０２６", "2027", "1999", "", "2026-01", "abcd"])
def test_a_bad_or_future_year_is_refused_with_a_message(core: Core, year: str) -> None:
    with pytest.raises(InvalidInput) as err:
        core.service.annual_figures(year)
    assert "年" in err.value.message("zh-CN") and "year" in err.value.message("en")


def test_the_catalogue_numbers_posts_by_year_of_first_publication(
        core: Core, made: list[Made]) -> None:
    everything = list(core.service.catalogue_all(CatalogueQuery()))
    published = sorted((p for p in made if p.published_at), key=lambda p: p.published_at)  # type: ignore[arg-type, return-value]
    assert [e.post_id for e in everything] == [p.post_id for p in published]
    assert [e.index for e in everything] == ["2025-0001", *(f"2026-{n:04d}" for n in range(1, 8))]
    first = everything[1]
    assert (first.title, first.summary, first.published_on) == (
        "元旦值班安排", "元旦期间全局值班安排", date(2026, 1, 1))
    assert first.formed_on == date(2025, 12, 31)  # 生成日期: when the information was formed
    # Without a digest the summary is the body's opening words.
    assert everything[2].summary == "12月7日，我局在太浦河沿线开展应急演练。"


def test_an_index_once_given_never_changes_when_more_posts_are_published(
        core: Core, clock: Clock, made: list[Made]) -> None:
    before = {e.post_id: e.index for e in core.service.catalogue_all(CatalogueQuery())}
    later = make_post(core, clock, start="2026-12-08 11:00", title="十二月新稿")
    after = {e.post_id: e.index for e in core.service.catalogue_all(CatalogueQuery())}
    assert after == {**before, later.post_id: "2026-0008"}


def test_the_catalogue_is_searched_and_paged_newest_first(core: Core, made: list[Made]) -> None:
    page = core.service.catalogue(CatalogueQuery(per_page=3))
    assert page.total == 8 and page.pages == 3 and page.years == (2026, 2025)
    assert [e.index for e in page.entries] == ["2026-0007", "2026-0006", "2026-0005"]
    last = core.service.catalogue(CatalogueQuery(per_page=3, page=3))
    assert [e.index for e in last.entries] == ["2026-0001", "2025-0001"]
    found = core.service.catalogue(CatalogueQuery(search="转载"))
    assert sorted(e.title for e in found.entries) == ["转载：防汛知识", "转载：高温防护"]
    assert core.service.catalogue(CatalogueQuery(search="值班安排")).total == 1  # in the digest
    assert core.service.catalogue(CatalogueQuery(search="100%_")).total == 0
    assert [e.index for e in core.service.catalogue(CatalogueQuery(year=2025)).entries] == [
        "2025-0001"]
    with pytest.raises(InvalidInput):
        core.service.catalogue(CatalogueQuery(page=0))


def test_who_may_see_the_dashboard(core: Core, who: Personas) -> None:
    svc = core.service
    for person in (who.admin, who.operator, who.issuer, who.leader, who.principal, who.deputy):
        assert svc.may_see_reports(person), person
    for person in (who.drafter, who.head, who.colleague):
        assert not svc.may_see_reports(person), person
