"""The dashboard (art. 30) and the disclosure catalogue (art. 9) through Flask's test client: who
may see them, the charts and tables, search, pages and the CSV export."""

from __future__ import annotations

import base64
import csv
import io
import re

import pytest
from flask import Flask

from approvals.bootstrap import Core
from approvals.web import create_app
from tests.conftest import Clock, Personas
from tests.reports_data import a_year
from tests.web.test_console import PASSWORD, logged_in


@pytest.fixture
def app(core: Core, clock: Clock, who: Personas) -> Flask:
    a_year(core, clock)
    for person in (who.drafter, who.colleague, who.admin, who.operator, who.leader, who.issuer):
        core.service.set_password(person, PASSWORD, by="test")
    return create_app(core, secret_key="k" * 32, testing=True)


def flash_error(page: str) -> str:
    found = re.search(r'class="flash error">([^<]+)<', page)
    assert found, page
    return found.group(1)


def test_both_pages_and_the_export_ask_for_a_login_first(app: Flask) -> None:
    client = app.test_client()
    for path in ("/reports", "/catalogue", "/catalogue.csv"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], path


def test_only_admins_the_operator_and_leaders_see_the_dashboard(app: Flask, who: Personas) -> None:
    for person in (who.drafter, who.colleague):
        client = logged_in(app, person)
        answer = client.get("/reports")
        assert answer.status_code == 403 and "您无权查看此页面" in answer.get_data(as_text=True)
        assert 'href="/reports"' not in client.get("/catalogue").get_data(as_text=True)
    for person in (who.admin, who.operator, who.leader, who.issuer):
        client = logged_in(app, person)
        assert client.get("/reports").status_code == 200, person
        assert 'href="/reports"' in client.get("/").get_data(as_text=True)


def test_the_dashboard_shows_the_years_figures_as_charts_and_tables(app: Flask,
                                                                    who: Personas) -> None:
    client = logged_in(app, who.admin)
    page = client.get("/reports?year=2026").get_data(as_text=True)
    assert "全年共发布 7 篇。" in page
    assert "已到期" in page and "逾期发布 1 篇，逾期未发布 1 篇" in page
    images = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert len(images) == 5
    svg = base64.b64decode(images[0]).decode("utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<script" not in svg
    assert "<td>mem.gov.cn</td><td>2</td>" in page  # reposts by channel, in the table
    assert "<td>3月</td><td>1</td><td>0</td><td>0</td><td>1</td><td>0</td><td>2</td>" in page
    last_year = client.get("/reports?year=2025").get_data(as_text=True)
    assert "全年共发布 1 篇。" in last_year
    english = client.get("/reports?year=2026&lang=en").get_data(as_text=True)
    assert "7 posts were published in the year." in english


@pytest.mark.parametrize(("year", "said"), [("abc", "年份“abc”无效"), ("2999", "2999 年尚未开始")])
def test_a_bad_year_on_the_dashboard_is_said_and_this_year_shown(
        app: Flask, who: Personas, year: str, said: str) -> None:
    answer = logged_in(app, who.leader).get(f"/reports?year={year}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and said in flash_error(page)
    assert "全年共发布 7 篇。" in page  # 2026, the clock's year


def test_every_logged_in_person_browses_and_searches_the_catalogue(
        app: Flask, who: Personas) -> None:
    client = logged_in(app, who.colleague)
    page = client.get("/catalogue").get_data(as_text=True)  # this year's, newest first
    indexes = re.findall(r"<td>(\d{4}-\d{4})</td>", page)
    assert indexes == [f"2026-{n:04d}" for n in range(7, 0, -1)]
    assert "元旦期间全局值班安排" in page and "2025-12-31" in page  # summary, formed on
    every = client.get("/catalogue?year=all").get_data(as_text=True)
    assert re.findall(r"<td>(\d{4}-\d{4})</td>", every)[-2:] == ["2026-0001", "2025-0001"]
    found = client.get("/catalogue?q=转载").get_data(as_text=True)
    assert re.findall(r"<td>(\d{4}-\d{4})</td>", found) == ["2026-0006", "2026-0005"]
    paged = client.get("/catalogue?per_page=3&page=2").get_data(as_text=True)
    assert re.findall(r"<td>(\d{4}-\d{4})</td>", paged) == ["2026-0004", "2026-0003",
                                                             "2026-0002"]
    assert "2 / 3" in paged and "page=3" in paged
    bad = client.get("/catalogue?year=20x6").get_data(as_text=True)
    assert "年份“20x6”无效" in flash_error(bad) and len(re.findall(r"<td>\d{4}-\d{4}</td>", bad)) == 7


def read(answer_bytes: bytes) -> list[list[str]]:
    assert answer_bytes.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(answer_bytes.decode("utf-8-sig"))))


def test_the_catalogue_is_exported_as_csv_that_excel_reads(app: Flask, who: Personas) -> None:
    client = logged_in(app, who.drafter)
    answer = client.get("/catalogue.csv?year=all")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = read(answer.get_data())
    assert rows[0] == ["索引号", "名称", "内容概述", "生成日期", "公开日期", "类别", "科室", "链接"]
    assert [r[0] for r in rows[1:]] == ["2025-0001", *(f"2026-{n:04d}" for n in range(1, 8))]
    assert rows[2][1:7] == ["元旦值班安排", "元旦期间全局值班安排", "2025-12-31", "2026-01-01",
                            "工作宣传", "应急救援科"]
    assert len(read(client.get("/catalogue.csv").get_data())) == 1 + 7  # this year, as shown
    searched = read(client.get("/catalogue.csv?q=值班&year=2026&lang=en").get_data())
    assert searched[0][0] == "Index" and [r[0] for r in searched[1:]] == ["2026-0001"]
    refused = client.get("/catalogue.csv?year=1")
    # The session speaks English since ?lang=en above.
    assert refused.status_code == 400 and "Invalid year “1”" in refused.get_data(as_text=True)
