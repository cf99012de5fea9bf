"""Injected faults: what the next matching calls do instead of (or before) answering normally."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

KINDS: dict[str, set[str]] = {
    # kind -> the parameters it accepts
    "errcode": {"errcode", "errmsg"},
    "http_status": {"status"},
    "latency": {"seconds"},
    "drop": set(),
    "drop_reply": set(),  # the call is carried out, then the connection drops: the reply is lost
    "publish_outcome": {"status", "fail_idx"},
    "mass_outcome": {"status"},
    "token_invalid": set(),
}
PUBLISH_FAILURE_STATUSES = (2, 3, 4)  # originality check failed, general failure, rejected by review
PUBLISH_GONE_STATUSES = (5, 6)  # published, then deleted by the user / banned by the platform
MASS_OUTCOMES = ("SEND_FAIL", "DELETE")


def normalize_endpoint(endpoint: str) -> str:
    """`/cgi-bin/draft/add` and `draft/add` name the same endpoint."""
    endpoint = endpoint.strip().lstrip("/")
    return endpoint.removeprefix("cgi-bin/")


@dataclass
class Fault:
    """One injected fault and how many more calls it applies to (None: forever)."""

    id: int
    endpoint: str
    kind: str
    times: int | None
    probability: float | None
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The fault as the control API shows it."""
        return {"id": self.id, "endpoint": self.endpoint, "kind": self.kind, "times": self.times,
                "probability": self.probability, "fired": self.fired, **self.params}


def _check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - KINDS[kind])
    if unknown:
        raise ValueError(f"fault kind {kind!r} takes no parameter(s) {', '.join(unknown)}")
    if kind == "errcode":
        if not isinstance(params.get("errcode"), int) or params["errcode"] == 0:
            raise ValueError("errcode faults need a non-zero integer errcode")
        if not isinstance(params.get("errmsg", ""), str):
            raise ValueError("errmsg must be a string")
    elif kind == "http_status":
        status = params.setdefault("status", 502)
        if not isinstance(status, int) or not 300 <= status <= 599:
            raise ValueError("http_status faults need a status between 300 and 599")
    elif kind == "latency":
        seconds = params.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError("latency faults need seconds >= 0")
    elif kind == "mass_outcome":
        if params.get("status") not in MASS_OUTCOMES:
            raise ValueError("mass_outcome faults need status SEND_FAIL or DELETE")
    elif kind == "publish_outcome":
        status = params.get("status")
        if status not in PUBLISH_FAILURE_STATUSES + PUBLISH_GONE_STATUSES:
            raise ValueError("publish_outcome faults need status 2, 3, 4, 5 or 6")
        fail_idx = params.setdefault("fail_idx", [1] if status in PUBLISH_FAILURE_STATUSES else [])
        if not isinstance(fail_idx, list) or not all(isinstance(i, int) and i >= 1 for i in fail_idx):
            raise ValueError("fail_idx must be a list of article numbers starting at 1")
    return params


class FaultBook:
    """The active faults. Not thread-safe: the caller holds the state lock."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.faults: list[Fault] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> Fault:
        """Add a fault from its control-API document.

        Raises:
            ValueError: the document is malformed.
        """
        spec = dict(spec)
        endpoint = spec.pop("endpoint", None)
        kind = spec.pop("kind", None)
        times = spec.pop("times", 1)
        probability = spec.pop("probability", None)
        if not isinstance(endpoint, str) or not endpoint.strip():
            raise ValueError("endpoint is required (an API path such as draft/add, or *)")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError("times must be a positive integer or null (forever)")
        if probability is not None and (
            not isinstance(probability, int | float) or isinstance(probability, bool) or not 0 <= probability <= 1
        ):
            raise ValueError("probability must be between 0 and 1")
        fault = Fault(self._next_id, normalize_endpoint(endpoint), kind, times, probability, _check_params(kind, spec))
        self._next_id += 1
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def fire(self, endpoint: str, kind: str) -> Fault | None:
        """Return the first fault of `kind` for `endpoint` that fires on this call, using up one of its times."""
        for fault in self.faults:
            if fault.kind != kind or fault.endpoint not in ("*", endpoint):
                continue
            if fault.probability is not None and self.rng.random() >= fault.probability:
                continue
            fault.fired += 1
            if fault.times is not None:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
            return fault
        return None
