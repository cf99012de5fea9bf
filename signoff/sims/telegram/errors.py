"""Errors: the Bot API's error envelope, and the simulator's own refusals of a control request."""

from __future__ import annotations

from typing import Any

# descriptions as Telegram writes them; the status is the HTTP status and the error_code
UNAUTHORIZED = (401, "Unauthorized")
NOT_FOUND = (404, "Not Found")
CHAT_NOT_FOUND = (400, "Bad Request: chat not found")
TEXT_EMPTY = (400, "Bad Request: message text is empty")
TEXT_TOO_LONG = (400, "Bad Request: message is too long")
CAPTION_TOO_LONG = (400, "Bad Request: message caption is too long")
BUTTON_DATA_INVALID = (400, "Bad Request: BUTTON_DATA_INVALID")
NOT_MODIFIED = (400, "Bad Request: message is not modified: specified new message content and reply markup are "
                     "exactly the same as a current content and reply markup of the message")
EDIT_NOT_FOUND = (400, "Bad Request: message to edit not found")
DELETE_NOT_FOUND = (400, "Bad Request: message to delete not found")
CANT_EDIT = (400, "Bad Request: message can't be edited")
NO_TEXT_TO_EDIT = (400, "Bad Request: there is no text in the message to edit")
REPLY_NOT_FOUND = (400, "Bad Request: message to be replied not found")
QUERY_TOO_OLD = (400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
INVALID_FILE_ID = (400, "Bad Request: invalid file_id")
WRONG_FILE = (400, "Bad Request: wrong file identifier/HTTP URL specified")
FILE_EMPTY = (400, "Bad Request: file must be non-empty")
FILE_TOO_BIG = (400, "Bad Request: file is too big")
IMAGE_PROCESS_FAILED = (400, "Bad Request: IMAGE_PROCESS_FAILED")
TOO_LARGE = (413, "Request Entity Too Large")
BLOCKED = (403, "Forbidden: bot was blocked by the user")
CANT_INITIATE = (403, "Forbidden: bot can't initiate conversation with a user")
WEBHOOK_ACTIVE = (409, "Conflict: can't use getUpdates method while webhook is active; "
                       "use deleteWebhook to delete the webhook first")
OTHER_POLLER = (409, "Conflict: terminated by other getUpdates request; "
                     "make sure that only one bot instance is running")
POLL_ENDED_BY_WEBHOOK = (409, "Conflict: terminated by setWebhook request")


class BotApiError(Exception):
    """An error the simulated Bot API answers with: `{"ok": false, "error_code", "description"}`."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(status, description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    @classmethod
    def of(cls, known: tuple[int, str]) -> BotApiError:
        """The error for one of the (status, description) pairs above."""
        return cls(*known)

    @classmethod
    def bad_request(cls, reason: str) -> BotApiError:
        """A 400 with `reason` after Telegram's "Bad Request: " prefix."""
        return cls(400, f"Bad Request: {reason}")

    @classmethod
    def too_many_requests(cls, retry_after: int) -> BotApiError:
        """Flood control: a 429 carrying `parameters.retry_after`."""
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    def body(self) -> dict[str, Any]:
        """The JSON envelope Telegram answers with."""
        doc: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            doc["parameters"] = {"retry_after": self.retry_after}
        return doc


class SimError(ValueError):
    """The simulator refused a control request (an unknown user, a button not on the message...)."""


class SimTimeout(AssertionError):
    """A wait helper gave up: what it waited for did not happen in time (a test failure, not a crash)."""
