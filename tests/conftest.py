"""Fixtures: the example org chart's personas, a real database (SQLite or PostgreSQL), real Redis.

- SIGNOFF_TEST_DATABASE_URL: run the database tests on that PostgreSQL database too.
- SIGNOFF_TEST_REDIS_URL: the Redis to use (default redis://127.0.0.1:6379/15); when none
  answers, an embedded Redis-protocol server is started instead.
- SIGNOFF_REQUIRE_SERVICES=1 (CI): fail rather than fall back to the embedded Redis.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from approvals.bootstrap import Core, bootstrap
from approvals.config.orgfile import load_org
from approvals.config.settings import Settings
from approvals.rules.org import OrgChart
from approvals.services import Service
from approvals.store import db
from approvals.store.models import Base
from approvals.views import Handoff, OutboxKind
from signoff.embedded import embedded_redis, redis_answers

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ORG = ROOT / "config" / "org.example.toml"
ZONE = ZoneInfo("Asia/Shanghai")
PG_URL = os.environ.get("SIGNOFF_TEST_DATABASE_URL")
REQUIRE_SERVICES = os.environ.get("SIGNOFF_REQUIRE_SERVICES") == "1"


@dataclass(frozen=True)
class Personas:
    """Fixed roles from the example org chart (healthchecks' alice/bob/charlie, for a bureau)."""

    drafter: str = "li_na"  # 李娜, 应急救援科
    head: str = "zhang_wei"  # 张伟, her department head
    leader: str = "chen_gang"  # 陈刚, her supervising leader (the reviewer)
    issuer: str = "wang_min"  # 王敏, 法宣科's supervising leader
    admin: str = "zhao_xue"  # 赵雪, 法宣科 admin
    operator: str = "he_jing"  # 何静, lays posts out
    deputy: str = "sun_li"  # 孙丽, signs for 陈刚 as reviewer 2026-12-07..18
    principal: str = "zhou_jian"  # 周建, the fallback for four eyes
    colleague: str = "xu_fang"  # 徐芳, staff of another department: no role on her posts
    stranger: str = "mallory"  # not in the org chart at all

    @property
    def outsiders(self) -> tuple[str, str]:
        """Both kinds of outsider: every permission test tries them."""
        return (self.colleague, self.stranger)


@pytest.fixture(scope="session")
def who() -> Personas:
    return Personas()


@pytest.fixture(scope="session")
def org() -> OrgChart:
    return load_org(EXAMPLE_ORG)


class Clock:
    """A settable clock (the edge of the world: time), starting inside the delegation range."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)

    def set_day(self, year: int, month: int, day: int) -> None:
        self.now = datetime(year, month, day, 10, 0, tzinfo=ZONE)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 8, 10, 0, tzinfo=ZONE))


# --- databases ----------------------------------------------------------------------------------

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = db.create_db_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """The PostgreSQL test database, emptied and migrated once per session."""
    if not PG_URL:
        pytest.skip("SIGNOFF_TEST_DATABASE_URL is not set")
    engine = db.create_db_engine(PG_URL)
    with engine.begin() as conn:
        # Everything, not just the tables these models know: a table a newer (or older) branch's
        # migration left behind would otherwise fail the schema check.
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    yield engine
    engine.dispose()


def _truncate(engine: Engine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"),
                     {"h": "0" * 64})  # as migration 0001 leaves it


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
           ) -> Iterator[Engine]:
    """A migrated, empty database: a fresh SQLite file, or the truncated PostgreSQL database."""
    if request.param == "postgresql":
        pg = request.getfixturevalue("pg_engine")
        _truncate(pg)
        yield pg
        return
    path = tmp_path / "signoff.db"
    shutil.copy(sqlite_template, path)
    eng = db.create_db_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


class HandedOff(list[Handoff]):
    """The queue hand-off as the core sees it, recording what each commit handed over."""

    def __call__(self, items: Sequence[Handoff]) -> None:
        self.extend(items)

    def of(self, kind: OutboxKind) -> list[Handoff]:
        """The items of one kind, in hand-off order."""
        return [h for h in self if h.kind is kind]


@pytest.fixture
def handed_off() -> HandedOff:
    return HandedOff()


@pytest.fixture
def core(engine: Engine, org: OrgChart, clock: Clock, handed_off: HandedOff) -> Core:
    """The core as bootstrap builds it, on the test database, with a recording queue hand-off."""
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        org_file=EXAMPLE_ORG)
    return bootstrap(settings, engine=engine, org=org, clock=clock,
                     enqueue=lambda _core: handed_off)


@pytest.fixture
def service(core: Core) -> Service:
    return core.service


# --- Redis --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis when one answers; else an embedded Redis-protocol server on loopback."""
    url = os.environ.get("SIGNOFF_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if redis_answers(url):
        yield url
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"SIGNOFF_REQUIRE_SERVICES=1 but no Redis answers at {url}")
    with embedded_redis() as embedded:
        yield embedded


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[object]:
    """A client on a flushed database, as RQ's own suite does it."""
    import redis

    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()
