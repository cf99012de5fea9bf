"""getMe, getUpdates (true long polling) and the webhook methods."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from ..bots import BotState, Webhook
from ..dispatch import Described, method
from ..errors import OTHER_POLLER, POLL_ENDED_BY_WEBHOOK, WEBHOOK_ACTIVE, BotApiError
from ..models import DEFAULT_UPDATE_TYPES, UPDATE_TYPES
from ..params import Params
from ..state import SimState

LIMIT_MAX = 100
SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@method("getMe")
def get_me(state: SimState, bot: BotState, params: Params) -> dict[str, Any]:
    """The bot's own User object."""
    return bot.user


def _set_allowed_updates(bot: BotState, params: Params) -> None:
    """Keep a new allowed_updates list; an empty one means the default set, an absent one keeps the last."""
    allowed = params.obj("allowed_updates")
    if allowed is None:
        return
    if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
        raise BotApiError.bad_request("can't parse allowed_updates JSON array")
    bot.allowed_updates = frozenset(allowed) & set(UPDATE_TYPES) or DEFAULT_UPDATE_TYPES


@method("getUpdates")
def get_updates(state: SimState, bot: BotState, params: Params) -> list[dict[str, Any]]:
    """Confirm updates below `offset`, then answer at once if any are pending, else wait up to `timeout`.

    The wait is on the state's condition, so an update queued meanwhile is answered the moment it
    is queued. A newer getUpdates, or a webhook being set, ends an older one with 409, as Telegram does.

    Raises:
        BotApiError: 409 while a webhook is set, or when superseded.
    """
    if bot.webhook is not None:
        raise BotApiError.of(WEBHOOK_ACTIVE)
    offset = params.integer("offset")
    limit = min(max(params.integer("limit", default=LIMIT_MAX) or LIMIT_MAX, 1), LIMIT_MAX)
    timeout = max(params.number("timeout", 0.0), 0.0)
    _set_allowed_updates(bot, params)
    if offset is not None:
        bot.confirm(offset)
    bot.poll_generation += 1
    mine, generation = bot.poll_generation, state.generation
    state.cond.notify_all()  # an older poll of this bot learns it was superseded

    def answerable() -> bool:
        return (bool(bot.deliverable(limit)) or bot.poll_generation != mine or bot.webhook is not None
                or state.generation != generation or state.stopping.is_set())

    if timeout > 0:
        state.cond.wait_for(answerable, timeout)
    if state.generation != generation:
        return []  # the simulator was reset under this poll: the bot it asked for is gone
    if bot.webhook is not None:
        raise BotApiError.of(POLL_ENDED_BY_WEBHOOK)
    if bot.poll_generation != mine:
        raise BotApiError.of(OTHER_POLLER)
    return [update.as_update() for update in bot.deliverable(limit)]


def _check_webhook_url(state: SimState, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BotApiError.bad_request("bad webhook: Webhook URL is invalid")
    if state.config.webhook_require_https and parts.scheme != "https":
        raise BotApiError.bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    host = parts.hostname
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:  # a local simulator never sends anything off this machine
        raise BotApiError.bad_request("bad webhook: the simulator delivers to loopback addresses only")


@method("setWebhook")
def set_webhook(state: SimState, bot: BotState, params: Params) -> Described:
    """Set (or with an empty url remove) the webhook; updates are then POSTed to it.

    Raises:
        BotApiError: 400 for a bad URL, secret token or max_connections.
    """
    url = params.text("url") or ""
    if not url:
        return _delete(state, bot, params)
    _check_webhook_url(state, url)
    secret = params.text("secret_token")
    if secret is not None and not SECRET_TOKEN_RE.match(secret):
        raise BotApiError.bad_request("secret token contains unallowed characters")
    max_connections = params.integer("max_connections", default=40) or 40
    if not 1 <= max_connections <= 100:
        raise BotApiError.bad_request("bad webhook: max_connections must be between 1 and 100")
    _set_allowed_updates(bot, params)
    if params.flag("drop_pending_updates"):
        bot.drop_pending()
    hook = bot.webhook
    if hook is not None and hook.url == url and hook.secret_token == secret:
        hook.max_connections = max_connections
        return Described(True, "Webhook is already set")
    bot.webhook = Webhook(url, secret, max_connections)
    bot.webhook_generation += 1
    state.start_sender(bot)
    return Described(True, "Webhook was set")


def _delete(state: SimState, bot: BotState, params: Params) -> Described:
    if params.flag("drop_pending_updates"):
        bot.drop_pending()
    if bot.webhook is None:
        return Described(True, "Webhook is already deleted")
    bot.webhook = None
    bot.webhook_generation += 1
    return Described(True, "Webhook was deleted")


@method("deleteWebhook")
def delete_webhook(state: SimState, bot: BotState, params: Params) -> Described:
    """Remove the webhook (getUpdates works again); drop_pending_updates forgets what is queued."""
    return _delete(state, bot, params)


@method("getWebhookInfo")
def get_webhook_info(state: SimState, bot: BotState, params: Params) -> dict[str, Any]:
    """The webhook's URL, pending update count and last delivery error."""
    return bot.webhook_info()
