"""The report's texts, tables and charts from plain figures (no database): Markdown escaping, the
index format, the year rule, and charts drawn without a Chinese font."""

from __future__ import annotations

from collections import Counter
from datetime import date

import matplotlib
import pytest

from approvals.figures import AnnualFigures, StepTime
from approvals.present import charts
from approvals.present.reports import CHARTS, annual_markdown, csv_text, markdown_table, tables
from approvals.rules.errors import InvalidInput
from approvals.rules.org import OrgChart
from approvals.rules.reporting import index_number, parse_year, source_channel
from approvals.rules.states import Step

FIGURES = AnnualFigures(
    year=2026, as_of=date(2027, 1, 5),
    by_category=Counter({(1, "notice"): 2, (3, "repost"): 1}),
    by_department=Counter({(1, "jyk"): 2, (3, "jck"): 1}),
    step_times=(StepTime(Step.DRAFTER_CONFIRM, 3, 1.25), StepTime(Step.DEPT_HEAD, 0, None)),
    late=Counter({4: 1}), overdue_open=Counter({9: 1}), due=Counter({1: 3, 4: 2, 9: 1}),
    reposts=(("mem.gov.cn", 2), ("应急|管理部", 1)))


def test_the_index_is_year_and_a_four_digit_sequence() -> None:
    assert index_number(2026, 1) == "2026-0001" and index_number(2026, 12345) == "2026-12345"


def test_the_year_must_be_four_digits_and_begun() -> None:
    today = date(2026, 12, 8)
    assert parse_year(" 2026 ", today) == 2026 and parse_year(2025, today) == 2025
    for bad in ("2027", "１２３４", "2026.0", "-202", None, "1999"):
        with pytest.raises(InvalidInput):
            parse_year(bad, today)


def test_reposts_of_one_channel_count_together() -> None:
    assert source_channel("https://WWW.mem.gov.cn/a") == source_channel("http://mem.gov.cn/b")
    assert source_channel(" 应急管理部 ") == "应急管理部"


def test_markdown_cells_cannot_break_the_table(org: OrgChart) -> None:
    assert markdown_table([["a|b", "c\nd"], ["1", "2"]]).splitlines() == [
        "| a\\|b | c d |", "|---|---|", "| 1 | 2 |"]
    md = annual_markdown(FIGURES, org, "zh-CN", {"reposts": "charts/reposts.png"})
    assert "| 应急\\|管理部 | 1 |" in md and "![转载来源](charts/reposts.png)" in md
    assert "统计日期：2027-01-05。" in md  # the year is over: no "not over" note


def test_the_tables_count_months_and_totals(org: OrgChart) -> None:
    t = tables(FIGURES, org, "en")
    assert t["overdue"][4] == ["Apr", "2", "1", "1", "0"]
    assert t["step_times"][1:] == [["drafter confirms", "3", "1.2"], ["department head", "0", "—"]]
    assert csv_text([["名称", "a,b"]]) == "\ufeff名称,\"a,b\"\r\n"


def test_charts_are_drawn_in_english_without_a_chinese_font(
        org: OrgChart, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    assert charts.chart_language("zh-CN") == "en"
    # Only DejaVu Sans, which has no Chinese glyph: any Chinese label would warn (an error here).
    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Sans"]}):
        drawn = charts.render(FIGURES, org, "zh-CN", "png")
    assert set(drawn) == set(CHARTS)
    assert all(png.startswith(b"\x89PNG") for png in drawn.values())
    md = annual_markdown(FIGURES, org, "zh-CN", {}, charts_in_english=True)
    assert "图表标签为英文" in md
