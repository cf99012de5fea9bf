"""The chat bot under load: button presses per second through the bot, and the latency from a
press to the next approver's message, against a bare aiogram bot on the same simulator.

    python bench/chat.py [--presses 300] [--samples 200] [--database-url URL] [--redis-url URL]

Everything runs as in production, each part in its own process: the bundled Telegram simulator
(`signoff sim telegram`, zero latency), the bot (`signoff bot`, long polling, its conversations
and handled-update marks in Redis), the worker that delivers notifications (`signoff worker`,
RQ), and the bundled WeChat simulator for the previews a layout asks for. Redis is `--redis-url`
when it answers, else an embedded one; this process only steers the simulator over its control
API (from 16 threads) and times what happens.

The baseline is a bare aiogram bot in a process of its own that only answers each callback
query. A second bare bot makes the Bot API calls a press makes in signoff and nothing else (the
card edited, the callback answered, the next approver's card and two admins' notices sent at
once), with no database, Redis or queue: how fast the press's messages alone can go, and how
soon its card can arrive (timed as below).

The signoff bot gets `--presses` posts laid out for one drafter, and her confirm button
pressed on each card as fast as the simulator takes the presses; a press is done when its
callback query is answered (the decision committed, the card edited). Then, `--samples` times,
one press on a post's card, timed until the department head's card for that post reaches the
simulator (the decision, its notification row, the hand-off to RQ, the worker sending the card
with its buttons). Prints rates, the ratio, p50/p95/p99, and the CPU time each process spent per
press (a figure that moves less with the machine's other load than the rates do).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from approvals.config.settings import Settings  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.views import RevisionInput  # noqa: E402
from bench.cpu import Phase, package_of  # noqa: E402

ORG = ROOT / "config" / "org.example.toml"
BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"
DRAFTER, HEAD, OPERATOR = "li_na", "zhang_wei", "he_jing"
SECRET_KEY = "bench-secret-key-0123456789"
START_SECONDS = 60.0
BASE_USER = 990001


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


class Sim:
    """`signoff sim telegram` in a child process, for one bot with a token made for this run
    (the bot's handled-update marks in Redis are keyed by its id: a new id, nothing stale)."""

    def __init__(self) -> None:
        import re

        from signoff.sims.telegram import TelegramSimControl

        self.token = f"{7_000_000_000 + secrets.randbelow(999_999_999)}:SIMbench{secrets.token_hex(8)}"
        self.bot_id = int(self.token.split(":", 1)[0])
        self.proc = subprocess.Popen([sys.executable, "-m", "signoff", "sim", "telegram",
                                      "--port", "0", "--token", self.token],
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"http://[0-9.]+:[0-9]+", line)
        if not found:
            self.proc.kill()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.api_base = found.group(0)
        self.control = TelegramSimControl(self.api_base)

    def close(self) -> None:
        _stop(self.proc)

    def wait_polling(self, since: int) -> None:
        """Wait until a bot asks for updates more than `since` times in all."""
        deadline = time.monotonic() + START_SECONDS
        while self.control.calls("getUpdates") <= since:
            if time.monotonic() > deadline:
                raise RuntimeError("the bot did not start polling")
            time.sleep(0.05)


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)


def press_all(sim: Sim, chat_id: int, targets: list[tuple[int, str]], pids: dict[str, int]
              ) -> tuple[float, Phase]:
    """Press every (message, button label) as fast as the simulator takes it (from 16 threads,
    so the control API is not what is measured); seconds until the last callback query is
    answered, and the CPU time the processes in `pids` spent meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    control = sim.control

    def press(target: tuple[int, str]) -> str:
        message_id, label = target
        return str(control.press(chat_id, message_id, text=label)["callback_query"]["id"])

    with ThreadPoolExecutor(16) as pool:
        phase = Phase(pids).start()
        start = time.perf_counter()
        ids = list(pool.map(press, targets))
        list(pool.map(lambda query: control.wait_answer(query, timeout=120), ids))
        elapsed = time.perf_counter() - start
        return elapsed, phase.stop()


# --- the bare bot ----------------------------------------------------------------------------------


# The chats a press of the "same calls" bare bot writes to: the next approver, two admins.
NEXT_CHAT, ADMIN_CHATS = BASE_USER + 1, (BASE_USER + 2, BASE_USER + 3)


def bare_bot(api_base: str, token: str, same_calls: bool) -> None:
    """A bot that only answers callback queries, polling until interrupted (its own process).

    With `same_calls`, each press also makes the other Bot API calls a press makes in signoff:
    the card edited, then the next approver's card (with a button) and a notice to each of two
    admins, sent at once as signoff's worker sends a change's messages. Nothing else: no
    database, no Redis, no queue. Each message names the callback query (`[qID]`)."""
    from itertools import count

    from aiogram import Dispatcher
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

    from bot.telegram.app import make_bot

    bot = make_bot(Settings(telegram_token=token, telegram_api_base=api_base))
    dp = Dispatcher()
    edits = count(1)
    buttons = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text="同意", callback_data="d1:1:0123456789abcdef:a")]])

    async def answer(query: CallbackQuery) -> None:
        if not same_calls:
            await query.answer("ok")
            return
        message = query.message
        assert message is not None
        # The card keeps its button (the bench presses it again) and changes its text each time
        # (Telegram refuses an edit that changes nothing).
        await bot.edit_message_text(f"稿件 #1 已确认（第 {next(edits)} 次）",
                                    chat_id=message.chat.id, message_id=message.message_id,
                                    reply_markup=message.reply_markup)
        await query.answer("ok")
        await asyncio.gather(
            bot.send_message(NEXT_CHAT, f"稿件 #1 等待您审核 [q{query.id}]", reply_markup=buttons),
            *(bot.send_message(chat, f"稿件 #1 已确认 [q{query.id}]") for chat in ADMIN_CHATS))

    dp.callback_query.register(answer)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(dp.start_polling(bot, polling_timeout=10))


def baseline(sim: Sim, presses: int, *, same_calls: bool = False, samples: int = 0
             ) -> tuple[float, Phase, list[float]]:
    """Presses per second through the bare bot; with `same_calls`, the bot making a signoff
    press's Bot API calls, and `samples` latencies (ms) from a press to its next approver's
    card, one press at a time."""
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    from bot.telegram.app import make_bot

    control = sim.control
    user = BASE_USER + 10 if same_calls else BASE_USER  # a card of its own
    for chat in (user, NEXT_CHAT, *ADMIN_CHATS):
        control.add_user(chat, f"Baseline {chat}")
        control.start(chat)

    async def card() -> int:
        bot = make_bot(Settings(telegram_token=sim.token, telegram_api_base=sim.api_base))
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
            text="确认", callback_data="d1:1:0123456789abcdef:c")]])
        try:
            return (await bot.send_message(user, "稿件 #1", reply_markup=markup)).message_id
        finally:
            await bot.session.close()

    message_id = asyncio.run(card())
    polls = control.calls("getUpdates")
    proc = subprocess.Popen([sys.executable, __file__, "--bare-bot", sim.api_base, sim.token,
                             "same" if same_calls else "answer"], cwd=ROOT)
    latencies: list[float] = []
    try:
        sim.wait_polling(polls)
        elapsed, phase = press_all(sim, user, [(message_id, "确认")] * presses,
                                   {"bot": proc.pid, "simulator": sim.proc.pid,
                                    "this process": os.getpid()})
        for _ in range(samples):
            start = time.perf_counter()
            query = control.press(user, message_id, text="确认")["callback_query"]["id"]
            control.wait_text(NEXT_CHAT, f"[q{query}]", timeout=60)
            latencies.append((time.perf_counter() - start) * 1000)
    finally:
        _stop(proc)
    return presses / elapsed, phase, latencies


# --- the signoff bot -------------------------------------------------------------------------------


def _env(settings: Settings, wechat_secret: str) -> dict[str, str]:
    """The environment `signoff bot` and `signoff worker` read these settings from."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SIGNOFF_") or k == "SIGNOFF_LANGUAGE"}
    env.update(SIGNOFF_DATABASE_URL=settings.database_url, SIGNOFF_REDIS_URL=settings.redis_url,
               SIGNOFF_QUEUE_NAME=settings.queue_name, SIGNOFF_ORG_FILE=str(settings.org_file),
               SIGNOFF_NOTIFY_CHANNELS=json.dumps(settings.notify_channels),
               SIGNOFF_SECRET_KEY=SECRET_KEY, SIGNOFF_CONSOLE_URL=str(settings.console_url),
               SIGNOFF_TELEGRAM_TOKEN=settings.telegram_token.get_secret_value()
               if settings.telegram_token else "",
               SIGNOFF_TELEGRAM_API_BASE=str(settings.telegram_api_base),
               SIGNOFF_WECHAT_APPID=settings.wechat_appid, SIGNOFF_WECHAT_SECRET=wechat_secret,
               SIGNOFF_WECHAT_API_BASE=settings.wechat_api_base)
    return env


@contextlib.contextmanager
def _forgetting(settings: Settings, bot_id: int) -> Iterator[None]:
    """Leave nothing behind in the Redis the benchmark borrowed: its queues and jobs, its
    worker, the bot's conversations and handled-update marks."""
    import redis

    try:
        yield
    finally:
        conn = redis.Redis.from_url(settings.redis_url)
        for pattern in (f"*{settings.queue_name}*", f"signoff:bot:{bot_id}:*", f"fsm:{bot_id}:*"):
            for key in conn.scan_iter(pattern):
                conn.delete(key)
        conn.srem("rq:queues", *(f"rq:queue:{settings.queue_name}{s}" for s in ("", "-notify")))
        conn.srem("rq:workers", f"rq:worker:{settings.queue_name}-worker")
        conn.close()


@contextlib.contextmanager
def sampled(pid: int, out: str | None) -> Iterator[None]:
    """With `out`, py-spy samples process `pid` (every thread) meanwhile and writes its stacks
    there, folded (one line a stack, then its count), with each package's share of the samples
    printed; without, nothing."""
    if out is None:
        yield
        return
    import shutil

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "400", "--format",
                             "raw", "--output", out, "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        _stop(proc)
    owners: dict[str, int] = {}
    for line in Path(out).read_text().splitlines():  # py-spy records the busy samples only
        stack, _, count = line.rpartition(" ")
        where = stack.rsplit(";", 1)[-1].rsplit("(", 1)[-1].rsplit(":", 1)[0]
        owners[package_of(where)] = owners.get(package_of(where), 0) + int(count)
    total = sum(owners.values()) or 1
    print(f"  py-spy, the bot's samples by package ({total}): " + ", ".join(
        f"{k} {v / total:.0%}" for k, v in sorted(owners.items(), key=lambda kv: -kv[1])[:12]))


def signoff_bot(sim: Sim, url: str, redis_url: str, presses: int, samples: int, logs: Path,
                profile: str | None = None) -> tuple[float, list[float], Phase]:
    """Presses per second through `signoff bot`, and press → next card latencies (ms); the bot's
    and the worker's logs go to files in `logs`."""
    from signoff.sims.wechat import SimConfig, WeChatSim
    from signoff.wiring import build_core

    wechat = SimConfig()
    with contextlib.ExitStack() as stack:
        wechat_sim = stack.enter_context(WeChatSim(wechat))
        settings = Settings(database_url=url, redis_url=redis_url, org_file=ORG,
                            queue_name=f"bench-chat-{os.getpid()}", notify_channels=["telegram"],
                            secret_key=SECRET_KEY, telegram_token=sim.token,
                            telegram_api_base=sim.api_base, console_url="https://console.example/",
                            wechat_appid=wechat.appid, wechat_secret=wechat.secret,
                            wechat_api_base=wechat_sim.base_url)
        stack.enter_context(_forgetting(settings, sim.bot_id))
        env = _env(settings, wechat.secret)
        worker = subprocess.Popen([sys.executable, "-m", "signoff", "worker", "--no-reconcile",
                                   "--name", f"{settings.queue_name}-worker"], env=env, cwd=ROOT,
                                  stderr=stack.enter_context((logs / "worker.log").open("w")))
        stack.callback(_stop, worker)
        core = build_core(settings)  # what this process commits goes to the queue at once
        stack.callback(core.close)
        org, svc, control = core.org, core.service, sim.control
        drafter, head = org.people[DRAFTER].telegram_id, org.people[HEAD].telegram_id
        assert drafter is not None and head is not None
        for person in org.people.values():  # everyone told (the admins follow every step)
            if person.telegram_id:
                control.add_user(person.telegram_id, person.name, language_code="zh-hans")
                control.start(person.telegram_id)
        polls = control.calls("getUpdates")
        bot = subprocess.Popen([sys.executable, "-m", "signoff", "bot"], env=env, cwd=ROOT,
                               stderr=stack.enter_context((logs / "bot.log").open("w")))
        stack.callback(_stop, bot)
        sim.wait_polling(polls)

        def settle() -> None:
            deadline = time.monotonic() + 300
            while core.notifications.pending() or core.publishing.pending():
                if time.monotonic() > deadline:
                    raise TimeoutError("notifications still waiting for the worker")
                time.sleep(0.02)

        def laid_out(n: int) -> dict[int, int]:
            """n posts laid out and waiting for the drafter: her card's message id by post."""
            ids = []
            for i in range(n):
                pid = svc.create_post(drafter=DRAFTER, title=f"演练通报第{i + 1}期", body=BODY)
                svc.act(pid, "new_revision", OPERATOR, revision=RevisionInput())
                ids.append(pid)
            settle()
            found: dict[int, int] = {}
            for m in control.messages(drafter):
                for pid in ids:
                    if f"#{pid}《" in m["text"] and (m.get("reply_markup") or {}):
                        found[pid] = m["message_id"]
            return found

        # Throughput: every card's confirm pressed at once.
        cards = laid_out(presses)
        with sampled(bot.pid, profile):
            elapsed, phase = press_all(sim, drafter, [(m, "确认") for m in cards.values()],
                                       {"bot": bot.pid, "simulator": sim.proc.pid,
                                        "worker": worker.pid, "this process": os.getpid()})
        settle()
        # Latency: one press at a time, until the head's card for the post arrives.
        latencies = []
        for pid, message_id in laid_out(samples).items():
            start = time.perf_counter()
            control.press(drafter, message_id, text="确认")
            control.wait_text(head, f"#{pid}《", timeout=60)
            latencies.append((time.perf_counter() - start) * 1000)
        return presses / elapsed, latencies, phase


def spread(latencies: list[float]) -> str:
    """p50, p95 and p99 of latencies in milliseconds."""
    return (f"p50 {percentile(latencies, 50):.1f} ms  p95 {percentile(latencies, 95):.1f} ms  "
            f"p99 {percentile(latencies, 99):.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=300, help="presses for the rate (300)")
    parser.add_argument("--samples", type=int, default=200, help="timed press → card samples (200)")
    parser.add_argument("--database-url", default=None,
                        help="a migrated-on-the-fly database (default: a temporary SQLite file)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0",
                        help="Redis for the bot and the worker (an embedded one when it does not "
                             "answer)")
    parser.add_argument("--profile-bot", metavar="FILE", default=None,
                        help="sample the bot with py-spy during the presses (pip install py-spy) "
                             "and write its folded stacks to FILE")
    parser.add_argument("--bare-bot", nargs=3, metavar=("API_BASE", "TOKEN", "CALLS"),
                        help=argparse.SUPPRESS)  # the baseline's own process
    args = parser.parse_args(argv)
    if args.bare_bot:
        api_base, token, calls = args.bare_bot
        bare_bot(api_base, token, same_calls=calls == "same")
        return 0
    from signoff.embedded import some_redis

    with tempfile.TemporaryDirectory() as tmp, some_redis(args.redis_url) as (redis_url, embedded):
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = db.create_db_engine(url)
        db.upgrade(engine)
        engine.dispose()
        sim = Sim()
        try:
            base, base_cpu, _ = baseline(sim, args.presses)
            same, same_cpu, same_latencies = baseline(sim, args.presses, same_calls=True,
                                                      samples=args.samples)
            rate, latencies, cpu = signoff_bot(sim, url, redis_url, args.presses, args.samples,
                                               Path(tmp), args.profile_bot)
        except BaseException:
            for log in sorted(Path(tmp).glob("*.log")):  # what the bot and the worker said
                print(f"--- the end of {log.name}:", *log.read_text().splitlines()[-30:],
                      sep="\n", file=sys.stderr)
            raise
        finally:
            sim.close()
    print(f"database: {url.split(':', 1)[0]}; Redis{' (embedded)' if embedded else ''}; "
          f"{args.presses} presses, {args.samples} latency samples; every part in its own process")
    print(f"bare aiogram bot (answers the callback only): {base:8.1f} presses/s")
    print(f"  {base_cpu.per(args.presses)}")
    print(f"bare aiogram bot making a press's Bot API calls (answer, card edit, 3 messages): "
          f"{same:8.1f} presses/s  ratio {same / base:.2f}")
    print(f"  {same_cpu.per(args.presses)}")
    print(f"  press → next approver's card: {spread(same_latencies)}")
    print(f"signoff bot (decides, edits the card):        {rate:8.1f} presses/s  "
          f"ratio {rate / base:.2f} (target ≥ 0.5); {rate / same:.2f} x the bot making the "
          f"same calls")
    print(f"  {cpu.per(args.presses)}")
    print(f"press → next approver's card: {spread(latencies)} (target p99 ≤ 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
