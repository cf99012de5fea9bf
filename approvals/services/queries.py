"""Reading: one post with everything people see about it, lists, and the audit check."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import bindparam, func, not_, select

from approvals.rules import gates, permits
from approvals.rules.assign import resolve_assignee
from approvals.rules.errors import InvalidInput, NotFound, Text
from approvals.rules.records import RevisionInfo
from approvals.rules.states import STATUS_LABEL, TERMINAL, Action, PostStatus
from approvals.services.base import Deps, search_words
from approvals.services.state import (
    REVISION_COLUMNS,
    PageShape,
    as_enum,
    load_post,
    load_states,
    page_shape,
    publication_ids,
    read_page,
    read_post,
    resolve_person,
    revision_info,
    revision_summary,
    summary,
    timeline,
    unbacked,
)
from approvals.store import audit, ledger
from approvals.store import models as m
from approvals.views import (
    QUEUE_PAGE_MAX,
    QUEUE_SORTS,
    PostGlance,
    PostSummary,
    PostView,
    QueuePage,
    QueueQuery,
)

# What a person decides on a post in review (the chat bot's buttons, its /pending list).
DECISIONS = (Action.CONFIRM, Action.APPROVE, Action.SIGN, Action.REQUEST_CHANGES, Action.REJECT)


@lru_cache(maxsize=256)
def _queue_shape(shape: tuple[str, ...]) -> PageShape:
    """The conditions and order of a queue query of this shape (see `Queries.queue`), with
    their values as bound parameters; built once per shape."""
    p = m.Post.__table__.c
    where = {
        "status": [p.status == bindparam("status")],
        "open": [not_(p.archived)],
        "department": [p.department == bindparam("department")],
        "drafter": [p.drafter == bindparam("drafter")],
        "search": [p.title.contains(bindparam("search"), escape="/")],
        "overdue": [p.due_on < bindparam("today"),
                    p.status.not_in([s.value for s in TERMINAL])],
    }
    *filters, sort = shape
    column = p.due_on if sort.endswith("due") else p.id
    order = (column.desc() if sort.startswith("-") else column.asc(), p.id.desc())
    return page_shape([c for f in filters for c in where[f]], order)


class Queries:
    """What faces read; every answer is a plain value."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def view(self, post_id: int) -> PostView:
        """The post, its current state, open step and assignee, gate findings and timeline.

        Raises:
            NotFound: no such post.
        """
        org = self.deps.org
        with self.deps.standalone() as s:
            read = read_post(s, post_id, publication=True)
            state = read.state
            step = permits.current_step(state, org)
            assignee = resolve_assignee(state, step, org) if step else None
            # The audit rows are read once: for the ledger check and for the timeline.
            log = ledger.post_log(s.connection(), post_id)
            backed = unbacked(s, post_id, read, log)
            findings = (*gates.evaluate(state, org), *backed) if state.revision else tuple(backed)
            pub = read.publication
            return PostView(summary(read.post), state,
                            revision_summary(read.revision) if read.revision is not None
                            else None, step, assignee, findings, timeline(log[0]),
                            pub.preview_url if pub else None,
                            publication_ids(pub) if pub else None)

    def glance(self, post_id: int) -> PostGlance:
        """The post, its state and the WeChat preview link of its current revision.

        Raises:
            NotFound: no such post.
        """
        with self.deps.standalone() as s:
            read = read_post(s, post_id, publication=True)
            pub = read.publication
            return PostGlance(summary(read.post), read.state, pub.preview_url if pub else None)

    def list_posts(self, status: str | None = None, include_archived: bool = False
                   ) -> list[PostSummary]:
        """Posts, newest first, optionally of one status."""
        q = select(m.Post).order_by(m.Post.id.desc())
        if status:
            q = q.where(m.Post.status == as_enum(PostStatus, status, Text("状态", "status")).value)
        elif not include_archived:
            q = q.where(not_(m.Post.archived))
        with self.deps.sessions() as s:
            return [summary(p) for p in s.scalars(q)]

    def revision(self, post_id: int, number: int) -> RevisionInfo:
        """One laid-out revision of a post, as it was approved or refused.

        Raises:
            NotFound: no such post or revision.
        """
        with self.deps.sessions() as s:
            load_post(s, post_id)
            row = s.execute(select(*REVISION_COLUMNS).where(
                m.Revision.post_id == post_id, m.Revision.number == number)).one_or_none()
        if row is None:
            raise NotFound(Text("稿件 #{p} 没有第{n}版。", "Post #{p} has no revision {n}.")
                           .format(p=post_id, n=number))
        return revision_info(row)

    def waiting_on(self, person_key: str, limit: int = 50) -> list[tuple[PostSummary, list[Action]]]:
        """The posts in review whose open step this person may decide now (deputies included),
        oldest first, each with the decisions they may take."""
        org, today = self.deps.org, self.deps.today()
        with self.deps.sessions() as s:
            rows = list(s.scalars(select(m.Post).where(m.Post.status == PostStatus.IN_REVIEW.value)
                                  .order_by(m.Post.id)))
            states = load_states(s, rows)
            found = []
            for post in rows:
                state = states.get(post.id)
                if state is None:
                    continue
                allowed = [a for a in permits.allowed_actions(state, person_key, org, today)
                           if a in DECISIONS]
                if allowed:
                    found.append((summary(post), allowed))
                if len(found) >= limit:
                    break
        return found

    def queue(self, query: QueueQuery) -> QueuePage:
        """One page of posts matching `query`, counted and ordered in the database.

        Raises:
            InvalidInput: an unknown status, department or order, or a page out of range.
        """
        # The statements are built for the query's shape (which filters, which order) with the
        # values bound at execution: built once per shape, not walked again for every page.
        shape: list[str] = []
        params: dict[str, object] = {}
        if query.status:
            status = as_enum(PostStatus, query.status, Text("状态", "status"), labels=STATUS_LABEL)
            shape.append("status")
            params["status"] = status.value
        elif not query.include_archived:
            shape.append("open")
        if query.department:
            if query.department not in self.deps.org.departments:
                raise InvalidInput(Text("没有科室“{d}”。", "There is no department “{d}”.")
                                   .format(d=query.department))
            shape.append("department")
            params["department"] = query.department
        if query.drafter:
            shape.append("drafter")
            params["drafter"] = resolve_person(self.deps.org, query.drafter)
        search = search_words(query.search)
        if search:
            shape.append("search")
            # What LIKE's autoescape does to a literal: the escape character, % and _ escaped.
            params["search"] = search.replace("/", "//").replace("%", "/%").replace("_", "/_")
        if query.overdue:
            shape.append("overdue")
            params["today"] = self.deps.today()
        if query.sort not in QUEUE_SORTS:
            raise InvalidInput(Text("排序“{s}”无效，可选：{a}。", "Unknown order “{s}”; expected "
                                    "one of {a}.").format(s=query.sort, a=", ".join(QUEUE_SORTS)))
        if not 1 <= query.per_page <= QUEUE_PAGE_MAX or not 1 <= query.page <= 10**6:
            raise InvalidInput(Text("页码或每页条数超出范围。", "The page or page size is out of "
                                    "range."))
        with self.deps.standalone() as s:
            rows, total, states = read_page(s, _queue_shape((*shape, query.sort)), params,
                                            query.per_page, (query.page - 1) * query.per_page)
        org, waiting = self.deps.org, {}
        for pid, state in states.items():
            step = permits.current_step(state, org)
            if step is not None:
                waiting[pid] = (step, resolve_assignee(state, step, org).person)
        return QueuePage(tuple(summary(p) for p in rows), total, query.page, query.per_page,
                         waiting)

    def verify_audit(self, anchor: str | None = None) -> audit.Report:
        """Check the whole audit chain, and every row the rules read against it (both ways);
        `anchor` ("SEQ:HASH", as `audit anchor` printed it) must still be in the chain."""
        with self.deps.sessions() as s:
            report = audit.verify(s, anchor=anchor)
            report.rows_problems = ledger.verify_rows(s)
            return report

    def audit_head(self) -> audit.Anchor:
        """The chain's newest row, to be kept somewhere else (`signoff audit anchor`)."""
        with self.deps.sessions() as s:
            return audit.anchor(s)

    def count_posts(self) -> int:
        """How many posts exist (archived included)."""
        with self.deps.sessions() as s:
            return s.scalar(select(func.count()).select_from(m.Post)) or 0
