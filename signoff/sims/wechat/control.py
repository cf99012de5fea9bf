"""A small client of the simulator's control API, usable from any process."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_SECONDS = 10


class SimControl:
    """Steer and inspect a running simulator through `/_sim/*`."""

    def __init__(self, root_url: str) -> None:
        self.root_url = root_url.rstrip("/")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.root_url}/_sim/{path}", json=body, timeout=TIMEOUT_SECONDS)
        if response.status_code >= 400:
            # show the simulator's reason (a bad fault or config field) rather than a bare status
            raise ValueError(f"simulator refused {method} /_sim/{path}: {response.text}")
        return response.json()

    def inject(self, endpoint: str, kind: str, *, times: int | None = 1, probability: float | None = None,
               **params: Any) -> None:
        """Make the next `times` calls (None: all) of `endpoint` ("*" for any) fail as `kind` says.

        Raises:
            ValueError: the simulator refused the fault.
        """
        self._call("POST", "faults", {"endpoint": endpoint, "kind": kind, "times": times,
                                      "probability": probability, **params})

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._call("DELETE", "faults")

    def invalidate_tokens(self) -> None:
        """Make every access token issued so far answer 40001."""
        self._call("POST", "tokens/invalidate")

    def reset(self) -> None:
        """Forget all state and faults; the configuration returns to the one the simulator started with."""
        self._call("POST", "reset")

    def configure(self, **changes: Any) -> None:
        """Change SimConfig fields at run time (callback_url, delays, quotas...).

        Raises:
            ValueError: an unknown field or a bad value.
        """
        self._call("POST", "config", changes)

    def state(self) -> dict[str, Any]:
        """The inspection document."""
        return self._call("GET", "state")

    def published(self) -> list[dict[str, Any]]:
        """Successfully published articles, oldest first."""
        return self.state()["published"]

    def calls(self, endpoint: str | None = None) -> int:
        """How many calls `endpoint` received (all endpoints when None)."""
        counts: dict[str, int] = self.state()["calls"]
        if endpoint is None:
            return sum(counts.values())
        return counts.get(endpoint.strip().lstrip("/").removeprefix("cgi-bin/"), 0)
