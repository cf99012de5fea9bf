"""Secrets never reach a log, a stored traceback or an error text.

The WeChat API carries the app secret (token fetch) and the access token (every call) in the
query string, and `requests` puts the whole URL into its exception messages; wechatpy raises its
own exception inside `except requests.RequestException`, so the URL rides along as the context.
The client boundary (`worker.client`) turns every such exception into a scrubbed one without its
chain; the log formatter below redacts whatever slips past anyway. The Bot API carries the
Telegram bot token in the path (`/bot<TOKEN>/sendMessage`), and aiohttp and aiogram errors
repeat that URL. Any other exception a job raises may carry a secret too: the worker
(`worker.rqworker`) stores only its redacted text in Redis, and redacts what RQ logs of it.
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
# a Telegram bot token (BotFather's 123456789:AA…, 35 characters after the colon), also where it
# follows "bot" in a Bot API URL
_BOT_TOKEN = re.compile(r"(?<![0-9])[0-9]{5,20}:[A-Za-z0-9_-]{30,}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret or token value replaced by "[redacted]"."""
    text = _PAIRS.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BOT_TOKEN.sub(REDACTED, text)
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


class RedactingFilter(logging.Filter):
    """Redacts a logger's records before any handler sees them (whatever its formatter, a test's
    log capture included): the message and the traceback it carries."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record, rewritten where it shows a secret or a token."""
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def redact_records(logger: logging.Logger, secrets: Iterable[str] = ()) -> None:
    """Give `logger` a `RedactingFilter` (one: a second call adds its secrets to it)."""
    for existing in logger.filters:
        if isinstance(existing, RedactingFilter):
            existing.secrets = tuple(dict.fromkeys((*existing.secrets, *(s for s in secrets if s))))
            return
    logger.addFilter(RedactingFilter(secrets))


def install_redaction(secrets: Iterable[str] = (), *, level: int = logging.INFO,
                      fmt: str = "%(asctime)s %(name)s %(message)s") -> None:
    """Log through the root logger with a redacting formatter (RQ's loggers then use it too)."""
    logging.basicConfig(level=level, format=fmt)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl SQLiteImpl." is noise
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(fmt, secrets=secrets))
