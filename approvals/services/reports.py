"""The figures of the dashboard and the annual report (art. 30), and the disclosure catalogue
(art. 9), computed once here for every face.

Plain SQLAlchemy that runs on SQLite and PostgreSQL alike: counting and grouping happen in the
database; months and years are cut at the unit's midnight by comparing the stored UTC instants
with the boundaries computed here (no dialect's time-zone functions). Only what needs a
per-row comparison the database cannot make portably (a publication after its due date, a
step's duration) is read row by row, and then only the year's rows.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from approvals.figures import (
    CATALOGUE_PAGE_MAX,
    MONTHS,
    AnnualFigures,
    CatalogueEntry,
    CataloguePage,
    CatalogueQuery,
    StepTime,
)
from approvals.rules.errors import InvalidInput, Text
from approvals.rules.reporting import FIRST_YEAR, index_number, parse_year, source_channel
from approvals.rules.scan import html_to_text
from approvals.rules.states import Category, PostStatus, Step
from approvals.services.base import Deps, search_words
from approvals.store import models as m
from approvals.store.models import UTCDateTime

# The audit rows that record a post's publication: the worker's, or a person's who found the
# article online after the outcome could not be confirmed.
PUBLISHED_ACTIONS = ("post.mark_published", "post.confirm_published")
# The audit rows that start a run of the chain (run 1 is started by the first layout revision).
RUN_STARTS = ("post.new_revision", "post.resubmit")
CLOSED_UNPUBLISHED = (PostStatus.REJECTED.value, PostStatus.WITHDRAWN.value)
SUMMARY_CHARS = 120  # a summary made from the body when the post has no digest
EXPORT_BATCH = 1000


class Reports:
    """The year's figures and the catalogue, as plain values."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # --- boundaries in the unit's time zone ---------------------------------------------------

    def _midnight(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.deps.zone).astimezone(UTC)

    def _month_of(self, column: Any, year: int) -> ColumnElement[int]:
        """The month (1..12) of a stored instant of `year`, cut at the unit's midnight."""
        return case(*[(column < self._midnight(date(year, mo + 1, 1)), literal(mo))
                      for mo in MONTHS[:-1]], else_=literal(12))

    def _year_of(self, column: Any) -> ColumnElement[int]:
        """The year of a stored instant, cut at the unit's New Year's midnight."""
        last = self.deps.today().year + 1
        return case(*[(column < self._midnight(date(y + 1, 1, 1)), literal(y))
                      for y in range(FIRST_YEAR, last)], else_=literal(last))

    # --- the annual figures -------------------------------------------------------------------

    def annual(self, year: str | int) -> AnnualFigures:
        """Everything art. 30's report counts for `year` (so far, for the current year).

        Raises:
            InvalidInput: not a four-digit year, or one that has not begun.
        """
        today = self.deps.today()
        y = parse_year(year, today)
        start, end = self._midnight(date(y, 1, 1)), self._midnight(date(y + 1, 1, 1))
        with self.deps.sessions() as s:
            by_category, by_department = self._published(s, y, start, end)
            due, late, overdue = self._overdue(s, y, today)
            return AnnualFigures(
                year=y, as_of=today, by_category=by_category, by_department=by_department,
                step_times=self._step_times(s, start, end), late=late, overdue_open=overdue,
                due=due, reposts=self._reposts(s, start, end))

    def _published(self, s: Session, year: int, start: datetime, end: datetime
                   ) -> tuple[Counter[tuple[int, str]], Counter[tuple[int, str]]]:
        p = m.Post
        inner = select(self._month_of(p.published_at, year).label("month"), p.category,
                       p.department).where(p.published_at >= start, p.published_at < end
                                           ).subquery()
        rows = s.execute(select(inner.c.month, inner.c.category, inner.c.department, func.count())
                         .group_by(inner.c.month, inner.c.category, inner.c.department))
        by_category: Counter[tuple[int, str]] = Counter()
        by_department: Counter[tuple[int, str]] = Counter()
        for month, category, department, n in rows:
            by_category[(int(month), category)] += n
            by_department[(int(month), department)] += n
        return by_category, by_department

    def _overdue(self, s: Session, year: int, today: date
                 ) -> tuple[Counter[int], Counter[int], Counter[int]]:
        """By month of the due date (art. 14), among posts whose due date fell in `year` and has
        passed: how many were due, published after it, and not published at all yet. Posts
        rejected or withdrawn are not to be disclosed and are not counted."""
        due: Counter[int] = Counter()
        late: Counter[int] = Counter()
        overdue: Counter[int] = Counter()
        last = min(date(year, 12, 31), today - timedelta(days=1))
        p = m.Post
        rows = s.execute(select(p.due_on, p.published_at).where(
            p.due_on >= date(year, 1, 1), p.due_on <= last, p.status.not_in(CLOSED_UNPUBLISHED)))
        zone = self.deps.zone
        for due_on, published_at in rows:
            due[due_on.month] += 1
            if published_at is None:
                overdue[due_on.month] += 1
            elif published_at.astimezone(zone).date() > due_on:
                late[due_on.month] += 1
        return due, late, overdue

    def _step_times(self, s: Session, start: datetime, end: datetime) -> tuple[StepTime, ...]:
        """The median time each step took, over the decisions taken in the year.

        A step opens with the previous decision of the same run, or (the run's first step) with
        the layout revision or resubmission that started the run; a re-sign after a hold
        (attempt > 0) measures the hold, not the step, and is left out.
        """
        d, a = m.Decision, m.AuditEntry
        in_year = and_(d.decided_at >= start, d.decided_at < end)
        posts = select(d.post_id).where(in_year).distinct()
        opened = func.lag(d.decided_at, type_=UTCDateTime()).over(
            partition_by=(d.post_id, d.run), order_by=(d.decided_at, d.id))
        inner = select(d.post_id, d.run, d.step, d.attempt, d.decided_at, opened.label("opened")
                       ).where(d.post_id.in_(posts)).subquery()
        decisions = s.execute(select(inner).where(inner.c.decided_at >= start,
                                                  inner.c.decided_at < end,
                                                  inner.c.attempt == 0)).all()
        run = func.row_number().over(partition_by=a.post_id, order_by=a.seq)
        started = {(pid, n): at for pid, at, n in s.execute(
            select(a.post_id, a.at, run).where(a.post_id.in_(posts), a.action.in_(RUN_STARTS)))}
        hours: dict[Step, list[float]] = {step: [] for step in Step}
        for row in decisions:
            since = row.opened or started.get((row.post_id, row.run))
            if since is None or Step(row.step) not in hours:
                continue
            hours[Step(row.step)].append((row.decided_at - since).total_seconds() / 3600)
        return tuple(StepTime(step, len(h), statistics.median(h) if h else None)
                     for step, h in hours.items())

    def _reposts(self, s: Session, start: datetime, end: datetime) -> tuple[tuple[str, int], ...]:
        """Published reposts by channel (art. 28): the source of the revision published."""
        p, r = m.Post, m.Revision
        source = func.coalesce(r.repost_source, p.repost_source, "")
        rows = s.execute(select(source, func.count()).select_from(p).join(
            r, and_(r.post_id == p.id, r.number == p.revision_number)).where(
            p.published_at >= start, p.published_at < end,
            p.category == Category.REPOST.value).group_by(source))
        channels: Counter[str] = Counter()
        for src, n in rows:
            channels[source_channel(src) or "—"] += n
        return tuple(sorted(channels.items(), key=lambda kv: (-kv[1], kv[0])))

    # --- the disclosure catalogue (art. 9) ----------------------------------------------------

    def _numbered(self, year: int) -> Any:
        """Every post published in `year` with its catalogue sequence.

        The index is derived, not stored: a post's year is the year (the unit's time zone) of its
        publication, which never changes once published; within the year posts are numbered in
        the order of their publication's audit row. The audit log is append-only and its sequence
        numbers follow the order of commits, so a post published later always comes after every
        post already numbered: an index once shown never changes.
        """
        a, p = m.AuditEntry, m.Post
        # From the year's published posts to their audit rows by the post_id index (the log is
        # long); one year at a time, so a page never numbers the whole archive.
        first = select(a.post_id, func.min(a.seq).label("seq"), p.published_at.label("at")
                       ).select_from(p).join(a, a.post_id == p.id).where(
            *self._published_in(year), a.action.in_(PUBLISHED_ACTIONS)).group_by(
            a.post_id, p.published_at).subquery()
        n = func.row_number().over(order_by=first.c.seq)
        return select(first.c.post_id, first.c.at, n.label("n")).subquery()

    def _published_in(self, year: int) -> list[ColumnElement[bool]]:
        p = m.Post
        return [p.status == PostStatus.PUBLISHED.value,
                p.published_at >= self._midnight(date(year, 1, 1)),
                p.published_at < self._midnight(date(year + 1, 1, 1))]

    def _search(self, search: str | None) -> list[ColumnElement[bool]]:
        r = m.Revision
        wanted = search_words(search)
        if not wanted:
            return []
        return [or_(r.title.contains(wanted, autoescape=True),
                    r.digest.contains(wanted, autoescape=True))]

    def _published_revision(self) -> Any:
        p, r = m.Post, m.Revision
        return and_(r.post_id == p.id, r.number == p.revision_number)

    def _year_counts(self, s: Session, query: CatalogueQuery) -> dict[int, int]:
        """How many catalogue lines match in each year (the numbering is not needed to count)."""
        p, r = m.Post, m.Revision
        where = [p.status == PostStatus.PUBLISHED.value, *self._search(query.search)]
        if query.year is not None:
            where += self._published_in(query.year)
        inner = select(self._year_of(p.published_at).label("year")).select_from(p).join(
            r, self._published_revision()).where(*where).subquery()
        rows = s.execute(select(inner.c.year, func.count()).group_by(inner.c.year))
        return {int(year): n for year, n in rows}

    def _year_select(self, year: int, search: str | None) -> tuple[Select[Any], Any]:
        numbered, p, r = self._numbered(year), m.Post, m.Revision
        summary_source = case((r.digest == "", func.substr(r.body_html, 1, 4000)),
                              else_=literal(""))
        q = select(numbered.c.post_id, literal(year).label("year"), numbered.c.n, numbered.c.at,
                   r.title, r.digest, summary_source.label("body"), p.formed_on, p.category,
                   p.department, p.article_url).select_from(numbered).join(
            p, p.id == numbered.c.post_id).join(r, self._published_revision()).where(
            *self._search(search))
        return q, numbered

    def catalogue_years(self) -> tuple[int, ...]:
        """The years from this one back to the first with a published post, newest first."""
        p, today = m.Post, self.deps.today()
        with self.deps.sessions() as s:
            first = s.scalar(select(func.min(p.published_at)).where(
                p.status == PostStatus.PUBLISHED.value))
        if first is None:
            return ()
        return tuple(range(today.year, first.astimezone(self.deps.zone).year - 1, -1))

    def catalogue(self, query: CatalogueQuery) -> CataloguePage:
        """One page of the catalogue, newest first: the lines of each year are counted first, so
        only the years the page falls in are numbered.

        Raises:
            InvalidInput: a page out of range.
        """
        if not 1 <= query.per_page <= CATALOGUE_PAGE_MAX or not 1 <= query.page <= 10**6:
            raise InvalidInput(Text("页码或每页条数超出范围。",
                                    "The page or page size is out of range."))
        entries: list[CatalogueEntry] = []
        with self.deps.sessions() as s:
            counts = self._year_counts(s, query)
            skip, need = (query.page - 1) * query.per_page, query.per_page
            for year in sorted(counts, reverse=True):
                if skip >= counts[year]:
                    skip -= counts[year]
                    continue
                q, numbered = self._year_select(year, query.search)
                rows = s.execute(q.order_by(numbered.c.n.desc()).limit(need).offset(skip))
                entries += [self._entry(row) for row in rows]
                skip, need = 0, query.per_page - len(entries)
                if need <= 0:
                    break
        return CataloguePage(tuple(entries), sum(counts.values()), query.page, query.per_page,
                             self.catalogue_years())

    def catalogue_all(self, query: CatalogueQuery) -> Iterator[CatalogueEntry]:
        """Every matching line in index order (for the CSV export), a year at a time, read in
        batches."""
        with self.deps.sessions() as s:
            years = sorted(self._year_counts(s, query))
            for year in years:
                q, numbered = self._year_select(year, query.search)
                result = s.execute(q.order_by(numbered.c.n)
                                   .execution_options(yield_per=EXPORT_BATCH))
                for row in result:
                    yield self._entry(row)

    def _entry(self, row: Any) -> CatalogueEntry:
        summary = row.digest or _summary(row.body or "")
        return CatalogueEntry(
            index=index_number(int(row.year), int(row.n)), post_id=row.post_id, title=row.title,
            summary=summary, formed_on=row.formed_on,
            published_on=row.at.astimezone(self.deps.zone).date(),
            category=Category(row.category), department=row.department, url=row.article_url)


def _summary(body_html: str) -> str:
    """The body's opening words, as WeChat shows a post without a digest."""
    text = " ".join(html_to_text(body_html).split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rstrip() + "…"
