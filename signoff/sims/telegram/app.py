"""The Flask app: `/bot<token>/<method>` and `/file/bot<token>/<path>` as Telegram answers them, `/_sim/*` to steer."""

from __future__ import annotations

import base64
import contextlib
import inspect
import json
import socket
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from . import methods  # noqa: F401  (importing registers the Bot API methods)
from .config import TelegramSimConfig
from .dispatch import canonical, execute
from .errors import NOT_FOUND, UNAUTHORIZED, BotApiError, SimError, SimTimeout
from .faults import ERROR_KINDS, Fault
from .local import LocalControl
from .params import Params, Upload
from .state import SimState

EXTENSION = "telegram_sim"
# the control API's actions: LocalControl's methods that may be called over HTTP
ACTIONS = ("add_user", "start", "block", "unblock", "send_text", "send_document", "send_photo", "press",
           "press_forged", "chat", "messages", "wait_messages", "wait_text", "wait_answer", "pending_updates",
           "webhook_deliveries", "inject", "clear_faults", "faults", "calls", "call_counts", "configure",
           "snapshot", "reset")


def sim_state(app: Flask | None = None) -> SimState:
    """The simulator state behind an app created by `create_app`."""
    return (app or current_app).extensions[EXTENSION]


def _json(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False), status=status, content_type="application/json")


def _error(error: BotApiError) -> Response:
    return _json(error.body(), error.status)


def _drop_connection() -> Response:
    """Close the client's connection without answering (the client sees a network error)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # the client may have gone already
            sock.shutdown(socket.SHUT_RDWR)
    # werkzeug's write to the shut socket fails and it treats the connection as dropped
    return Response(status=500)


def _injected(fault: Fault) -> BotApiError:
    if fault.kind == "retry_after":
        return BotApiError.too_many_requests(fault.params["retry_after"])
    return BotApiError(fault.params["status"], fault.params["description"])


def _params() -> Params:
    """The call's fields, read before any lock is taken: query, then the form or JSON body, and file parts."""
    values: dict[str, Any] = dict(request.args.items())
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            values.update(body)
    else:
        values.update(request.form.items())
    uploads = {name: Upload(part.read(), part.filename, part.mimetype) for name, part in request.files.items()}
    return Params(values, uploads)


api = Blueprint("api", __name__)


@api.route("/bot<token>/<name>", methods=["GET", "POST"])
def bot_method(token: str, name: str) -> Response:
    """Answer one Bot API call: the token, the counters, injected faults, then the method itself."""
    state = sim_state()
    bot = state.bots.get(token)
    if bot is None:
        return _error(BotApiError.of(UNAUTHORIZED))
    name = canonical(name)
    with state.lock:
        state.calls[name] += 1
        delay = state.faults.fire(name, "delay")
    if delay is not None:
        state.stopping.wait(delay.params["seconds"])
    with state.lock:
        if state.faults.fire(name, "drop") is not None:
            return _drop_connection()
        fault = state.faults.fire(name, *ERROR_KINDS)
    if fault is not None:
        return _error(_injected(fault))
    try:
        answer = execute(state, bot, name, _params())
    except BotApiError as error:
        return _error(error)
    with state.lock:
        lost = state.faults.fire(name, "accept_then_drop") is not None
    # Telegram did it (the message is stored); the answer never reaches the bot
    return _drop_connection() if lost else _json(answer)


@api.get("/file/bot<token>/<path:file_path>")
def download(token: str, file_path: str) -> Response:
    """A file's bytes, at the path getFile gave."""
    state = sim_state()
    with state.lock:
        bot = state.bots.get(token)
        if bot is None:
            return _error(BotApiError.of(UNAUTHORIZED))
        stored = bot.file_at(file_path)
    if stored is None:
        return _error(BotApiError.of(NOT_FOUND))
    return Response(stored.data, content_type=stored.mime_type or "application/octet-stream")


control = Blueprint("control", __name__, url_prefix="/_sim")


def _local() -> LocalControl:
    return LocalControl(sim_state(), request.args.get("token") or None)


@control.post("/<action>")
def act(action: str) -> Response:
    """Run one LocalControl method with the JSON body as its keyword arguments: `{"result": ...}`."""
    if action not in ACTIONS:
        return _json({"error": f"unknown control action {action!r}"}, 404)
    kwargs = request.get_json(force=True, silent=True) or {}
    if not isinstance(kwargs, dict):
        return _json({"error": "the body must be a JSON object of keyword arguments"}, 400)
    if "data_base64" in kwargs:  # file bytes travel base64-encoded in JSON
        kwargs["data"] = base64.b64decode(kwargs.pop("data_base64"))
    try:
        target = getattr(_local(), action)
        inspect.signature(target).bind(**kwargs)
    except (SimError, TypeError) as error:  # an unknown bot, a wrong argument: the caller's mistake
        return _json({"error": f"{action}: {error}"}, 400)
    try:
        return _json({"result": target(**kwargs)})
    except SimTimeout as error:
        return _json({"error": str(error)}, 408)
    except SimError as error:
        return _json({"error": str(error)}, 400)


@control.get("/files/<file_id>")
def file_bytes(file_id: str) -> Response:
    """The bytes of a file the bot or a user sent."""
    try:
        return Response(_local().file_bytes(file_id), content_type="application/octet-stream")
    except SimError as error:
        return _json({"error": str(error)}, 404)


@control.get("/state")
def state_document() -> Response:
    """The inspection document."""
    return _json(sim_state().snapshot())


def create_app(config: TelegramSimConfig | None = None) -> Flask:
    """Build a simulator app with its own state; `sim_state(app)` reaches that state."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = None  # uploads are judged by Telegram's own limits
    app.extensions[EXTENSION] = SimState(config or TelegramSimConfig())
    app.register_blueprint(api)
    app.register_blueprint(control)
    return app
