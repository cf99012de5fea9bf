"""Injected faults: what the next calls of a method (or of every method) do instead of answering normally."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS: dict[str, set[str]] = {
    # kind -> the parameters it accepts
    "retry_after": {"retry_after"},  # 429 Too Many Requests with parameters.retry_after
    "server_error": {"status", "description"},  # 500 / 502 "Bad Gateway" in Telegram's envelope
    "error": {"status", "description"},  # any other error envelope
    "delay": {"seconds"},  # wait, then answer normally
    "drop": set(),  # close the connection without doing anything
    "accept_then_drop": set(),  # do it (the message is stored), then close the connection unanswered
    "duplicate_updates": set(),  # each new update comes again once after the bot confirmed it
}
ERROR_KINDS = ("retry_after", "server_error", "error")
SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                 504: "Gateway Timeout"}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - KINDS[kind])
    if unknown:
        raise ValueError(f"fault kind {kind!r} takes no parameter(s) {', '.join(unknown)}")
    if kind == "retry_after":
        seconds = params.setdefault("retry_after", 1)
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
            raise ValueError("retry_after must be a whole number of seconds, at least 1")
    elif kind == "server_error":
        status = params.setdefault("status", 502)
        if not isinstance(status, int) or not 500 <= status <= 599:
            raise ValueError("server_error faults need a status between 500 and 599")
        params.setdefault("description", SERVER_ERRORS.get(status, "Internal Server Error"))
    elif kind == "error":
        if not isinstance(params.get("status"), int) or not 400 <= params["status"] <= 599:
            raise ValueError("error faults need a status between 400 and 599")
        if not isinstance(params.get("description"), str) or not params["description"]:
            raise ValueError("error faults need a description")
    elif kind == "delay" and (not _number(params.get("seconds")) or params["seconds"] < 0):
        raise ValueError("delay faults need seconds >= 0")
    return params


@dataclass
class Fault:
    """One injected fault and how many more times it applies (None: until cleared)."""

    id: int
    method: str
    kind: str
    times: int | None
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def matches(self, method: str) -> bool:
        """Whether the fault applies to `method` (method names are case-insensitive, as Telegram's are)."""
        return self.method == "*" or self.method.lower() == method.lower()

    def as_dict(self) -> dict[str, Any]:
        """The fault as the control API shows it."""
        return {"id": self.id, "method": self.method, "kind": self.kind, "times": self.times, "fired": self.fired,
                **self.params}


class FaultBook:
    """The active faults. Not thread-safe: the caller holds the state lock."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self._next_id = 1

    def add(self, method: Any, kind: Any, times: Any = 1, **params: Any) -> Fault:
        """Add a fault for `method` ("*": every method).

        Raises:
            ValueError: an unknown kind, a bad count or bad parameters.
        """
        if not isinstance(method, str) or not method.strip():
            raise ValueError("method is required (a Bot API method such as sendMessage, or *)")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError("times must be a positive integer or None (until cleared)")
        if kind == "duplicate_updates" and method.strip().lower() not in ("*", "getupdates"):
            raise ValueError("duplicate_updates concerns updates: give method getUpdates (or *)")
        fault = Fault(self._next_id, method.strip(), kind, times, _check_params(kind, dict(params)))
        self._next_id += 1
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def fire(self, method: str, *kinds: str) -> Fault | None:
        """The first fault of one of `kinds` for `method`, using up one of its times; None if none applies."""
        for fault in self.faults:
            if fault.kind in kinds and fault.matches(method):
                fault.fired += 1
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                return fault
        return None
