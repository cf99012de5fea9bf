"""The console under gunicorn: the app over the core with its queue hand-off."""

from __future__ import annotations

import gc
import os
import sys
from typing import Any, NoReturn

from flask import Flask
from gunicorn.app.base import BaseApplication
from redis import Redis

from approvals.config.settings import Settings
from approvals.rules.errors import ConfigError, Text
from approvals.web import create_app
from signoff.wiring import build_core
from worker.callback import codec_for
from worker.queueview import queue_view


def console_key(settings: Settings) -> str:
    """The key that signs the console's sessions, forms, previews and invites.

    Raises:
        ConfigError: no secret key (SIGNOFF_SECRET_KEY or SIGNOFF_SECRET_KEY_FILE), or too short.
    """
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if len(key) < 16:
        raise ConfigError(Text(
            "网页控制台需要至少 16 个字符的签名密钥：请设置 SIGNOFF_SECRET_KEY 或 "
            "SIGNOFF_SECRET_KEY_FILE。",
            "The console needs a signing key of at least 16 characters: set SIGNOFF_SECRET_KEY "
            "or SIGNOFF_SECRET_KEY_FILE."))
    return key


def console_app(settings: Settings) -> Flask:
    """The console for `settings`.

    Raises:
        ConfigError: no secret key, or too short (see `console_key`).
    """
    key = console_key(settings)
    previous = tuple(k.get_secret_value() for k in settings.previous_secret_keys)
    app = create_app(build_core(settings), secret_key=key, previous_keys=previous,
                     secure_cookies=settings.console_secure_cookies,
                     wechat_callback=codec_for(settings))
    return with_queue_view(app, settings)


def with_queue_view(app: Flask, settings: Settings, redis: Redis | None = None) -> Flask:
    """The jobs page reads what the queue says of each job through this RQ view."""
    app.extensions["signoff.queue"] = queue_view(settings, redis)
    return app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.app, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.app


def serve(settings: Settings, *, host: str, port: int, workers: int,
          threads: int | None = None) -> None:
    """Serve the console until interrupted."""
    app = console_app(settings)  # built (and checked) before any worker forks
    # No control socket: gunicorn's default one lives in the home folder, shared by every
    # gunicorn of the machine (two consoles, or the demo beside one, would fight over it).
    more = {"threads": threads} if threads is not None else {}
    serve_app(app, host=host, port=port, workers=workers, control_socket_disable=True, **more)


def serve_app(app: Flask, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve a console app under gunicorn until interrupted; `options` are more gunicorn settings.

    Raises:
        SystemExit: gunicorn's master ends this way when it is stopped (SIGINT, SIGTERM).
    """
    engine = app.extensions["signoff"].engine

    def post_fork(_server: object, _worker: object) -> None:
        # The master's pooled database connections must not be shared by the forked workers
        # (PostgreSQL answers "server closed the connection unexpectedly"): each opens its own.
        engine.dispose(close=False)

    master = os.getpid()
    # Everything built so far (the app, its routes, SQLAlchemy's tables, the org chart) lives as
    # long as the process: left out of the cyclic garbage collector's passes, which would
    # otherwise walk it all again every few hundred requests (and, by touching it, copy the
    # pages the forked workers share with this process).
    gc.collect()
    gc.freeze()
    try:
        _Gunicorn(app, {"bind": f"{host}:{port}", "workers": workers, "accesslog": "-",
                        "timeout": 60, "post_fork": post_fork, **options}).run()
    except BaseException as exc:
        if os.getpid() == master:
            raise
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1
        _leave_worker(code)
    if os.getpid() != master:
        _leave_worker(0)


def _leave_worker(code: int) -> NoReturn:
    # A forked worker ends with SystemExit inside gunicorn; it must not unwind through the
    # caller's stack, whose clean-up (the demo's temporary database, its simulator) is the
    # master's to do.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
