"""Running the simulator: in a background thread for tests and the demo, or blocking for the CLI."""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app, sim_state
from .config import SimConfig
from .control import SimControl
from .state import SimState


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without the per-request access log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing: tests make hundreds of calls."""


class WeChatSim:
    """The simulator as a real HTTP server on a background thread."""

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SimConfig()
        self.host = host
        self.port = port
        self.app = create_app(self.config)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SimState:
        """The in-memory state (prefer `control` or `/_sim/state` from other processes)."""
        return sim_state(self.app)

    @property
    def root_url(self) -> str:
        """`http://HOST:PORT`, where `/_sim/*` lives."""
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def base_url(self) -> str:
        """What wechatpy's `API_BASE_URL` should be set to."""
        return f"{self.root_url}/cgi-bin/"

    @property
    def control(self) -> SimControl:
        """A `SimControl` for this simulator."""
        return SimControl(self.root_url)

    def start(self) -> WeChatSim:
        """Bind the port and serve on a daemon thread."""
        if self._server is not None:
            return self
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=_QuietHandler)
        # a short poll interval keeps stop() quick; tests start and stop a simulator per test
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="wechat-sim-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, the timer and pending pushes."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.state.close()
        self._server = None
        self._thread = None

    def __enter__(self) -> WeChatSim:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve(host: str, port: int, config: SimConfig) -> None:
    """Serve the simulator in the foreground until interrupted (`signoff sim wechat`)."""
    app = create_app(config)
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    print(f"WeChat API simulator for {config.appid} at http://{host}:{server.server_port}/cgi-bin/ "
          f"(control: /_sim/state, /_sim/faults)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sim_state(app).close()
