"""`signoff report annual`: report.md, CSV files (UTF-8 with BOM), the year's catalogue and real
PNG charts, from a year of posts made through the real chain; bad input is one line, nothing
written."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image
from redis import Redis

from approvals.bootstrap import bootstrap
from approvals.config.settings import Settings
from approvals.rules.org import OrgChart
from signoff.cli import main
from tests.cli.test_cli import env  # noqa: F401  (the settings fixture)
from tests.conftest import EXAMPLE_ORG, Clock
from tests.reports_data import a_year, local

CSVS = ("published_by_category", "published_by_department", "step_times", "overdue", "reposts",
        "catalogue")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def year_of_posts(env: Path, org: OrgChart, redis_conn: Redis) -> Path:  # noqa: F811
    assert run("db", "upgrade").exit_code == 0
    core = bootstrap(Settings(database_url=f"sqlite:///{env}", org_file=EXAMPLE_ORG), org=org,
                     clock=Clock(local("2026-01-01 00:00")))
    a_year(core, core.deps.clock)  # type: ignore[arg-type]
    core.close()
    return env


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), path  # the BOM: Excel reads the Chinese right
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_the_annual_report_is_written_as_markdown_csv_and_png(year_of_posts: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "报告"
    result = run("report", "annual", "--year", "2026", "--out", str(out))
    assert result.exit_code == 0, result.output + result.stderr
    assert "report.md、6 个 CSV 文件、5 张图表" in result.output
    by_category = read_csv(out / "published_by_category.csv")
    assert by_category[0] == ["月份", "公告通知", "工作宣传", "政策解读", "转载", "其他", "合计"]
    assert by_category[3] == ["3月", "1", "0", "0", "1", "0", "2"]
    assert by_category[-1] == ["合计", "1", "2", "1", "3", "0", "7"]
    by_department = read_csv(out / "published_by_department.csv")
    assert by_department[0][:5] == ["月份", "法宣科", "应急救援科", "安全生产基础科", "办公室"]
    assert by_department[-1][1:] == ["0", "4", "3", "0", "7"]
    assert read_csv(out / "reposts.csv") == [["来源", "篇数"], ["mem.gov.cn", "2"],
                                             ["应急管理部", "1"]]
    steps = {row[0]: row[1:] for row in read_csv(out / "step_times.csv")[1:]}
    assert steps["签发"] == ["7", "1.0"]  # 0.5, 8, 1, 3, 1, 1, 1 hours
    catalogue = read_csv(out / "catalogue.csv")
    assert catalogue[0][:4] == ["索引号", "名称", "内容概述", "生成日期"]
    assert [row[0] for row in catalogue[1:]] == [f"2026-{n:04d}" for n in range(1, 8)]
    assert catalogue[1][1:3] == ["元旦值班安排", "元旦期间全局值班安排"]
    for name in ("published_by_category", "published_by_department", "step_times", "overdue",
                 "reposts"):
        png = out / "charts" / f"{name}.png"
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(png) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 300
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# 苏州市吴江区应急管理局2026年度微信公众号信息发布统计")
    assert "全年共发布 7 篇。" in md and "](charts/overdue.png)" in md
    assert "| 3月 | 1 | 0 | 0 | 1 | 0 | 2 |" in md
    assert not list(out.glob(".*"))  # no temporary file left behind
    mask = os.umask(0o022)
    os.umask(mask)
    modes = {f.stat().st_mode & 0o777 for f in (out / "report.md", png)}
    assert modes == {0o666 & ~mask}  # readable as any new file is, not only by its writer


def test_the_report_speaks_english_when_asked(year_of_posts: Path, tmp_path: Path) -> None:
    result = run("--lang", "en", "report", "annual", "--year", "2026", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert read_csv(tmp_path / "overdue.csv")[0] == ["Month", "Due", "On time", "Published late",
                                                     "Not published"]
    assert "7 posts were published in the year." in (tmp_path / "report.md").read_text("utf-8")


@pytest.mark.parametrize(("year", "said"), [("26", "年份“26”无效"), ("２０２６", "无效"),
                                            ("2999", "2999 年尚未开始")])
def test_a_bad_year_is_one_line_and_nothing_is_written(env: Path, tmp_path: Path,  # noqa: F811
                                                      year: str, said: str) -> None:
    assert run("db", "upgrade").exit_code == 0
    out = tmp_path / "out"
    result = run("report", "annual", "--year", year, "--out", str(out))
    assert result.exit_code == 2 and said in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not out.exists()


def test_an_unwritable_folder_is_named_in_the_persons_language(env: Path,  # noqa: F811
                                                               tmp_path: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    result = run("report", "annual", "--year", "2025", "--out", str(a_file))
    assert result.exit_code == 2 and "已存在且不是目录" in result.stderr
    result = run("--lang", "en", "report", "annual", "--year", "2025", "--out",
                 str(a_file / "below"))
    assert result.exit_code == 2 and "Cannot write to" in result.stderr, result.stderr
    assert a_file.read_text(encoding="utf-8") == "x"
