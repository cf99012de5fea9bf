"""What every use case stands on: its dependencies, and one unit of work per change.

A unit of work is one transaction. The outbox items it writes (publish intents, notifications)
are handed to the queue right after the commit, so work starts at once; when the hand-off fails
(Redis down), the commit stands and the reconciler enqueues them later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from approvals.rules.org import OrgChart
from approvals.store.models import utcnow
from approvals.views import Handoff, OutboxKind, Pending

log = logging.getLogger("signoff.handoff")

# The queue adapter: enqueue (or cancel) these items now. It may raise; nothing is lost then.
Enqueue = Callable[[Sequence[Handoff]], None]


@dataclass
class Deps:
    """The database, the org chart, the clock and the queue hand-off every use case uses."""

    sessions: sessionmaker[Session]
    org: OrgChart
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    clock: Callable[[], datetime] = utcnow
    channels: tuple[str, ...] = ("log",)  # notification channels switched on
    enqueue: Enqueue | None = None  # set by bootstrap once the queue adapter exists
    # The face people act through, written into every audit row they cause: cli (the operator's
    # terminal, with a self-declared --as), web, api or chat (an authenticated person).
    channel: str = "cli"
    # Sessions for pages that only read (`db.read_session_factory`); None: `sessions`.
    reads: sessionmaker[Session] | None = None

    def now(self) -> datetime:
        """The current instant (UTC)."""
        return self.clock()

    def today(self) -> date:
        """Today in the unit's time zone: due dates and delegations are counted in it."""
        return self.now().astimezone(self.zone).date()

    def reading(self) -> Session:
        """A session for reading only (no transaction around it on PostgreSQL)."""
        return (self.reads or self.sessions)()

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
