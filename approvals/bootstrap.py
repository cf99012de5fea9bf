"""Build the whole core from settings: every entry point (CLI, worker, demo, bench, console, bot)
calls `bootstrap`, so the wiring is written once.

The queue hand-off is passed in as a factory (cosmicpython's `bootstrap(publish=...)`): the core
never imports the queue, and the queue adapter gets the core it reports back to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from approvals.config.orgfile import load_org
from approvals.config.settings import Settings
from approvals.rules.org import OrgChart
from approvals.services import Deps, Notifications, Publishing, Service
from approvals.services.base import Enqueue
from approvals.store import db


@dataclass
class Core:
    """The built core: the façade for people, and the worker's publishing and delivery use cases."""

    settings: Settings
    engine: Engine
    deps: Deps
    service: Service
    publishing: Publishing
    notifications: Notifications

    @property
    def org(self) -> OrgChart:
        """The org chart the rules read."""
        return self.deps.org

    @property
    def zone(self) -> ZoneInfo:
        """The unit's time zone."""
        return self.deps.zone

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def bootstrap(
    settings: Settings,
    *,
    engine: Engine | None = None,
    org: OrgChart | None = None,
    clock: Callable[[], datetime] | None = None,
    enqueue: Callable[[Core], Enqueue] | None = None,
    check_schema: bool = True,
) -> Core:
    """The core for `settings`; `enqueue(core)` makes the queue hand-off (None: the reconciler's
    passes are the only hand-off).

    Raises:
        ConfigError: the org file or the database schema is not usable.
    """
    org = (org or load_org(settings.org_file)).speaking(settings.language)
    if engine is None:
        engine = db.create_db_engine(settings.database_url)
    if check_schema:
        db.require_current_schema(engine)
    deps = Deps(db.session_factory(engine), org, zone=settings.zone,
                channels=tuple(settings.notify_channels),
                standalone_sessions=db.standalone_session_factory(engine),
                writes_alone=engine.dialect.name == "postgresql")
    if clock is not None:
        deps.clock = clock
    notifications = Notifications(deps)
    core = Core(settings, engine, deps, Service(deps, notifications),
                Publishing(deps, notifications), notifications)
    if enqueue is not None:
        deps.enqueue = enqueue(core)
    return core
