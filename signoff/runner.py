"""Running the publishing worker and the reconciler as processes."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from redis.exceptions import RedisError

from approvals.config.settings import Settings
from approvals.rules.errors import ConfigError, Text, Unavailable
from approvals.services.reminders import ReminderPolicy
from worker.scrub import install_redaction

log = logging.getLogger("signoff.worker")

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PRUNE_EVERY_SECONDS = 86400.0  # the reconciler looks for unsaved uploads once a day
RECONCILER = "reconciler"  # who the audit rows of its maintenance name


def die_with_parent() -> None:
    """In a child: be sent SIGTERM when the parent dies, even by SIGKILL (Linux prctl)."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the reconciler's parent check still applies
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def redis_url_shown(url: str) -> str:
    """A Redis URL fit for a message: any password replaced."""
    from redis.connection import parse_url

    try:
        parts = parse_url(url)
    except ValueError:
        return "(the configured Redis URL)"
    host = parts.get("host") or parts.get("path") or "?"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"redis://{host}{port}/{parts.get('db', 0)}"


def _unreachable(settings: Settings, exc: Exception) -> Unavailable:
    where = redis_url_shown(settings.redis_url)
    return Unavailable(Text(f"Redis（{where}）无法连接：{type(exc).__name__}；请检查 SIGNOFF_REDIS_URL 以及 "
                            "Redis 是否在运行。",
                            f"Redis at {where} does not answer ({type(exc).__name__}); check "
                            "SIGNOFF_REDIS_URL and that Redis is running."))


def _secrets(settings: Settings) -> list[str]:
    """Every secret value the settings hold (the file-mounted ones included)."""
    held = (settings.wechat_secret, settings.secret_key, *settings.previous_secret_keys,
            settings.telegram_token, settings.telegram_webhook_secret,
            settings.wechat_callback_token, settings.wechat_encoding_aes_key)
    return [s.get_secret_value() for s in held if s]


def reconcile_once(settings: Settings) -> dict[str, int]:
    """One reconciler pass with this process's worker context."""
    from worker.context import build_context

    return build_context(settings).dispatcher().reconcile().as_dict()


def reminder_policy(settings: Settings) -> ReminderPolicy:
    """The reminder settings as the core takes them."""
    return ReminderPolicy(settings.remind_every_working_hours, settings.remind_times,
                          settings.due_soon_working_days)


def asset_grace(settings: Settings) -> timedelta:
    """How long an unsaved upload is kept, as the core takes it."""
    return timedelta(days=settings.asset_grace_days)


def reconcile_loop(settings: Settings, every: float | None, *, parent: int | None = None) -> None:
    """A pass now, and then every `every` seconds until interrupted (or the parent is gone);
    the first pass and then one a day also prune the unsaved uploads."""
    from worker.context import build_context

    install_redaction(_secrets(settings))
    ctx = build_context(settings)
    dispatcher = ctx.dispatcher()
    policy = reminder_policy(settings)
    pruned_at: float | None = None  # time.monotonic() of the last prune
    while True:
        try:
            done = dispatcher.reconcile().as_dict()
            print("reconcile: " + ", ".join(f"{k} {v}" for k, v in done.items()), flush=True)
            told = ctx.core.service.send_reminders(policy)
            if any(told.values()):
                print("reminders: " + ", ".join(f"{k} {v}" for k, v in told.items()), flush=True)
            if pruned_at is None or time.monotonic() - pruned_at >= PRUNE_EVERY_SECONDS:
                gone = ctx.core.service.prune_assets(asset_grace(settings), by=RECONCILER)
                pruned_at = time.monotonic()
                if gone.assets:
                    print(f"assets: pruned {len(gone.assets)} unsaved upload(s), {gone.size} bytes",
                          flush=True)
        except (RedisError, OSError) as exc:
            if every is None:
                raise _unreachable(settings, exc) from None
            # Redis blinked or is restarting: one line, and the next pass repairs what this missed.
            log.warning("reconcile pass failed: %s Trying again in %s s.",
                        _unreachable(settings, exc).message("en"), every)
        except Exception:
            if every is None:
                raise
            log.exception("reconcile pass failed; trying again in %s s", every)
        if every is None:
            return
        if parent is not None and os.getppid() != parent:
            return  # the worker that started us is gone
        time.sleep(every)


def check_worker_settings(settings: Settings) -> None:
    """Refuse to start a worker that could only fail every post.

    Raises:
        ConfigError: the official account's app id or secret is not set.
    """
    missing = []
    if not settings.wechat_appid:
        missing.append("SIGNOFF_WECHAT_APPID")
    if settings.wechat_secret is None or not settings.wechat_secret.get_secret_value():
        missing.append("SIGNOFF_WECHAT_SECRET (或 SIGNOFF_WECHAT_SECRET_FILE)")
    if missing:
        names = "、".join(missing)
        raise ConfigError(Text(f"发布工作进程需要公众号的 {names}，尚未设置。",
                               f"The publishing worker needs the official account's "
                               f"{names.replace('、', ', ').replace('或', 'or')}, which is not set."))


def run_worker(settings: Settings, *, burst: bool, reconcile: bool, name: str | None) -> int:
    """An RQ worker with a scheduler; the reconciler runs as a child process beside it.

    Raises:
        ConfigError: the WeChat account is not configured.
        Unavailable: Redis does not answer.
    """
    from signoff.wiring import chat_channels
    from worker.context import build_context, preload
    from worker.rqworker import SignoffWorker

    check_worker_settings(settings)
    install_redaction(_secrets(settings))
    ctx = build_context(settings, channels_from=chat_channels(settings))
    try:
        ctx.redis.ping()
    except (RedisError, OSError) as exc:
        raise _unreachable(settings, exc) from None
    preload(ctx)  # the core is built (and its SQL compiled) once here, not in every work horse
    import worker.jobs
    # Children die with this process, even when it is killed outright: the work horses, RQ's
    # scheduler and the reconciler must not run on under init.
    os.register_at_fork(after_in_child=die_with_parent)
    child = None
    if burst:
        reconcile_once(settings)
    elif reconcile:
        # A separate process: the worker forks a work horse per job, and forking a process
        # that runs other threads is asking for trouble.
        child = subprocess.Popen([sys.executable, "-m", "signoff", "reconcile", "--every",
                                  str(settings.reconcile_every_seconds), "--parent",
                                  str(os.getpid())],
                                 start_new_session=True, preexec_fn=die_with_parent)
    worker = SignoffWorker(ctx.queues, connection=ctx.redis, serializer=ctx.queue.serializer,
                           name=name or f"signoff-{os.uname().nodename}-{os.getpid()}",
                           secrets=_secrets(settings))
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    except (RedisError, OSError) as exc:
        raise _unreachable(settings, exc) from None
    finally:
        if child is not None:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait(10)
    return 0



def run_bot(settings: Settings, *, webhook: bool, host: str, port: int) -> int:
    """The chat bot: long polling (default) or a webhook server Telegram posts updates to.

    Raises:
        ConfigError: no Telegram token, or --webhook without a webhook URL.
        Unavailable: Redis does not answer.
    """
    import asyncio

    from bot.telegram.app import make_bot, make_dispatcher, poll, set_commands
    from signoff.wiring import build_core

    install_redaction(_secrets(settings))
    if webhook and not settings.telegram_webhook_url:
        raise ConfigError(Text("--webhook 需要 SIGNOFF_TELEGRAM_WEBHOOK_URL（Telegram 推送更新的 "
                               "https 地址）。",
                               "--webhook needs SIGNOFF_TELEGRAM_WEBHOOK_URL (the https address "
                               "Telegram posts updates to)."))
    core = build_core(settings)
    bot = make_bot(settings)
    dp = make_dispatcher(core.service, settings)

    async def main() -> None:
        try:
            await set_commands(bot)
            if not webhook:
                await poll(bot, dp)
                return
            await serve_webhook(bot, dp, settings, host, port)
        finally:
            await bot.session.close()
            await dp.storage.close()

    try:
        asyncio.run(main())
    except (RedisError, OSError) as exc:
        raise _unreachable(settings, exc) from None
    except KeyboardInterrupt:
        pass
    finally:
        core.close()
    return 0


async def serve_webhook(bot: object, dp: object, settings: Settings, host: str, port: int,
                        stop: object = None) -> None:
    """Serve Telegram's webhook posts (their secret header checked) until `stop` (an
    asyncio.Event) is set, or the task is cancelled."""
    import asyncio

    from aiogram import Bot, Dispatcher
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    assert isinstance(bot, Bot) and isinstance(dp, Dispatcher)
    secret = settings.telegram_webhook_secret.get_secret_value() \
        if settings.telegram_webhook_secret else None
    app = web.Application()
    path = "/" + settings.telegram_webhook_url.split("://", 1)[1].partition("/")[2]
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(app, path=path)
    setup_application(app, dp, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    await bot.set_webhook(settings.telegram_webhook_url, secret_token=secret)
    try:
        await (stop if isinstance(stop, asyncio.Event) else asyncio.Event()).wait()
    finally:
        await runner.cleanup()
