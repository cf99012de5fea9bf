"""Handlers declared once at import, attached to a fresh Router for each Dispatcher (aiogram lets
a Router belong to one Dispatcher only; tests and the benchmark build several)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router

Handler = Callable[..., Any]


class Routes:
    """Records `@routes.message(...)` / `@routes.callback_query(...)` handlers in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: list[tuple[str, tuple[Any, ...], Handler]] = []

    def _on(self, observer: str, filters: tuple[Any, ...]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._entries.append((observer, filters, handler))
            return handler

        return register

    def message(self, *filters: Any) -> Callable[[Handler], Handler]:
        """A message handler, tried in declaration order."""
        return self._on("message", filters)

    def callback_query(self, *filters: Any) -> Callable[[Handler], Handler]:
        """A callback query handler, tried in declaration order."""
        return self._on("callback_query", filters)

    def router(self) -> Router:
        """A new Router with every recorded handler."""
        router = Router(name=self.name)
        for observer, filters, handler in self._entries:
            getattr(router, observer).register(handler, *filters)
        return router
