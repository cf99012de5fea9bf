"""The annual figures as charts, drawn with matplotlib's Agg renderer (no display, no pyplot
state): PNG files for the report, SVG for the console.

Chinese labels need a Chinese font; the first one of CJK_FAMILIES found on the machine is used.
Without one the charts are labelled in English (and any other text in them is replaced by a
neutral label), so no glyph is ever missing; the texts around the charts keep the person's
language.
"""

from __future__ import annotations

import io
from functools import lru_cache

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure

from approvals.figures import MONTHS, AnnualFigures
from approvals.present.reports import department_name, month_label, r
from approvals.rules.org import OrgChart
from approvals.rules.states import CATEGORY_LABEL, STEP_LABEL

CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
                "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei",
                "PingFang SC", "Hiragino Sans GB", "Droid Sans Fallback", "AR PL UMing CN")
TOP_SOURCES = 10
COLORS = ("#2f6eb5", "#e07b39", "#4a9c5d", "#c4453c", "#8064a2", "#7f7f7f", "#b8a02a", "#3aa6b9")


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The name of a Chinese font matplotlib can use here, or None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FAMILIES if name in names), None)


def _configure() -> None:
    # Before every drawing (cheap): the same values every time, so concurrent requests never see
    # each other's settings, and nothing else in the process can leave others. Text as paths:
    # an SVG needs no font to show.
    font = cjk_font()
    matplotlib.rcParams.update({
        "font.family": "sans-serif",
        "font.sans-serif": [*([font] if font else []), "DejaVu Sans"],
        "axes.unicode_minus": False, "svg.fonttype": "path", "svg.hashsalt": "signoff",
        "figure.dpi": 100, "axes.spines.top": False, "axes.spines.right": False,
    })


def chart_language(lang: str) -> str:
    """The language the charts are labelled in: the person's, or English without a CJK font."""
    return lang if lang == "en" or cjk_font() else "en"


def _label(text: str, fallback: str) -> str:
    # Without a Chinese font only ASCII reaches matplotlib (a missing glyph would be a box).
    return text if text.isascii() or cjk_font() else fallback


def _save(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, bbox_inches="tight", metadata={"Date": None} if fmt == "svg"
                else None)
    return buf.getvalue()


def _stacked(title: str, series: list[tuple[str, list[int]]], lang: str, fmt: str) -> bytes:
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    x = list(MONTHS)
    bottom = [0] * len(x)
    for i, (name, values) in enumerate(series):
        ax.bar(x, values, bottom=bottom, label=name, color=COLORS[i % len(COLORS)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(x, [month_label(mo, lang) for mo in x])
    ax.set_title(title)
    ax.yaxis.get_major_locator().set_params(integer=True)
    if series:
        ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, fmt)


def _horizontal(title: str, labels: list[str], values: list[float], unit: str, fmt: str,
                integer: bool = False) -> bytes:
    fig = Figure(figsize=(8, 0.5 + 0.45 * max(len(labels), 2)))
    ax = fig.subplots()
    y = list(range(len(labels)))
    ax.barh(y, values, color=COLORS[0])
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(unit)
    if integer:
        ax.xaxis.get_major_locator().set_params(integer=True)
    for yi, v in zip(y, values, strict=True):
        ax.annotate(f"{v:g}", (v, yi), xytext=(3, 0), textcoords="offset points", va="center",
                    fontsize="small")
    return _save(fig, fmt)


def render(figures: AnnualFigures, org: OrgChart, lang: str, fmt: str = "png") -> dict[str, bytes]:
    """Every chart of the report (`CHARTS` names) as `fmt` ("png" or "svg") bytes."""
    _configure()
    cl = chart_language(lang)
    by_category = [(CATEGORY_LABEL[c].get(cl), figures.series("category", c.value))
                   for c in figures.categories()]
    by_department = [(_label(department_name(org, d), d), figures.series("department", d))
                     for d in figures.departments()]
    overdue = [(r("on_time", cl), [figures.due[mo] - figures.late[mo] - figures.overdue_open[mo]
                                   for mo in MONTHS]),
               (r("late", cl), [figures.late[mo] for mo in MONTHS]),
               (r("open", cl), [figures.overdue_open[mo] for mo in MONTHS])]
    steps = list(figures.step_times)
    top = list(figures.reposts[:TOP_SOURCES])
    return {
        "published_by_category": _stacked(r("by_category", cl), by_category, cl, fmt),
        "published_by_department": _stacked(r("by_department", cl), by_department, cl, fmt),
        "step_times": _horizontal(r("step_times", cl), [STEP_LABEL[t.step].get(cl) for t in steps],
                                  [round(t.median_hours or 0, 1) for t in steps],
                                  r("hours", cl), fmt),
        "overdue": _stacked(r("overdue", cl), overdue, cl, fmt),
        "reposts": _horizontal(r("reposts", cl),
                               [_label(s, f"source {i + 1}") for i, (s, _) in enumerate(top)],
                               [n for _, n in top], r("count", cl), fmt, integer=True),
    }
