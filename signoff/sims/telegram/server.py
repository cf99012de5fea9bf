"""Running the simulator: on a background thread for tests and the demo, or blocking for the CLI."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from .app import create_app, sim_state
from .config import TelegramSimConfig
from .control import TelegramSimControl
from .local import LocalControl
from .state import SimState

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without the per-request access log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing: a polling bot makes a request every few seconds, tests hundreds."""


class _Server(ThreadedWSGIServer):
    """A threaded WSGI server that knows its connections, so stopping it leaves no thread behind.

    aiohttp keeps connections alive; their handler threads would otherwise sit in a read until the
    client closes them.
    """

    def __init__(self, host: str, port: int, app: Flask) -> None:
        super().__init__(host, port, app, handler=_QuietHandler)
        self._connections: dict[threading.Thread, socket.socket] = {}
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address),
                                  name="telegram-sim-connection", daemon=True)
        with self._connections_lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float = 10.0) -> None:
        """Hang up every open connection and wait for their threads to end."""
        with self._connections_lock:
            open_now = dict(self._connections)
        for sock in open_now.values():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in open_now:
            thread.join(timeout)


class TelegramSim:
    """The Bot API simulator as a real HTTP server on a background thread.

    Point aiogram at it with `AiohttpSession(api=TelegramAPIServer.from_base(sim.api_base))`, or
    take `sim.session()` / `sim.make_bot()`.
    """

    def __init__(self, config: TelegramSimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or TelegramSimConfig()
        self.host = host
        self.port = port
        self.app = create_app(self.config)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SimState:
        """The in-memory state."""
        return sim_state(self.app)

    @property
    def token(self) -> str:
        """The first bot's token."""
        return self.config.tokens[0]

    @property
    def api_base(self) -> str:
        """`http://HOST:PORT`: the base for `TelegramAPIServer.from_base`, and where `/_sim/*` lives."""
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def control(self) -> TelegramSimControl:
        """The control API over HTTP, for the first bot."""
        return TelegramSimControl(self.api_base)

    @property
    def local(self) -> LocalControl:
        """The same control API called in-process (no HTTP round trip), for the first bot."""
        return LocalControl(self.state)

    def session(self) -> AiohttpSession:
        """An aiogram session aimed at this simulator (close it, or the Bot owning it, when done)."""
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        return AiohttpSession(api=TelegramAPIServer.from_base(self.api_base))

    def make_bot(self, token: str | None = None, **kwargs: Any) -> Bot:
        """An aiogram Bot for one of the simulated bots (the first by default), on its own session."""
        from aiogram import Bot

        return Bot(token or self.token, session=self.session(), **kwargs)

    def start(self) -> TelegramSim:
        """Bind the port and serve on a daemon thread."""
        if self._server is not None:
            return self
        self.state.stopping.clear()
        self._server = _Server(self.host, self.port, self.app)
        # a short poll interval keeps stop() quick; tests start and stop a simulator per test
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="telegram-sim-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Answer long polls and waits at once, stop webhook senders, close connections and the port."""
        if self._server is None:
            return
        self.state.close()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> TelegramSim:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve(host: str, port: int, config: TelegramSimConfig) -> None:
    """Serve the simulator in the foreground until interrupted (`signoff sim telegram`)."""
    app = create_app(config)
    server = _Server(host, port, app)
    print(f"Telegram Bot API simulator at http://{host}:{server.server_port} "
          f"(bots: {', '.join(t.split(':', 1)[0] for t in config.tokens)}; control: /_sim/state)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim_state(app).close()
        server.close_connections()
        server.server_close()
