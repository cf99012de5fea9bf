"""SQLite's locking as the engine sets it up: reads that stand alone run beside a write, and the
writers of one process take turns on a lock that every way out of a transaction lets go of, and
writers of several processes on a file beside the database."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from approvals.store import db

DEADLINE = 60.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqlite(tmp_path: Path) -> Any:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'locking.db'}")
    with db.transaction(db.session_factory(engine)) as s:
        s.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        s.execute(text("INSERT INTO counter (id, n) VALUES (1, 0)"))
    yield engine
    engine.dispose()


def _writers(engine: Engine) -> threading.Lock:
    with engine.connect() as conn:
        return type(conn.connection.dbapi_connection).writers  # type: ignore[union-attr]


def _count(engine: Engine) -> int:
    with db.standalone_session_factory(engine)() as s:
        return int(s.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one())


def test_a_read_that_stands_alone_runs_while_another_transaction_holds_the_write_lock(
        sqlite: Engine) -> None:
    writing, done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with db.transaction(db.session_factory(sqlite)) as s:
                s.execute(text("UPDATE counter SET n = 5 WHERE id = 1"))
                writing.set()
                assert done.wait(DEADLINE)
        except BaseException as exc:  # reported below
            failures.append(exc)
            writing.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert writing.wait(DEADLINE)
    try:
        # The write is in progress and uncommitted: the read sees the database before it.
        assert _count(sqlite) == 0
        assert thread.is_alive()
    finally:
        done.set()
        thread.join(DEADLINE)
    assert not failures
    assert _count(sqlite) == 5


def test_writers_of_one_process_take_turns_without_losing_an_update(sqlite: Engine) -> None:
    factory = db.session_factory(sqlite)
    failures: list[BaseException] = []

    def add(times: int) -> None:
        try:
            for _ in range(times):
                with db.transaction(factory) as s:  # read, then write what was read
                    n = s.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()
                    s.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=add, args=(25,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert not failures
    assert _count(sqlite) == 200
    assert not _writers(sqlite).locked()


def test_every_way_out_of_a_write_transaction_lets_go_of_the_lock(sqlite: Engine) -> None:
    factory, lock = db.session_factory(sqlite), _writers(sqlite)
    with pytest.raises(RuntimeError), db.transaction(factory) as s:  # rolled back
        s.execute(text("UPDATE counter SET n = 7 WHERE id = 1"))
        assert lock.locked()
        raise RuntimeError("refused")
    assert not lock.locked()
    with factory() as s:  # closed with the transaction still open
        s.execute(text("UPDATE counter SET n = 8 WHERE id = 1"))
        assert lock.locked()
    assert not lock.locked()
    conn = sqlite.connect()  # a connection given up mid-transaction
    conn.execute(text("UPDATE counter SET n = 9 WHERE id = 1"))
    assert lock.locked()
    conn.invalidate()
    assert not lock.locked()
    assert _count(sqlite) == 0
    with db.transaction(factory) as s:
        s.execute(text("UPDATE counter SET n = 10 WHERE id = 1"))
    assert not lock.locked()
    assert _count(sqlite) == 10


def _hold_write(db_file: Path) -> subprocess.Popen[str]:
    """Another process in a write transaction on the database until its stdin gets a line."""
    script = (
        "import sys\n"
        "from sqlalchemy import text\n"
        "from approvals.store import db\n"
        f"engine = db.create_db_engine({f'sqlite:///{db_file}'!r})\n"
        "with db.transaction(db.session_factory(engine)) as s:\n"
        "    s.execute(text('UPDATE counter SET n = n + 1 WHERE id = 1'))\n"
        "    print('holding', flush=True)\n"
        "    sys.stdin.readline()\n"
        "print('committed', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_writers_of_two_processes_take_turns_on_the_file_beside_the_database(
        sqlite: Engine, tmp_path: Path) -> None:
    db_file = tmp_path / "locking.db"
    other, done = _hold_write(db_file), threading.Event()
    failures: list[BaseException] = []
    try:
        # The other process holds the turn: the lock file says so to anyone who asks.
        fd = os.open(f"{db_file}-writers", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        def add() -> None:
            try:
                with db.transaction(db.session_factory(sqlite)) as s:
                    n = s.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()
                    s.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
            except BaseException as exc:  # reported below
                failures.append(exc)
            done.set()

        thread = threading.Thread(target=add)
        thread.start()
        assert not done.wait(0.2)  # waits its turn (no timing is asserted, only the order)
        assert other.stdin is not None and other.stdout is not None
        other.stdin.write("\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "committed"
        assert done.wait(DEADLINE)
        thread.join(DEADLINE)
    finally:
        if other.poll() is None and not done.is_set():
            other.kill()
        other.communicate(timeout=DEADLINE)  # and its pipes closed
    assert not failures
    assert _count(sqlite) == 2  # both increments: the second read what the first wrote
    assert not _writers(sqlite).locked()


def test_a_turn_that_does_not_come_in_time_is_given_up_whole(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    fd = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another process holding its turn
        writers = db.Writers(str(path))
        assert writers.acquire(timeout=0.05) is False
        assert not writers.locked()  # the threads' lock is not kept either
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert writers.acquire(timeout=DEADLINE) is True
        writers.release()
        assert not writers.locked()
    finally:
        os.close(fd)


def test_a_database_in_memory_has_no_file_to_lock() -> None:
    assert db.sqlite_file("sqlite://") is None
    assert db.sqlite_file("sqlite:///:memory:") is None
    assert db.sqlite_file("sqlite:////srv/signoff/signoff.db") == "/srv/signoff/signoff.db"
    writers = db.Writers(None)
    assert writers.acquire(timeout=1) is True
    assert writers.locked()
    writers.release()
