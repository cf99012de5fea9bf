"""Secrets never reach a log, a stored traceback or an error text.

The WeChat API carries the app secret (token fetch) and the access token (every call) in the
query string, and `requests` puts the whole URL into its exception messages; wechatpy raises its
own exception inside `except requests.RequestException`, so the URL rides along as the context.
The client boundary (`worker.client`) turns every such exception into a scrubbed one without its
chain; the log formatter below redacts whatever slips past anyway.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import requests

REDACTED = "[redacted]"
# key=value pairs in URLs, JSON and reprs: the app secret and every kind of token
_PAIRS = re.compile(
    r"""(?ix)
    (["']?\b(?:secret|appsecret|app_secret|access_token|component_access_token|token)\b["']?
     \s*[=:]\s*["']?)
    ([^&\s"'<>,)}]+)""")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret or token value replaced by "[redacted]"."""
    text = _PAIRS.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, REDACTED)
    return text


def scrubbed(exc: requests.RequestException) -> requests.RequestException:
    """The same kind of network error, with secrets redacted and no request, response or chain.

    The class is kept, so a caller can still tell a refused connection from a lost reply.
    """
    try:
        clean = type(exc)(redact(str(exc)))
    except TypeError:  # an exception class with a constructor of its own
        clean = requests.RequestException(redact(str(exc)))
    clean.__suppress_context__ = True
    return clean


class RedactingFormatter(logging.Formatter):
    """A formatter whose output, tracebacks included, never shows a secret or a token."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None,
                 secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt, datefmt)
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, redacted."""
        return redact(super().format(record), self.secrets)


def install_redaction(secrets: Iterable[str] = (), *, level: int = logging.INFO,
                      fmt: str = "%(asctime)s %(name)s %(message)s") -> None:
    """Log through the root logger with a redacting formatter (RQ's loggers then use it too)."""
    logging.basicConfig(level=level, format=fmt)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl SQLiteImpl." is noise
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(fmt, secrets=secrets))
