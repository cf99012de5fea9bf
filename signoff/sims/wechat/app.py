"""The Flask app: `/cgi-bin/*` as WeChat answers it, and `/_sim/*` to steer and inspect the simulator."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from . import api, jobs  # noqa: F401  (importing registers the endpoints)
from .config import SimConfig
from .dispatch import ROUTES, Call
from .errors import ApiError
from .state import SimState

EXTENSION = "wechat_sim"


def sim_state(app: Flask | None = None) -> SimState:
    """The simulator state behind an app created by `create_app`."""
    return (app or current_app).extensions[EXTENSION]


def _json(doc: Any, status: int = 200) -> Response:
    # raw UTF-8, as the platform answers
    return Response(json.dumps(doc, ensure_ascii=False), status=status,
                    content_type="application/json; encoding=utf-8")


def _drop_connection() -> Response:
    """Close the client's connection without answering (a gateway that hangs up)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # the client may have gone already
            sock.shutdown(socket.SHUT_RDWR)
    # werkzeug's write to the shut socket fails and it treats the connection as dropped
    return Response(status=500)


def _http_error(status: int) -> Response:
    body = f"<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center></body></html>"
    return Response(body, status=status, content_type="text/html")


def _transport_fault(state: SimState, endpoint: str) -> Response | None:
    """Apply latency, drop and HTTP-status faults, which strike before the API looks at the request."""
    with state.lock:
        state.calls[endpoint] += 1
        latency = state.faults.fire(endpoint, "latency")
    if latency is not None:
        time.sleep(latency.params["seconds"])
    with state.lock:
        if state.faults.fire(endpoint, "drop") is not None:
            return _drop_connection()
        status = state.faults.fire(endpoint, "http_status")
    return _http_error(status.params["status"]) if status is not None else None


def _check_token(state: SimState, call: Call) -> None:
    state.tokens.check(call.args.get("access_token"), call.now, state.config.token_grace_seconds)
    if state.faults.fire(call.endpoint, "token_invalid") is not None:
        raise ApiError(40001)


cgi = Blueprint("cgi", __name__, url_prefix="/cgi-bin")


@cgi.route("/<path:endpoint>", methods=["GET", "POST"])
def dispatch(endpoint: str) -> Response:
    """Answer one API call (counted in flight while it runs, latency faults included)."""
    state = sim_state()
    with state.lock:
        state.in_flight += 1
    try:
        return _answer(state, endpoint)
    finally:
        with state.lock:
            state.in_flight -= 1


def _answer(state: SimState, endpoint: str) -> Response:
    """Faults first, then the method, the token and the handler."""
    fault = _transport_fault(state, endpoint)
    if fault is not None:
        return fault
    target = ROUTES.get(endpoint)
    if target is None:
        return _http_error(404)
    multipart = request.mimetype == "multipart/form-data"
    call = Call(endpoint, request.method, request.args, b"" if multipart else request.get_data(),
                request.files if multipart else {}, time.time())
    with state.lock:
        try:
            if request.method != target.method:
                raise ApiError(43001 if target.method == "GET" else 43002)
            if target.needs_token:
                _check_token(state, call)
            injected = state.faults.fire(endpoint, "errcode")
            if injected is not None:
                raise ApiError(injected.params["errcode"], injected.params.get("errmsg") or None)
            answer = _json(target.handler(state, call))
            lost = state.faults.fire(endpoint, "drop_reply") is not None
        except ApiError as error:
            return _json(error.body())
    # The platform did the work; the reply never reaches the caller (a gateway timeout, a reset).
    return _drop_connection() if lost else answer


control = Blueprint("control", __name__, url_prefix="/_sim")


def _body() -> dict[str, Any]:
    doc = request.get_json(force=True, silent=True)
    return doc if isinstance(doc, dict) else {}


@control.post("/faults")
def add_fault() -> Response:
    """Inject a fault: {endpoint, kind, times, probability, ...kind parameters}."""
    state = sim_state()
    try:
        with state.lock:
            fault = state.faults.add(_body())
    except ValueError as error:
        return _json({"error": str(error)}, 400)
    return _json(fault.as_dict(), 201)


@control.get("/faults")
def list_faults() -> Response:
    """The faults still active."""
    state = sim_state()
    with state.lock:
        return _json([f.as_dict() for f in state.faults.faults])


@control.delete("/faults")
def clear_faults() -> Response:
    """Remove every fault."""
    state = sim_state()
    with state.lock:
        state.faults.clear()
    return _json({"ok": True})


@control.post("/tokens/invalidate")
def invalidate_tokens() -> Response:
    """Make every token issued so far answer 40001."""
    state = sim_state()
    with state.lock:
        state.tokens.revoke_all()
    return _json({"ok": True})


@control.post("/reset")
def reset() -> Response:
    """Forget all state and faults and restore the configuration the simulator started with."""
    sim_state().reset()
    return _json({"ok": True})


@control.route("/config", methods=["GET", "POST"])
def config() -> Response:
    """Show the configuration, or change some of its fields."""
    state = sim_state()
    with state.lock:
        if request.method == "POST":
            try:
                state.config = state.config.updated(_body())
            except (TypeError, ValueError) as error:
                return _json({"error": str(error)}, 400)
        return _json(state.config.as_dict())


@control.get("/state")
def inspect() -> Response:
    """The inspection document: publications, drafts, media, mass sends, calls, tokens, pushes."""
    state = sim_state()
    with state.lock:
        jobs.settle(state, time.time())
        return _json(state.snapshot())


def create_app(config: SimConfig | None = None) -> Flask:
    """Build a simulator app with its own state; `sim_state(app)` reaches that state."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = None  # uploads are judged by WeChat's own limits, not Flask's
    app.extensions[EXTENSION] = SimState(config or SimConfig())
    app.register_blueprint(cgi)
    app.register_blueprint(control)
    return app
