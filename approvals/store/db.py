"""Engine and session factories, and schema migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import select
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from approvals.rules.errors import ConfigError, Text

MIGRATIONS = "approvals.store:migrations"
# A pooled connection unused for longer than this is pinged before it is handed out again.
IDLE_PING_SECONDS = 10.0
# How long a SQLite transaction waits for another one's write lock before giving up.
SQLITE_BUSY_SECONDS = 30.0
# The execution option of sessions that stand alone: on SQLite they begin without the write lock.
_DEFERRED = "signoff_sqlite_deferred"


def create_db_engine(url: str, **kw: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and write-ahead locking, a database
    server gets its pooled connections checked before use (`_check_on_checkout`)."""
    if url.startswith("sqlite"):
        writers = Writers(sqlite_file(url))
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS,
                                                  "factory": _sqlite_connection(writers)}, **kw)
        _sqlite_setup(engine, writers)
        return engine
    engine = create_engine(url, **kw)
    _check_on_checkout(engine)
    return engine


def _check_on_checkout(engine: Engine) -> None:
    """Never hand out a pooled connection the server has closed (a restart, an idle timeout).

    `pool_pre_ping` would pay a round trip to the server for every checkout, that is for every
    request. A connection the server closed has something to read on its socket (the server's
    goodbye, or the end of the stream): that is checked without a round trip, and only then, or
    when the connection sat unused for a while (a firewall may have dropped it silently), is it
    pinged. A failed ping is handled as pre-ping handles it: the server went away, so every
    pooled connection opened before is discarded and a new one is handed out.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None:  # just connected
            return
        if time.monotonic() - since < IDLE_PING_SECONDS and not _readable(dbapi_conn):
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(str(exc)) from exc
        if not alive:
            raise InvalidatePoolError("the database connection did not answer")


def _readable(dbapi_conn: Any) -> bool:
    """Whether an idle connection's socket has something to read: the server closed it (or sent
    an unasked-for message, which a ping then sorts out)."""
    try:
        fd = dbapi_conn.fileno()
    except Exception:  # closed on this side
        return True
    try:
        ready, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL's database; None for one in memory (or named by a URI)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


class Writers:
    """The turn to write to one SQLite database.

    The threads of this process queue on a lock of their own, and processes (the bot, the
    worker, the console) on an advisory lock (`flock`) on a file beside the database, the
    database's name with `-writers` added. Either is free the moment the last writer commits,
    rolls back or closes. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20 and 25 ms between
    its tries: a writer that let go 3 ms into the wait was noticed after 8 ms, and in the gaps
    between another process's short transactions a waiter could sleep through several turns.
    A process without this lock (the sqlite3 shell) still meets SQLite's own.
    """

    def __init__(self, path: str | None) -> None:
        self.path = f"{path}-writers" if path else None
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()

    def locked(self) -> bool:
        """Whether a thread of this process holds the turn."""
        return self._threads.locked()

    def acquire(self, timeout: float) -> bool:
        """Wait for the turn (at most `timeout` seconds); False if it did not come."""
        if self._pid != os.getpid():  # a forked child: the parent's lock and file are not its own
            self._threads, self._fd, self._pid = threading.Lock(), None, os.getpid()
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            return False
        try:
            if self._lock_file(deadline):
                return True
        except BaseException:
            self._threads.release()
            raise
        self._threads.release()
        return False

    def release(self) -> None:
        """Give the turn back."""
        if self._pid != os.getpid():  # a forked child's copy of its parent's turn: not its own
            return
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self, deadline: float) -> bool:
        fd = self._open()
        if fd is None:
            return True
        nap = 0.00005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                return False
            # No timed flock exists: a short nap (a system call a turn, no SQLite work) instead
            # of a wait that could never give up on a process that hangs mid-transaction.
            time.sleep(nap)
            nap = min(nap * 2, 0.0005)

    def _open(self) -> int | None:
        if self._fd is None and self.path is not None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:  # a directory we may not write to: SQLite's own lock alone
                self.path = None
        return self._fd


def _sqlite_connection(writers: Writers) -> type[sqlite3.Connection]:
    """A SQLite connection class that gives the engine's write turn (`writers`) back once its
    transaction has ended: commit, rollback or close."""

    class Connection(sqlite3.Connection):
        writers: Writers
        holds_write_lock = False

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                self.release_write_lock()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self.release_write_lock()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self.release_write_lock()

        def release_write_lock(self) -> None:
            if self.holds_write_lock:
                self.holds_write_lock = False
                writers.release()

    Connection.writers = writers
    return Connection


def _sqlite_setup(engine: Engine, writers: Writers) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if conn.get_execution_options().get(_DEFERRED):  # reads: WAL lets them run beside a write
            conn.exec_driver_sql("BEGIN")
            return
        # BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of both
        # reading and then one failing to upgrade its lock. Writers queue for their turn first
        # (`Writers`): SQLite's busy handler polls, sleeping up to 100 ms a turn.
        dbapi_conn = conn.connection.dbapi_connection
        if not dbapi_conn.holds_write_lock:
            dbapi_conn.holds_write_lock = writers.acquire(timeout=SQLITE_BUSY_SECONDS)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_conn.release_write_lock()
            raise


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def standalone_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory for statements that stand alone: the reads of a page, a write of one
    statement. On PostgreSQL they run without a transaction around them (autocommit): at READ
    COMMITTED, the isolation level used, each statement sees the database as of its own start
    either way, and one statement is atomic by itself; BEGIN and COMMIT (or ROLLBACK) would be
    two more round trips. On SQLite they begin deferred: a read does not take the write lock
    (in WAL mode it runs beside a writer, on the snapshot it started with), a write of one
    statement takes it when it runs."""
    if engine.url.get_backend_name() == "postgresql":
        return sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"),
                            expire_on_commit=False)
    if engine.url.get_backend_name() == "sqlite":  # a deferred BEGIN: no write lock for reads
        return sessionmaker(engine.execution_options(**{_DEFERRED: True}), expire_on_commit=False)
    return session_factory(engine)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the packaged migrations and this engine."""
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the latest by default).

    Raises:
        ConfigError: the database is at a revision this code does not know.
    """
    _known_or_refused(engine, current_revision(engine))
    command.upgrade(alembic_config(engine), revision)


def _known_or_refused(engine: Engine, at: str | None) -> None:
    # A revision none of this code's migrations has: a newer release's database, or another
    # application's. Upgrading cannot help; the address may be the wrong one.
    if at is None:
        return
    try:
        ScriptDirectory.from_config(alembic_config(engine)).get_revision(at)
    except CommandError:
        raise ConfigError(_UNKNOWN_REVISION.format(at=at[:40])) from None


_UNKNOWN_REVISION = Text(
    "数据库结构版本为 {at}，本程序的迁移中没有这个版本：它可能来自更新的 signoff，或是其他应用的数据库。"
    "请核对 SIGNOFF_DATABASE_URL；如确是更新版本的数据库，请使用对应版本的 signoff。",
    "The database schema is at {at}, which none of this code's migrations know: it may come "
    "from a newer signoff, or be another application's database. Check SIGNOFF_DATABASE_URL; "
    "for a newer release's database, use that release.")


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest schema revision this code knows."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def require_current_schema(engine: Engine) -> None:
    """Raise ConfigError unless the database schema is at the latest revision.

    A SQLite file that does not exist is not created here (connecting would leave an empty file
    behind): the message names the file and what to run.
    """
    path = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if path and path != ":memory:" and not path.startswith("file:") and not Path(path).exists():
        raise ConfigError(Text(
            f"数据库文件 {path} 不存在：请先运行 `signoff db upgrade` 创建"
            "（或检查 SIGNOFF_DATABASE_URL）。",
            f"The database file {path} does not exist: run `signoff db upgrade` to create it "
            "(or check SIGNOFF_DATABASE_URL).",
        ))
    at, head = current_revision(engine), head_revision(engine)
    _known_or_refused(engine, at)
    if at != head:
        raise ConfigError(Text(
            f"数据库结构版本为 {at or '（空）'}，需要 {head}：请先运行 `signoff db upgrade`。",
            f"The database schema is at {at or '(empty)'}, this code needs {head}: "
            "run `signoff db upgrade` first.",
        ))
