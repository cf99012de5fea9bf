"""An embedded Redis-protocol server for the demo and tests on a machine without Redis."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis


def redis_answers(url: str) -> bool:
    """Whether a Redis server answers PING at `url`."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def embedded_redis() -> Iterator[str]:
    """Run fakeredis' TCP server (with Lua, which RQ needs) on loopback; yields its URL."""
    from fakeredis import TcpFakeServer

    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    thread = threading.Thread(target=server.serve_forever, name="embedded-redis", daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def some_redis(url: str) -> Iterator[tuple[str, bool]]:
    """(url, embedded): the Redis at `url` when it answers, else an embedded one."""
    if redis_answers(url):
        yield url, False
        return
    with embedded_redis() as embedded:
        yield embedded, True
