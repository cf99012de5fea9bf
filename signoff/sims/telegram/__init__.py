"""A local simulator of the Telegram Bot API, served over real HTTP for aiogram's own Bot to talk to.

`/bot<token>/<method>` answers as Telegram does (getUpdates long-polls, webhooks are delivered,
errors come in Telegram's envelope); `/_sim/*` plays the users (start, write, send files, press
buttons), reads chats back, injects faults and counts calls.

    with TelegramSim() as sim:
        sim.local.add_user(1001, "Li", username="li_na")
        bot = sim.make_bot()  # or Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(sim.api_base)))
"""

from __future__ import annotations

from .app import create_app, sim_state
from .config import DEFAULT_TOKEN, TelegramSimConfig
from .control import TelegramSimControl
from .errors import BotApiError, SimError, SimTimeout
from .local import LocalControl
from .server import TelegramSim, serve

__all__ = ["DEFAULT_TOKEN", "BotApiError", "LocalControl", "SimError", "SimTimeout", "TelegramSim",
           "TelegramSimConfig", "TelegramSimControl", "create_app", "serve", "sim_state"]
