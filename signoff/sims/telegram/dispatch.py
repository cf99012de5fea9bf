"""The registry of simulated Bot API methods, and running one of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import NOT_FOUND, BotApiError
from .params import Params

if TYPE_CHECKING:
    from .bots import BotState
    from .state import SimState


@dataclass(frozen=True)
class Described:
    """A result Telegram answers with a description beside it ("Webhook was set")."""

    result: Any
    description: str


Handler = Callable[["SimState", "BotState", Params], Any]
# lower-case name -> (canonical name, handler): Telegram's method names are case-insensitive
ROUTES: dict[str, tuple[str, Handler]] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for the Bot API method `name`."""

    def register(handler: Handler) -> Handler:
        ROUTES[name.lower()] = (name, handler)
        return handler

    return register


def canonical(name: str) -> str:
    """The method's name as the Bot API documents it (`sendmessage` -> `sendMessage`); unknown ones as given."""
    found = ROUTES.get(name.lower())
    return found[0] if found is not None else name


def execute(state: SimState, bot: BotState, name: str, params: Params) -> dict[str, Any]:
    """Run a method under the state lock and return the success envelope; waiters are woken after.

    Raises:
        BotApiError: the method refused the call (404 for an unknown method).
    """
    found = ROUTES.get(name.lower())
    if found is None:
        raise BotApiError.of(NOT_FOUND)
    with state.lock:
        result = found[1](state, bot, params)
        state.cond.notify_all()
    if isinstance(result, Described):
        return {"ok": True, "result": result.result, "description": result.description}
    return {"ok": True, "result": result}
