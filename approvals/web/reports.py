"""The dashboard (the year's figures as charts, art. 30) and the disclosure catalogue (art. 9):
browsable, searchable and exported as CSV. The façade counts; this module only draws and lists."""

from __future__ import annotations

import base64
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, abort, flash, render_template, request, stream_with_context
from flask_login import current_user, login_required

from approvals.figures import CATALOGUE_PAGE_MAX, CatalogueQuery
from approvals.present.reports import (
    CHARTS,
    catalogue_header,
    catalogue_row,
    csv_lines,
    department_name,
    r,
    tables,
)
from approvals.rules.errors import SignoffError
from approvals.rules.reporting import parse_year
from approvals.rules.states import CATEGORY_LABEL
from approvals.web.console import _int, service
from approvals.web.i18n import lang, ui

bp = Blueprint("reports", __name__)
YEARS_SHOWN = 6  # the dashboard's year menu: this year and the five before


def install(app: Flask) -> None:
    """The blueprint, and `may_see_reports()` in every template (the menu shows the dashboard
    only to those who may see it)."""
    app.register_blueprint(bp)

    @app.context_processor
    def _reports() -> dict[str, object]:
        def may_see() -> bool:
            return bool(getattr(current_user, "is_authenticated", False)) and \
                service().may_see_reports(current_user.id)
        return {"may_see_reports": may_see}


@bp.get("/reports")
@login_required
def dashboard() -> str | tuple[str, int]:
    """The year's figures as charts with their tables (admins, the operator and leaders)."""
    svc = service()
    if not svc.may_see_reports(current_user.id):
        abort(403)
    language = lang()
    try:
        figures = svc.annual_figures(request.args.get("year") or svc.today().year)
    except SignoffError as exc:
        flash(ui("error") + exc.message(language), "error")
        figures = svc.annual_figures(svc.today().year)
    from approvals.present import charts  # matplotlib loads with the first dashboard only

    drawn = charts.render(figures, svc.org, language, "svg")
    images = {name: "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
              for name, svg in drawn.items()}
    totals = [sum(c.values()) for c in (figures.due, figures.late, figures.overdue_open)]
    return render_template(
        "reports.html", figures=figures, images=images, tables=tables(figures, svc.org, language),
        charts=CHARTS, r=lambda key, **kw: r(key, language, **kw), totals=totals,
        years=range(svc.today().year, svc.today().year - YEARS_SHOWN, -1))


def _catalogue_query(page: int = 1) -> CatalogueQuery:
    """The catalogue's filters from the address.

    Raises:
        InvalidInput: a malformed year, or one that has not begun.
    """
    svc, args = service(), request.args
    wanted = args.get("year") or ""
    if not wanted and not args.get("q"):
        wanted = str(svc.today().year)  # a year at a time unless searching (or "all" chosen)
    year = parse_year(wanted, svc.today()) if wanted and wanted != "all" else None
    per_page = min(_int("per_page", 50), CATALOGUE_PAGE_MAX) or 50
    return CatalogueQuery(search=(args.get("q") or "")[:100] or None, year=year, page=page,
                          per_page=per_page)


@bp.get("/catalogue")
@login_required
def catalogue() -> str:
    """The disclosure catalogue: index, name, summary, dates; searched and a page at a time."""
    svc = service()
    try:
        query = _catalogue_query(_int("page", 1) or 1)
        page = svc.catalogue(query)
    except SignoffError as exc:  # a bad year or page: said, and this year's catalogue shown
        flash(ui("error") + exc.message(lang()), "error")
        query = CatalogueQuery(year=svc.today().year)
        page = svc.catalogue(query)
    args = {k: v for k, v in request.args.to_dict().items() if k != "page"}
    return render_template("catalogue.html", page=page, query=query, args=args, org=svc.org,
                           category_label=CATEGORY_LABEL, department_name=department_name,
                           r=lambda key, **kw: r(key, lang(), **kw))


@bp.get("/catalogue.csv")
@login_required
def catalogue_csv() -> Response | tuple[str, int]:
    """Every matching catalogue line as CSV, UTF-8 with a BOM so Excel reads the Chinese."""
    svc, language = service(), lang()
    try:
        query = _catalogue_query()
    except SignoffError as exc:
        return render_template("message.html", message=exc.message(language)), 400

    def rows() -> Iterator[list[str]]:
        yield catalogue_header(language)
        for entry in svc.catalogue_all(query):
            yield catalogue_row(entry, svc.org, language)

    body = csv_lines(rows())
    name = f"catalogue-{query.year}.csv" if query.year else "catalogue.csv"
    return Response(stream_with_context(body), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
