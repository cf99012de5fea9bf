"""The texts of the dashboard and the annual report (art. 30) in zh-CN and en, and its tables as
rows for CSV files and Markdown: pure, so the console, the CLI and the charts say the same."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from approvals.figures import MONTHS, AnnualFigures, CatalogueEntry
from approvals.rules.errors import Text
from approvals.rules.org import OrgChart
from approvals.rules.states import CATEGORY_LABEL, STEP_LABEL, Category

Table = list[list[str]]

R: dict[str, Text] = {
    "dashboard": Text("统计报表", "Dashboard"),
    "catalogue": Text("政府信息公开目录", "Disclosure catalogue"),
    "title": Text("{unit}{year}年度微信公众号信息发布统计",
                  "{unit}: the official account's figures for {year}"),
    "basis": Text("供编制{year}年度政府信息公开工作年度报告使用（第三十条：应于{next}年1月31日前编制并公布）。",
                  "For the annual report on government information disclosure for {year} (art. 30: "
                  "compiled and published by 31 January {next})."),
    "partial": Text("{year}年尚未结束：以下为截至{day}的数据。",
                    "{year} is not over: these are the figures up to {day}."),
    "as_of": Text("统计日期：{day}。", "Counted on {day}."),
    "published": Text("发布数量", "Posts published"),
    "published_total": Text("全年共发布 {n} 篇。", "{n} posts were published in the year."),
    "by_category": Text("按月份和类别统计的发布数量", "Posts published by month and category"),
    "by_department": Text("按月份和科室统计的发布数量", "Posts published by month and department"),
    "step_times": Text("审批各环节用时（中位数）", "Median time per chain step"),
    "step_note": Text("自该环节开始（上一环节决定、排版稿提交或重新提交）至作出决定的时间，按决定日期计入年度；"
                      "暂缓后重新签发不计。",
                      "From the moment a step opened (the previous decision, the layout revision or "
                      "the resubmission) to its decision, counted in the year of the decision; a "
                      "re-sign after a hold is left out."),
    "overdue": Text("逾期情况（第十四条：20个工作日内公开）", "Overdue posts (art. 14: within 20 working days)"),
    "overdue_note": Text("按公开期限所在月份统计已到期的稿件；已否决或撤回的稿件不计。",
                         "Posts whose due date has passed, by the month of the due date; rejected "
                         "and withdrawn posts are not counted."),
    "overdue_total": Text("已到期 {due} 篇，其中逾期发布 {late} 篇，逾期未发布 {open} 篇。",
                          "{due} posts fell due: {late} were published late and {open} are not "
                          "published yet."),
    "reposts": Text("转载来源", "Reposts by source"),
    "no_reposts": Text("本年度没有转载。", "No reposts this year."),
    "month": Text("月份", "Month"), "total": Text("合计", "Total"),
    "category": Text("类别", "Category"), "department": Text("科室", "Department"),
    "step": Text("环节", "Step"), "decisions": Text("决定次数", "Decisions"),
    "median_hours": Text("中位用时（小时）", "Median (hours)"),
    "due": Text("到期", "Due"), "late": Text("逾期发布", "Published late"),
    "open": Text("逾期未发布", "Not published"), "on_time": Text("按期发布", "On time"),
    "source": Text("来源", "Source"), "count": Text("篇数", "Posts"),
    "index": Text("索引号", "Index"), "name": Text("名称", "Name"),
    "summary": Text("内容概述", "Summary"), "formed_on": Text("生成日期", "Formed on"),
    "published_on": Text("公开日期", "Published on"), "link": Text("链接", "Link"),
    "hours": Text("小时", "hours"),
    "no_cjk_font": Text("（本机没有中文字体，图表标签为英文；安装 Noto Sans CJK 等中文字体后即显示中文。）",
                        "(No Chinese font on this machine: the charts are labelled in English.)"),
    "files": Text("数据文件", "Data files"),
}

MONTH_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The chart and CSV files of the annual report, in the order the report shows them.
CHARTS = ("published_by_category", "published_by_department", "step_times", "overdue", "reposts")


def r(key: str, lang: str, **kw: object) -> str:
    """A report text in `lang`."""
    text = R[key]
    return (text.format(**kw) if kw else text).get(lang)


def month_label(month: int, lang: str) -> str:
    """1 → 1月 / Jan."""
    return MONTH_EN[month - 1] if lang == "en" else f"{month}月"


def department_name(org: OrgChart, code: str) -> str:
    """The department's name, or its code when the org chart no longer has it."""
    dept = org.departments.get(code)
    return dept.name if dept else code


def hours_text(value: float | None) -> str:
    """A median in hours with one decimal, or — when there was no decision."""
    return "—" if value is None else f"{value:.1f}"


def _by_month(figures: AnnualFigures, kind: str, keys: Sequence[str], names: Sequence[str],
              lang: str) -> Table:
    rows: Table = [[r("month", lang), *names, r("total", lang)]]
    series = [figures.series(kind, k) for k in keys]
    for i, month in enumerate(MONTHS):
        values = [s[i] for s in series]
        rows.append([month_label(month, lang), *map(str, values), str(sum(values))])
    totals = [sum(s) for s in series]
    rows.append([r("total", lang), *map(str, totals), str(sum(totals))])
    return rows


def category_table(figures: AnnualFigures, lang: str) -> Table:
    """Posts published by month (rows) and category (columns, every category of art. 26)."""
    cats = list(Category)
    return _by_month(figures, "category", [c.value for c in cats],
                     [CATEGORY_LABEL[c].get(lang) for c in cats], lang)


def department_table(figures: AnnualFigures, org: OrgChart, lang: str) -> Table:
    """Posts published by month (rows) and department (columns: the org chart's, then any
    department a post was published for that the chart no longer has)."""
    codes = list(org.departments) + [d for d in figures.departments() if d not in org.departments]
    return _by_month(figures, "department", codes, [department_name(org, c) for c in codes], lang)


def step_table(figures: AnnualFigures, lang: str) -> Table:
    """Each chain step: how many decisions, and their median time in hours."""
    rows: Table = [[r("step", lang), r("decisions", lang), r("median_hours", lang)]]
    rows += [[STEP_LABEL[t.step].get(lang), str(t.decisions), hours_text(t.median_hours)]
             for t in figures.step_times]
    return rows


def overdue_table(figures: AnnualFigures, lang: str) -> Table:
    """By month of the due date: posts due, on time, published late and not published."""
    rows: Table = [[r("month", lang), r("due", lang), r("on_time", lang), r("late", lang),
                    r("open", lang)]]
    for month in MONTHS:
        due, late, still = figures.due[month], figures.late[month], figures.overdue_open[month]
        rows.append([month_label(month, lang), str(due), str(due - late - still), str(late),
                     str(still)])
    due, late, still = (sum(c.values()) for c in (figures.due, figures.late, figures.overdue_open))
    rows.append([r("total", lang), str(due), str(due - late - still), str(late), str(still)])
    return rows


def repost_table(figures: AnnualFigures, lang: str) -> Table:
    """Published reposts by channel, most first."""
    return [[r("source", lang), r("count", lang)], *([s, str(n)] for s, n in figures.reposts)]


def tables(figures: AnnualFigures, org: OrgChart, lang: str) -> dict[str, Table]:
    """Every table of the report by its file name (without .csv)."""
    return {"published_by_category": category_table(figures, lang),
            "published_by_department": department_table(figures, org, lang),
            "step_times": step_table(figures, lang), "overdue": overdue_table(figures, lang),
            "reposts": repost_table(figures, lang)}


def catalogue_header(lang: str) -> list[str]:
    """The catalogue's columns (art. 9: index, name, summary, date formed), then the rest."""
    return [r(k, lang) for k in ("index", "name", "summary", "formed_on", "published_on",
                                 "category", "department", "link")]


def catalogue_row(entry: CatalogueEntry, org: OrgChart, lang: str) -> list[str]:
    """One catalogue line as text cells."""
    return [entry.index, entry.title, entry.summary, entry.formed_on.isoformat(),
            entry.published_on.isoformat(), CATEGORY_LABEL[entry.category].get(lang),
            department_name(org, entry.department), entry.url or ""]


def _cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Table) -> str:
    """A table as Markdown (pipes and line breaks in cells escaped)."""
    head, *body = rows
    lines = ["| " + " | ".join(map(_cell, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in body]
    return "\n".join(lines)


def annual_markdown(figures: AnnualFigures, org: OrgChart, lang: str,
                    charts: dict[str, str], data_files: Iterable[str] = (),
                    charts_in_english: bool = False) -> str:
    """The report as Markdown; `charts` maps a chart's name to its image's relative path."""
    t = tables(figures, org, lang)
    due, late, still = (sum(c.values()) for c in (figures.due, figures.late, figures.overdue_open))
    out = [f"# {r('title', lang, unit=org.unit_name, year=figures.year)}", "",
           r("basis", lang, year=figures.year, next=figures.year + 1),
           r("as_of", lang, day=figures.as_of.isoformat()) if figures.complete
           else r("partial", lang, year=figures.year, day=figures.as_of.isoformat())]
    if charts_in_english and lang != "en":
        out.append(r("no_cjk_font", lang))

    def section(title: str, name: str, *notes: str) -> None:
        out.extend(["", f"## {title}", "", *notes])
        if notes:
            out.append("")
        if name in charts:
            out.extend([f"![{title}]({charts[name]})", ""])
        out.append(markdown_table(t[name]))

    out.extend(["", f"## {r('published', lang)}", "", r("published_total", lang,
                                                         n=figures.published)])
    section(r("by_category", lang), "published_by_category")
    section(r("by_department", lang), "published_by_department")
    section(r("step_times", lang), "step_times", r("step_note", lang))
    section(r("overdue", lang), "overdue", r("overdue_note", lang),
            r("overdue_total", lang, due=due, late=late, open=still))
    if figures.reposts:
        section(r("reposts", lang), "reposts")
    else:
        out.extend(["", f"## {r('reposts', lang)}", "", r("no_reposts", lang)])
    files = list(data_files)
    if files:
        out.extend(["", f"## {r('files', lang)}", "", *(f"- [{f}]({f})" for f in files)])
    return "\n".join(out) + "\n"


BOM = "\ufeff"  # first in every CSV file: Excel then reads UTF-8 (the Chinese) correctly


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    """Rows as CSV text, one line at a time (for streaming), the BOM first."""
    yield BOM
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def csv_text(rows: Iterable[list[str]]) -> str:
    """Rows as one CSV text, the BOM first."""
    return "".join(csv_lines(rows))
