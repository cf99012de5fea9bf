"""A Bot API call's parameters, read as Telegram reads them from a query, a form, multipart or JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import BotApiError

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off", "")


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart part."""

    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """Typed access to one call's fields: non-string fields arrive JSON-encoded in forms, native in JSON."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.uploads = uploads or {}

    def has(self, name: str) -> bool:
        """Whether the field was sent at all."""
        return name in self.values and self.values[name] is not None

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A string field (a number sent in JSON counts, as Telegram lets it).

        Raises:
            BotApiError: 400 "<name> is empty" when required and missing.
        """
        value = self.values.get(name)
        if value is None:
            if required:
                raise BotApiError.bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BotApiError.bad_request(f'field "{name}" must be of type String')
        return str(value)

    def integer(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        """An integer field, from a number or a numeric string.

        Raises:
            BotApiError: 400 when required and missing, or not an integer.
        """
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise BotApiError.bad_request(f"{name} is empty")
            return default
        if isinstance(value, bool):
            raise BotApiError.bad_request(f'field "{name}" must be of type Integer')
        try:
            return int(value)
        except (TypeError, ValueError):
            raise BotApiError.bad_request(f'field "{name}" must be of type Integer') from None

    def number(self, name: str, default: float) -> float:
        """A numeric field (getUpdates' timeout; a fraction of a second is let through for tests).

        Raises:
            BotApiError: 400 when not a number.
        """
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise BotApiError.bad_request(f'field "{name}" must be of type Number') from None

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean field: JSON true/false, or the words forms carry.

        Raises:
            BotApiError: 400 when not a boolean.
        """
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise BotApiError.bad_request(f'field "{name}" must be of type Boolean')

    def obj(self, name: str) -> Any:
        """An object or array field: JSON-decoded when it came as a string.

        Raises:
            BotApiError: 400 when the string is not JSON.
        """
        value = self.values.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise BotApiError.bad_request(f"can't parse {name} JSON object") from None
        return value

    def input_file(self, name: str) -> Upload | str | None:
        """A file field: an upload (`attach://<part>` or a part of that name) or a file_id / URL string.

        Raises:
            BotApiError: 400 when `attach://` names a part that was not sent.
        """
        if name in self.uploads:
            return self.uploads[name]
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            part = self.uploads.get(value.removeprefix("attach://"))
            if part is None:
                raise BotApiError.bad_request(f"file {value} not found in the request")
            return part
        return value if isinstance(value, str) and value else None
