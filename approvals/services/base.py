"""What every use case stands on: its dependencies, and one unit of work per change.

A unit of work is one transaction. The outbox items it writes (publish intents, notifications)
are handed to the queue right after the commit, so work starts at once; when the hand-off fails
(Redis down), the commit stands and the reconciler enqueues them later.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from zoneinfo import ZoneInfo

from sqlalchemy import Table, Update, bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from approvals.rules.org import OrgChart
from approvals.store.models import utcnow
from approvals.views import Handoff, OutboxKind, Pending

log = logging.getLogger("signoff.handoff")

_MARK_ENQUEUED: dict[str, Update] = {}

# The queue adapter: enqueue (or cancel) these items now. It may raise; nothing is lost then.
Enqueue = Callable[[Sequence[Handoff]], None]


SEARCH_MAX = 100  # characters of a search box's text that are looked for


def search_words(search: str | None) -> str:
    """What a search box's text looks for: control characters taken as spaces (a NUL cut
    SQLite's LIKE pattern short, so that it matched every post, and PostgreSQL refused it), the
    ends trimmed, at most SEARCH_MAX characters; "" when nothing is looked for."""
    if not search:
        return ""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch
                   for ch in search).strip()[:SEARCH_MAX]


@dataclass
class Deps:
    """The database, the org chart, the clock and the queue hand-off every use case uses."""

    sessions: sessionmaker[Session]
    org: OrgChart
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    clock: Callable[[], datetime] = utcnow
    channels: tuple[str, ...] = ("log",)  # notification channels switched on
    enqueue: Enqueue | None = None  # set by bootstrap once the queue adapter exists
    # Names the job that will deliver the notifications a key stands for (one change's rows of
    # one channel); set by the queue adapter with `enqueue`. The rows record it as they are
    # written, so the hand-off after the commit has nothing left to record. None: the hand-off
    # names the job and records it after enqueueing it.
    plan_job: Callable[[str], str] | None = None
    # The face people act through, written into every audit row they cause: cli (the operator's
    # terminal, with a self-declared --as), web, api or chat (an authenticated person).
    channel: str = "cli"
    # Sessions whose statements stand alone (`db.standalone_session_factory`); None: `sessions`.
    standalone_sessions: sessionmaker[Session] | None = None
    # Whether a write of one statement may stand alone too: on PostgreSQL (autocommit) yes; on
    # SQLite it would wait for the write lock in SQLite's busy handler, which polls, instead of
    # queueing behind this process's other writers in a transaction (`db.standalone_session_factory`).
    writes_alone: bool = False

    def now(self) -> datetime:
        """The current instant (UTC)."""
        return self.clock()

    def today(self) -> date:
        """Today in the unit's time zone: due dates and delegations are counted in it."""
        return self.now().astimezone(self.zone).date()

    def standalone(self) -> Session:
        """A session whose statements stand alone: on PostgreSQL each runs without a
        transaction around it (no BEGIN, COMMIT or ROLLBACK round trips); elsewhere they wait
        for `commit()` as usual. For pages that only read, and for a write of one statement."""
        return (self.standalone_sessions or self.sessions)()

    def record_enqueued(self, table: Table, jobs: Sequence[tuple[int, str, int]]) -> None:
        """Record that the dispatcher put these outbox items of `table` on the queue: (id, job
        id, times enqueued) each. The items of one job (a batch of notifications) are set by one
        UPDATE; a single such statement stands alone where writes may (`writes_alone`)."""
        if not jobs:
            return
        now = self.now()
        groups: dict[tuple[str, int], list[int]] = {}
        for item_id, job_id, count in jobs:
            groups.setdefault((job_id, count), []).append(item_id)
        statement = _MARK_ENQUEUED.get(table.name)
        if statement is None:  # built once a table, the ids bound as an expanding IN
            statement = _MARK_ENQUEUED[table.name] = update(table).where(
                table.c.id.in_(bindparam("b_ids", expanding=True))).values(
                job_id=bindparam("b_job"), enqueued_at=bindparam("b_at"),
                enqueue_count=bindparam("b_count"))
        rows = [{"b_ids": ids, "b_job": job_id, "b_at": now, "b_count": count}
                for (job_id, count), ids in groups.items()]
        if len(rows) == 1 and self.writes_alone:  # one statement, atomic: no transaction
            with self.standalone() as s:
                s.connection().execute(statement, rows[0])
                s.commit()
            return
        with self.uow() as uow:
            conn = uow.session.connection()
            for row in rows:  # an expanding IN is not for executemany
                conn.execute(statement, row)

    def uow(self) -> UnitOfWork:
        """A new unit of work (one transaction)."""
        return UnitOfWork(self)

    def hand_off(self, items: Sequence[Handoff]) -> None:
        """Give committed outbox items to the queue; a failure only delays them."""
        if not items or self.enqueue is None:
            return
        try:
            self.enqueue(items)
        except Exception as exc:  # the reconciler is the safety net for exactly this
            log.warning("hand-off of %d outbox item(s) failed (%s); the reconciler will enqueue "
                        "them", len(items), type(exc).__name__)


class UnitOfWork:
    """One transaction: committed when the block ends normally, rolled back on an error.

    Outbox items noted with `hand_off` go to the queue only after a successful commit.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.handoffs: list[Handoff] = []
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The transaction's session."""
        assert self._session is not None, "use the unit of work in a with block"
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self.deps.sessions()
        self._session.begin()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        session, committed = self.session, False
        try:
            if kind is None:
                session.commit()
                committed = True
            else:
                session.rollback()
        finally:
            session.close()
            self._session = None
        if committed:
            self.deps.hand_off(self.handoffs)

    def hand_off(self, kind: OutboxKind, item_id: int, *, cancel: bool = False,
                 pending: Pending | None = None) -> None:
        """Queue `item_id` (or cancel its job) once this transaction has committed."""
        self.handoffs.append(Handoff(kind, item_id, cancel, pending))
