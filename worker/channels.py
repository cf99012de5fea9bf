"""Notification channels the worker delivers through (the core's `Channel` port)."""

from __future__ import annotations

import fcntl
import json
import logging
from pathlib import Path

from approvals.views import Delivered, Delivery, Message, RetryAfter

log = logging.getLogger("signoff.notify.log")


class LogChannel:
    """Writes each notification as one JSON line to a file, or to the log when no file is set.

    Delivery is at least once: a line repeated after a retry carries the same `key`, so a reader
    recognises the duplicate.
    """

    name = "log"

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def deliver(self, message: Message) -> Delivery:
        """Append the message; a file that cannot be written is retried later."""
        line = json.dumps({
            "key": message.key, "to": message.person.key, "name": message.person.name,
            "event": message.event.value, "post": message.post_id, "language": message.language,
            "attempt": message.attempt, "text": message.text,
        }, ensure_ascii=False)
        if self.path is None:
            log.info("%s", line)
            return Delivered()
        try:
            with self.path.open("a", encoding="utf-8") as fh:
                # Whole lines only, whatever number of workers append at once.
                fcntl.flock(fh, fcntl.LOCK_EX)
                fh.write(line + "\n")
        except OSError as exc:
            return RetryAfter(30, f"cannot write {self.path}: {exc.strerror}")
        return Delivered()
