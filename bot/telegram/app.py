"""Building and running the bot: a Bot against the configured Bot API server, the Dispatcher
with its Redis-backed conversation state, long polling or a webhook."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import BotCommand, Update

from approvals.config.settings import Settings
from approvals.rules.errors import ConfigError, Text
from approvals.services import Service
from bot.cards import Links
from bot.telegram import handin
from bot.telegram.handlers import (
    Context,
    OnceMiddleware,
    PersonMiddleware,
    fallback_router,
    on_error,
    router,
)

log = logging.getLogger("signoff.bot")

COMMANDS = {
    "zh-CN": [("new", "提交新稿件"), ("pending", "待我处理"), ("mine", "我的稿件"),
              ("status", "查看稿件"), ("lang", "切换语言"), ("cancel", "取消"), ("help", "帮助")],
    "en": [("new", "hand in a draft"), ("pending", "what waits on me"), ("mine", "my drafts"),
           ("status", "a post"), ("lang", "language"), ("cancel", "cancel"), ("help", "help")],
}


def bot_token(settings: Settings) -> str:
    """The bot's token.

    Raises:
        ConfigError: none is set.
    """
    if settings.telegram_token is None:
        raise ConfigError(Text("聊天机器人需要 Telegram 令牌：请设置 SIGNOFF_TELEGRAM_TOKEN 或 "
                               "SIGNOFF_TELEGRAM_TOKEN_FILE。",
                               "The chat bot needs a Telegram token: set SIGNOFF_TELEGRAM_TOKEN "
                               "or SIGNOFF_TELEGRAM_TOKEN_FILE."))
    return settings.telegram_token.get_secret_value()


def make_bot(settings: Settings) -> Bot:
    """A Bot talking to the configured Bot API server."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    return Bot(bot_token(settings), session=session)


def links(settings: Settings) -> Links:
    """Where preview links point, signed with the console's key when there is one."""
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    return Links(settings.console_url, key if key and len(key) >= 16 else None)


class InOrderDispatcher(Dispatcher):
    """A Dispatcher that takes a chat's messages one at a time, in the order they came.

    A conversation's step reads what the message before it left: a title typed and the body
    sent right after it, or a long text the Telegram app cut into several messages, would
    otherwise race (each update is handled in a task of its own, and the conversation's state
    is read from Redis before any handler runs). The chat's lock is taken before anything
    awaits, so the tasks queue for it in the order they were made. Button presses are not held
    up by it: each answers on its own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._chats: dict[int, asyncio.Lock] = {}

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        """Handle one update (a message after the chat's earlier ones)."""
        if update.message is None:
            return await super().feed_update(bot, update, **kwargs)
        async with self._chats.setdefault(update.message.chat.id, asyncio.Lock()):
            return await super().feed_update(bot, update, **kwargs)


def make_dispatcher(service: Service, settings: Settings, storage: BaseStorage | None = None
                    ) -> Dispatcher:
    """The Dispatcher with the person middleware and the handlers; conversation state lives in
    `storage` (Redis unless given), so a restart loses no conversation."""
    storage = storage or RedisStorage.from_url(settings.redis_url)
    dp = InOrderDispatcher(storage=storage)
    dp.update.outer_middleware(OnceMiddleware(storage.redis if isinstance(storage, RedisStorage)
                                              else None))
    ctx = Context(service.via("chat"), links(settings))
    dp["signoff"] = ctx  # for the error handler: the person's own language
    middleware = PersonMiddleware(ctx)
    dp.message.outer_middleware(middleware)
    dp.callback_query.outer_middleware(middleware)
    dp.include_routers(router.router(), handin.router.router(), fallback_router.router())
    dp.errors.register(on_error)
    return dp


async def set_commands(bot: Bot) -> None:
    """The command menu, in both languages."""
    await bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS["zh-CN"]])
    await bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS["en"]],
                              language_code="en")


async def poll(bot: Bot, dp: Dispatcher, *, stop: asyncio.Event | None = None,
               polling_timeout: int = 10, handle_as_tasks: bool = True) -> None:
    """Long polling until `stop` is set (or the task is cancelled). Updates are handled as
    concurrent tasks unless `handle_as_tasks` is off (one at a time, in order)."""
    await bot.delete_webhook(drop_pending_updates=False)
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False,
                                                polling_timeout=polling_timeout,
                                                handle_as_tasks=handle_as_tasks))
    try:
        if stop is None:
            await task
        else:
            await stop.wait()
            await dp.stop_polling()
            await task
    finally:
        if not task.done():
            task.cancel()


__all__ = ["MemoryStorage", "bot_token", "links", "make_bot", "make_dispatcher", "poll",
           "set_commands"]
