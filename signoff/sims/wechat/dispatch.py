"""The registry of simulated endpoints and the parsed request each handler receives."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import FileStorage

from .errors import ApiError

if TYPE_CHECKING:
    from .state import SimState


@dataclass
class Call:
    """One API request, read off the wire before the state lock is taken."""

    endpoint: str
    method: str
    args: Mapping[str, str]
    raw: bytes
    files: Mapping[str, FileStorage]
    now: float
    _json: Any = field(default=None, repr=False)

    def json(self) -> dict[str, Any]:
        """The body parsed as JSON whatever its Content-Type (wechatpy sends none).

        Raises:
            ApiError: 44002 empty body, 47001 not a JSON object.
        """
        if self._json is None:
            if not self.raw.strip():
                raise ApiError(44002)
            try:
                self._json = json.loads(self.raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise ApiError(47001) from None
            if not isinstance(self._json, dict):
                raise ApiError(47001)
        return self._json


Handler = Callable[["SimState", Call], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """How one endpoint is called and who answers it."""

    method: str
    handler: Handler
    needs_token: bool = True


ROUTES: dict[str, Route] = {}


def route(endpoint: str, method: str = "POST", *, needs_token: bool = True) -> Callable[[Handler], Handler]:
    """Register a handler for `/cgi-bin/<endpoint>`."""

    def register(handler: Handler) -> Handler:
        ROUTES[endpoint] = Route(method, handler, needs_token)
        return handler

    return register


def int_arg(body: dict[str, Any], name: str, default: int, errcode: int = 40002) -> int:
    """An integer body field that may come as a number or a numeric string.

    Raises:
        ApiError: `errcode` when the value is not an integer.
    """
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool):
        raise ApiError(errcode)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(errcode) from None


def ok(**extra: Any) -> dict[str, Any]:
    """The success body of calls that return no data."""
    return {"errcode": 0, "errmsg": "ok", **extra}
