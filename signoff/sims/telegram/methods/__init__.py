"""The simulated Bot API methods; importing this package registers them with `dispatch`."""

from __future__ import annotations

from . import commands, media, messages, updates

__all__ = ["commands", "media", "messages", "updates"]
