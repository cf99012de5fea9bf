"""The chat bot under load: button presses per second through the bot, and the latency from a
press to the next approver's message, against a bare aiogram bot on the same simulator.

    python bench/chat.py [--presses 300] [--samples 200] [--database-url URL] [--in-process]

Both bots are aiogram Dispatchers long-polling the bundled Telegram simulator (zero latency) over
HTTP, handling updates as concurrent tasks. The simulator runs as its own process (`signoff sim
telegram`), steered over its control API, so it does not share the bots' interpreter lock
(`--in-process` runs it on threads of this process instead). The baseline only answers each callback query. The
signoff bot gets `--presses` posts laid out for one drafter, and her confirm button pressed on
each card as fast as the simulator takes the presses; a press is done when its callback query is
answered (the decision committed, the card edited). Then, `--samples` times, one press on a
post's card, timed until the department head's card for that post reaches the simulator (the
decision, its notification row, the hand-off, the Telegram channel sending the card with its
buttons). Notifications go through the real Telegram channel on a delivery thread, as the
worker's delivery job runs them in process. Prints rates, the ratio, and p50/p95/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiogram import Dispatcher  # noqa: E402
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup  # noqa: E402

from approvals.bootstrap import bootstrap  # noqa: E402
from approvals.config.settings import Settings  # noqa: E402
from approvals.store import db  # noqa: E402
from approvals.views import RevisionInput  # noqa: E402
from bot.telegram.app import links, make_bot  # noqa: E402
from bot.telegram.channel import TelegramChannel  # noqa: E402
from signoff.chatrun import BotThread, DeliveryThread  # noqa: E402
from signoff.sims.telegram import TelegramSim  # noqa: E402

ORG = ROOT / "config" / "org.example.toml"
BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"
DRAFTER, HEAD, OPERATOR = "li_na", "zhang_wei", "he_jing"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def press_all(sim: Any, chat_id: int, targets: list[tuple[int, str | None, str | None]]
              ) -> float:
    """Press every (message, label, data) as fast as the simulator takes it (from 16 threads, so
    the control API is not what is measured); seconds until the last callback query is
    answered."""
    from concurrent.futures import ThreadPoolExecutor

    local = sim.local

    def press(target: tuple[int, str | None, str | None]) -> str:
        message_id, label, data = target
        update = (local.press(chat_id, message_id, text=label) if data is None
                  else local.press_forged(chat_id, message_id, data))
        return str(update["callback_query"]["id"])

    with ThreadPoolExecutor(16) as pool:
        start = time.perf_counter()
        ids = list(pool.map(press, targets))
        list(pool.map(lambda query: local.wait_answer(query, timeout=120), ids))
        return time.perf_counter() - start


def baseline(sim: Any, presses: int, user: int) -> float:
    """Presses per second through a bot that only answers the callback."""
    bot = sim.make_bot()
    dp = Dispatcher()

    async def answer(query: CallbackQuery) -> None:
        await query.answer("ok")

    dp.callback_query.register(answer)
    loop = asyncio.new_event_loop()
    stop = threading.Event()

    async def main() -> None:
        task = asyncio.create_task(dp.start_polling(bot, handle_signals=False,
                                                    close_bot_session=False, polling_timeout=1))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await dp.stop_polling()
        await task
        await bot.session.close()

    async def card() -> int:
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
            text="确认", callback_data="d1:1:0123456789abcdef:c")]])
        sent = await bot.send_message(user, "稿件 #1", reply_markup=markup)
        return sent.message_id

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    message_id = asyncio.run_coroutine_threadsafe(card(), loop).result(30)
    try:
        elapsed = press_all(sim, user, [(message_id, "确认", None)] * presses)
    finally:
        stop.set()
        thread.join(30)
        loop.close()
    return presses / elapsed


def signoff_bot(sim: Any, url: str, presses: int, samples: int) -> tuple[float, list[float]]:
    """Presses per second through the signoff bot, and press → next card latencies (ms)."""
    settings = Settings(database_url=url, org_file=ORG, notify_channels=["telegram"],
                        secret_key="bench-secret-key-0123456789", telegram_token=sim.token,
                        telegram_api_base=sim.api_base, console_url="https://console.example/")
    handoff: list[DeliveryThread] = []
    core = bootstrap(settings, enqueue=lambda _core: lambda items: handoff[0](items))
    channel = TelegramChannel(core.service.via("chat"), lambda: make_bot(settings), links(settings))
    delivery = DeliveryThread(core, {"telegram": channel})
    handoff.append(delivery)
    org, svc = core.org, core.service
    drafter, head = org.people[DRAFTER].telegram_id, org.people[HEAD].telegram_id
    assert drafter is not None and head is not None
    for person in org.people.values():  # everyone told (the admins follow every step)
        if person.telegram_id:
            sim.local.add_user(person.telegram_id, person.name, language_code="zh-hans")
            sim.local.start(person.telegram_id)
    bot = BotThread(core, settings).start()
    try:
        def laid_out(n: int) -> list[int]:
            ids = []
            for i in range(n):
                pid = svc.create_post(drafter=DRAFTER, title=f"演练通报第{i + 1}期", body=BODY)
                svc.act(pid, "new_revision", OPERATOR, revision=RevisionInput())
                ids.append(pid)
            delivery.settle(120)
            return ids

        def cards(pids: list[int]) -> dict[int, int]:
            found: dict[int, int] = {}
            for m in sim.local.messages(drafter):
                for pid in pids:
                    if f"#{pid}《" in m["text"] and (m.get("reply_markup") or {}):
                        found[pid] = m["message_id"]
            return found

        # Throughput: every card's confirm pressed at once.
        pids = laid_out(presses)
        by_post = cards(pids)
        elapsed = press_all(sim, drafter, [(by_post[p], "确认", None) for p in pids])
        rate = presses / elapsed
        delivery.settle(120)
        # Latency: one press at a time, until the head's card for the post arrives.
        pids = laid_out(samples)
        by_post = cards(pids)
        latencies = []
        for pid in pids:
            start = time.perf_counter()
            sim.local.press(drafter, by_post[pid], text="确认")
            sim.local.wait_text(head, f"#{pid}《", timeout=60)
            latencies.append((time.perf_counter() - start) * 1000)
        return rate, latencies
    finally:
        bot.close()
        delivery.close()
        core.close()


class SimProcess:
    """`signoff sim telegram` in a child process, with what the benchmark uses of TelegramSim."""

    def __init__(self) -> None:
        import re
        import subprocess

        from signoff.sims.telegram import DEFAULT_TOKEN, TelegramSimControl

        self.proc = subprocess.Popen([sys.executable, "-m", "signoff", "sim", "telegram",
                                      "--port", "0"], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"http://[0-9.]+:[0-9]+", line)
        if not found:
            self.proc.kill()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.api_base, self.token = found.group(0), DEFAULT_TOKEN
        self.local = TelegramSimControl(self.api_base)

    def make_bot(self) -> Any:
        return make_bot(Settings(telegram_token=self.token, telegram_api_base=self.api_base))

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=300, help="presses for the rate (300)")
    parser.add_argument("--samples", type=int, default=200, help="timed press → card samples (200)")
    parser.add_argument("--database-url", default=None,
                        help="a migrated-on-the-fly database (default: a temporary SQLite file)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the simulator on threads of this process")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, \
            (TelegramSim() if args.in_process else SimProcess()) as sim:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = db.create_db_engine(url)
        db.upgrade(engine)
        engine.dispose()
        base_user = 990001
        sim.local.add_user(base_user, "Baseline")
        sim.local.start(base_user)
        base = baseline(sim, args.presses, base_user)
        rate, latencies = signoff_bot(sim, url, args.presses, args.samples)
    backend = url.split(":", 1)[0]
    where = "in this process" if args.in_process else "in its own process"
    print(f"database: {backend}; simulator {where}; {args.presses} presses, "
          f"{args.samples} latency samples")
    print(f"bare aiogram bot (answers the callback only): {base:8.1f} presses/s")
    print(f"signoff bot (decides, edits the card):        {rate:8.1f} presses/s  "
          f"ratio {rate / base:.2f} (target ≥ 0.5)")
    print(f"press → next approver's card: p50 {percentile(latencies, 50):.1f} ms  "
          f"p95 {percentile(latencies, 95):.1f} ms  p99 {percentile(latencies, 99):.1f} ms "
          f"(target p99 ≤ 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
