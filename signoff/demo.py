"""`signoff demo`: a scripted chain on a temporary SQLite database, printed as it happens.

The demo runs the real wiring: the WeChat and Telegram simulators, a Redis (real when one
answers, else an embedded one), the core with its queue hand-off, the chat bot polling the
Telegram simulator, and RQ workers that deliver every chain notification (to each persona's chat
and to the log) and publish the posts. The personas decide by pressing the buttons of the cards
the bot sends them. With `--keep-running` the console then stays up over the demo's database,
with demo logins, until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from approvals import present
from approvals.bootstrap import Core
from approvals.config.orgfile import load_org
from approvals.config.settings import Settings
from approvals.rules.errors import Text, normalize_language
from approvals.rules.states import STATUS_LABEL, Action
from approvals.store import db
from approvals.views import DeliveryState, QueueQuery, RevisionInput
from bot.texts import BUTTON
from signoff.paths import example_org_file

if TYPE_CHECKING:
    from signoff.sims.telegram import TelegramSim
    from worker.context import WorkerContext

ZONE = ZoneInfo("Asia/Shanghai")
# A fixed, realistic moment: inside the example org chart's delegation range, so 代签 shows.
START = datetime(2026, 12, 8, 9, 0, tzinfo=ZONE)
DEMO_REDIS_URL = "redis://127.0.0.1:6379/0"  # used when it answers, unless SIGNOFF_REDIS_URL says
# The people of the demo's chains, given console logins by --keep-running, and their part in it.
PERSONAS: tuple[tuple[str, Text], ...] = (
    ("zhao_xue", Text("管理员（法宣科）", "admin (Legal & Publicity)")),
    ("he_jing", Text("运营方，排版", "operator, lays posts out")),
    ("li_na", Text("稿件一拟稿人", "post 1's drafter")),
    ("zhang_wei", Text("稿件一科室负责人", "post 1's department head")),
    ("chen_gang", Text("稿件一分管领导（出差，由孙丽代签）",
                       "post 1's supervising leader (away; Sun Li signed for him)")),
    ("sun_li", Text("代陈刚审核稿件一", "reviewed post 1 for Chen Gang")),
    ("wang_min", Text("签发人；稿件二审核人", "the issuer; post 2's reviewer")),
    ("guo_qiang", Text("稿件二拟稿人", "post 2's drafter")),
    ("ma_lin", Text("稿件二科室负责人", "post 2's department head")),
    ("zhou_jian", Text("主要领导，签发稿件二（三审不同人）", "principal leader; signed post 2 (four eyes)")),
    ("xu_fang", Text("其他科室科员：无权审核", "staff of another section: no say on these posts")),
)

BODY_V1 = (
    "12月7日，区应急管理局在太浦河沿线组织开展冬季防汛防台应急演练。\n"
    "演练模拟强降雨导致堤防险情，共有120人参加。\n"
    "演练检验了预案的可操作性，提高了各方协同处置能力。"
)
BODY_V2 = BODY_V1.replace("120人", "150人")
NOTICE = (
    "为方便群众咨询防汛防台事宜，局办公室设立临时咨询专线。\n"
    "咨询专线联系人：郭强，电话 13912345678（工作日 9:00—17:00）。\n"
    "24小时应急值守电话：12350。"
)


class Clock:
    """A clock the demo moves forward between steps, so the timeline reads like a real day."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._since: float | None = None  # set by run(): the monotonic moment time began to pass

    def __call__(self) -> datetime:
        if self._since is None:
            return self.now
        return self.now + timedelta(seconds=time.monotonic() - self._since)

    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    def run(self) -> None:
        """From now on, let the demo's time pass as the wall clock's does (the console's acts)."""
        self._since = time.monotonic()


@dataclass
class DemoWorld:
    """The core and the Telegram simulator the personas use."""

    core: Core
    chat: TelegramSim


@contextmanager
def demo_world(tmp: Path, clock: Clock, say: Callable[[str, str], None],
               redis_url: str = DEMO_REDIS_URL) -> Iterator[DemoWorld]:
    """The simulator, a Redis (`redis_url` when it answers) and the core wired to them, on a
    fresh SQLite database."""
    from signoff.embedded import some_redis
    from signoff.sims.telegram import TelegramSim
    from signoff.sims.wechat import SimConfig, WeChatSim
    from signoff.wiring import build_core

    url = f"sqlite:///{tmp / 'demo.db'}"
    engine = db.create_db_engine(url)
    db.upgrade(engine)
    engine.dispose()
    sim_config = SimConfig(publish_delay_seconds=0.3)
    with WeChatSim(sim_config) as sim, TelegramSim() as chat, \
            some_redis(redis_url) as (redis_url, embedded):
        say(f"微信模拟器：{sim.base_url}；Telegram 模拟器：{chat.api_base}；"
            f"Redis：{redis_url}{'（内置）' if embedded else ''}",
            f"WeChat simulator: {sim.base_url}; Telegram simulator: {chat.api_base}; "
            f"Redis: {redis_url}{' (embedded)' if embedded else ''}")
        settings = Settings(database_url=url, redis_url=redis_url, org_file=example_org_file(),
                            wechat_api_base=sim.base_url, wechat_appid=sim_config.appid,
                            wechat_secret=sim_config.secret, publish_poll_seconds=20,
                            queue_name=f"signoff-demo-{os.getpid()}",
                            notify_log_file=tmp / "notifications.log",
                            notify_channels=["log", "telegram"], telegram_token=chat.token,
                            telegram_api_base=chat.api_base,
                            secret_key=secrets.token_urlsafe(32))
        core = build_core(settings, org=load_org(example_org_file()), clock=clock)
        for person in core.org.people.values():  # every persona has the bot in their Telegram
            if person.telegram_id:
                chat.local.add_user(person.telegram_id, person.name, language_code="zh-hans")
                chat.local.start(person.telegram_id)
        try:
            yield DemoWorld(core, chat)
        finally:
            core.close()


def run_demo(lang: str = "zh-CN", *, keep_running: bool = False, port: int = 0) -> int:
    """Run the scripted chain (then, with `keep_running`, serve the console over its database on
    `port`, 0 for a free one, until Ctrl-C); returns the process exit code."""
    en = lang == "en"

    def say(zh: str, en_text: str) -> None:
        click.echo(en_text if en else zh)

    redis_url = os.environ.get("SIGNOFF_REDIS_URL") or DEMO_REDIS_URL
    if keep_running and port and not port_free(port):
        click.echo(f"error: port {port} is taken; choose another --port (or none for a free one)."
                   if en else f"错误：端口 {port} 已被占用，请换一个 --port（或不指定，自动选择空闲端口）。",
                   err=True)
        return 1
    try:
        with tempfile.TemporaryDirectory(prefix="signoff-demo-") as tmp:
            clock = Clock(START)
            with demo_world(Path(tmp), clock, say, redis_url) as world:
                core = world.core
                code = _script(world, clock, lang, say)
                if keep_running:
                    code = keep_serving(core, clock, lang, port, say) or code
                return code
    except KeyboardInterrupt:
        say("\n演示已中断。", "\nThe demo was interrupted.")
        return 130


def port_free(port: int) -> bool:
    """Whether the console could listen on 127.0.0.1:`port` now."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def keep_serving(core: Core, clock: Clock, lang: str, port: int,
                 say: Callable[[str, str], None]) -> int:
    """The console over the demo's database, with demo logins, until SIGINT or SIGTERM.

    Returns 0 after a clean stop, 1 when the console could not start (the port is taken).
    """
    from approvals.web import create_app
    from signoff.web import serve_app

    # Demo only: one throwaway password for every persona and a signing key for this run.
    password = secrets.token_urlsafe(12)
    for key, _part in PERSONAS:
        core.service.set_password(key, password, by="demo")
    clock.run()
    app = create_app(core, secret_key=secrets.token_urlsafe(32), secure_cookies=False)
    posts = [p.id for p in core.service.queue(QueueQuery(sort="id", include_archived=True)).posts]

    def when_ready(server: Any) -> None:
        # Called by gunicorn's master once it listens: the address is known (a free port too).
        # Ctrl-C stops it as SIGTERM does: a request being answered is finished first.
        server.handle_int = server.handle_term
        url = f"{server.LISTENERS[0]}/"
        say(f"\n== 网页控制台：{url}（按 Ctrl-C 停止）", f"\n== The console: {url} (Ctrl-C stops it)")
        for post_id in posts:
            say(f"  稿件 #{post_id}：{url}posts/{post_id}", f"  post #{post_id}: {url}posts/{post_id}")
        say(f"  演示账号（密码均为 {password}，仅限本次演示）：",
            f"  demo logins (password {password} for all, this run only):")
        for key, part in PERSONAS:
            click.echo(f"    {key:<10} {core.org.name_of(key)}  {part.get(lang)}")

    try:
        serve_app(app, host="127.0.0.1", port=port, workers=1, accesslog=None,
                  loglevel="warning", control_socket_disable=True, when_ready=when_ready)
    except SystemExit as stopped:
        if stopped.code not in (0, None):
            say(f"网页控制台未能启动（端口 {port} 是否已被占用？）。",
                f"The console did not start (is port {port} taken?).")
            return 1
    say("网页控制台已停止，演示结束。", "The console stopped; the demo is over.")
    return 0


class Taps:
    """The personas' side of the chat: the bot polls the Telegram simulator, an RQ worker delivers
    each notification as it is written, and a persona presses a button on the card they got."""

    def __init__(self, world: DemoWorld, clock: Clock, lang: str) -> None:
        from signoff.chatrun import BotThread
        from signoff.wiring import chat_channels
        from worker.context import build_context, install

        self.core, self.chat, self.clock, self.lang = world.core, world.chat, clock, lang
        settings = self.core.settings
        self.ctx = build_context(settings, core=self.core, channels_from=chat_channels(settings))
        install(self.ctx)
        self.bot = BotThread(self.core, settings, handle_as_tasks=False).start()

    def deliver(self) -> None:
        """Deliver the notifications written so far (an RQ worker in burst mode)."""
        from rq import SimpleWorker

        SimpleWorker([self.ctx.notify_queue], connection=self.ctx.redis,
                     serializer=self.ctx.queue.serializer,
                     name=f"{self.ctx.queue.name}-chat-{secrets.token_hex(4)}").work(
            burst=True, logging_level="WARNING")

    def card(self, person: str, pid: int, label: str) -> dict[str, Any]:
        """The newest card about post `pid` in `person`'s chat that has a button `label`."""
        def labels(m: dict[str, Any]) -> list[str]:
            rows = (m.get("reply_markup") or {}).get("inline_keyboard", [])
            return [b["text"] for row in rows for b in row]

        chat_id = self.core.org.people[person].telegram_id
        assert chat_id is not None
        found = [m for m in self.chat.local.messages(chat_id)
                 if f"#{pid}" in m["text"] and label in labels(m)]
        if not found:
            raise RuntimeError(f"no card with “{label}” for post {pid} in {person}'s chat")
        return found[-1]

    def tap(self, person: str, pid: int, action: Action, *, by: str | None = None,
            data: str | None = None) -> str:
        """`by` (default `person`) presses the button of `action` on the card `person` got (or
        sends `data`, as a client showing an old card would); prints and returns the answer."""
        self.clock.tick(7)
        self.deliver()
        org, local = self.core.org, self.chat.local
        label = BUTTON[action].get(normalize_language(org.people[person].language))
        card = self.card(person, pid, label)
        seen = len(self.core.service.view(pid).timeline)
        chat_id = org.people[person].telegram_id
        presser = org.people[by or person].telegram_id
        if data is not None:
            update = local.press_forged(chat_id, card["message_id"], data, user_id=presser)
        else:
            update = local.press(chat_id, card["message_id"], text=label, user_id=presser)
        answer = str(local.wait_answer(update["callback_query"]["id"])["answer"].get("text") or "")
        timeline = self.core.service.view(pid).timeline
        decided = len(timeline) > seen
        extra = ""
        if decided:
            last = timeline[-1]
            if last.detail.get("on_behalf_of"):
                name = org.name_of(str(last.detail["on_behalf_of"]))
                extra = f" · for {name}" if self.lang == "en" else f" · 代{name}签"
        name = org.name_of(by or person)
        shown = answer or ("(asks for a comment)" if self.lang == "en" else "（请其填写意见）")
        click.echo(f"  {'✔' if decided or not answer else '✘'} {name} [Telegram] "
                   f"“{label}”: {shown}{extra}")
        return answer

    def say(self, person: str, text: str, expect: str) -> None:
        """`person` types `text` in their chat; waits for the bot's reply holding `expect`."""
        chat_id = self.core.org.people[person].telegram_id
        assert chat_id is not None
        self.clock.tick(3)
        self.chat.local.send_text(chat_id, text)
        reply = self.chat.local.wait_text(chat_id, expect)
        click.echo(f"  ✔ {self.core.org.name_of(person)} [Telegram] “{text}”: {reply['text']}")

    def close(self) -> None:
        """Stop the bot; the worker context stays installed for the publishing run."""
        self.bot.close()


def _script(world: DemoWorld, clock: Clock, lang: str, say: Callable[[str, str], None]) -> int:
    core = world.core
    en = lang == "en"
    svc, org = core.service, core.org
    say(f"== signoff 演示：{org.unit_name} 微信公众号发布审批（演示时间 {START:%Y-%m-%d}）",
        f"== signoff demo: {org.unit_name}'s official-account approval chain "
        f"(demo date {START:%Y-%m-%d})")
    say("  排版在网页控制台完成；各审批人在 Telegram 中点按机器人发来的卡片按钮。",
        "  Layout happens in the console; every approver presses the buttons of the card the "
        "bot sends them in Telegram.")
    pid = 0

    def step(actor: str, action: str, minutes: int = 7, **kw: object) -> None:
        clock.tick(minutes)
        out = svc.act(pid, action, actor, **kw)  # type: ignore[arg-type]
        who = org.name_of(svc.person(actor))
        click.echo(f"  ✔ {who} [console]: {present.outcome_text(out, org, core.zone, lang)}")

    def current_hash() -> str:
        rev = svc.view(pid).revision
        assert rev is not None
        return rev.content_hash

    taps = Taps(world, clock, lang)
    try:
        # --- post 1: a work-publicity post from 应急救援科 ----------------------------------
        say("\n— 稿件一：应急救援科的工作宣传稿", "\n— Post 1: work publicity from the rescue section")
        pid = svc.create_post(drafter="li_na", title="我局开展冬季防汛防台应急演练", body=BODY_V1,
                              category="publicity", formed_on=START.date() - timedelta(days=1))
        click.echo(f"  ✔ {org.name_of('li_na')}: " + ("handed in the material" if en else "提交素材"))
        step("he_jing", "new_revision", comment="按公众号样式排版")
        rev1 = current_hash()
        taps.tap("li_na", pid, Action.CONFIRM)
        taps.tap("zhang_wei", pid, Action.REQUEST_CHANGES)
        taps.say("zhang_wei", "第二段参演人数有误，应为150人", "已退回修改")
        step("he_jing", "new_revision", comment="已改正参演人数",
             revision=RevisionInput(body=BODY_V2, body_format="text"))
        taps.tap("li_na", pid, Action.CONFIRM)
        say("  （张伟在旧版本的卡片上点了“同意”：）", "  (Zhang Wei taps Approve on the old revision's card:)")
        from bot.telegram.callbacks import Decide

        old = Decide(p=pid, r=rev1[:16], a="a").pack()
        taps.tap("zhang_wei", pid, Action.APPROVE, data=old)
        say("  （其他科室的徐芳拿到转发的卡片，试图审核：）",
            "  (Xu Fang from another section presses a forwarded card:)")
        taps.tap("zhang_wei", pid, Action.APPROVE, by="xu_fang")
        taps.tap("zhang_wei", pid, Action.APPROVE)
        say("  （分管领导陈刚出差，孙丽按委托代签：）",
            "  (The supervising leader Chen Gang is away; Sun Li signs for him by delegation:)")
        taps.tap("sun_li", pid, Action.APPROVE)
        clock.tick(13)
        taps.tap("wang_min", pid, Action.SIGN)
        first = pid

        # --- post 2: an 办公室 notice with a mobile number (art. 16) -----------------------
        say("\n— 稿件二：办公室的通知，含个人手机号（第十六条）",
            "\n— Post 2: an office notice carrying a mobile number (art. 16)")
        say("  （办公室的分管领导即签发人，签发环节按三审不同人原则转主要领导）",
            "  (The office's supervising leader is the issuer, so sign-off goes to the principal "
            "leader: four eyes)")
        clock.tick(30)
        pid = svc.create_post(drafter="guo_qiang", title="关于设立防汛防台临时咨询专线的通知",
                              body=NOTICE, category="notice", formed_on=START.date())
        click.echo(f"  ✔ {org.name_of('guo_qiang')}: " + ("handed in the material" if en
                                                         else "提交素材"))
        step("he_jing", "new_revision")
        h = current_hash()
        taps.tap("guo_qiang", pid, Action.CONFIRM)
        taps.tap("ma_lin", pid, Action.APPROVE)
        taps.tap("wang_min", pid, Action.APPROVE)
        taps.tap("zhou_jian", pid, Action.SIGN)  # refused: the mobile number (art. 16)
        step("zhou_jian", "clear_pii", revision_hash=h, basis="consent",
             comment="联系人郭强书面同意公开其工作手机号，用于群众咨询")
        taps.tap("zhou_jian", pid, Action.SIGN)
    finally:
        taps.close()

    # --- publishing: the RQ worker publishes both posts and delivers every notification ------
    say("\n— 发布：RQ 工作进程在微信公众号模拟器上发布，发布结果经 Telegram 和日志渠道告知审批链上每个人",
        "\n— Publishing: an RQ worker publishes to the WeChat simulator and tells everyone in the "
        "chain through Telegram and the log channel")
    run_worker(core, taps.ctx)
    for post_id in (first, pid):
        post = svc.view(post_id).post
        click.echo(f"  #{post_id} {STATUS_LABEL[post.status].get(lang)}  {post.article_url or ''}")

    # --- timelines, notifications and the audit log ------------------------------------------
    for post_id in (first, pid):
        click.echo("")
        click.echo(present.post_view(svc.view(post_id), org, core.zone, lang))
    click.echo("")
    say(f"通知（signoff notifications --post {first}）：",
        f"notifications (signoff notifications --post {first}):")
    notes = svc.notifications_for(post_id=first)
    for n in notes:
        click.echo("  " + present.notification_line(n, org, core.zone, lang))
    everything = svc.notifications_for()
    undelivered = [n for n in everything if n.state is not DeliveryState.DELIVERED]
    report = svc.verify_audit()
    click.echo("")
    say(f"审计日志：{report.rows} 条记录，哈希链{'完整' if report.ok else '已损坏'}，"
        f"链头 {report.head_hash[:16]}…；通知 {len(everything)} 条，未送达 {len(undelivered)} 条",
        f"audit log: {report.rows} rows, hash chain {'intact' if report.ok else 'BROKEN'}, "
        f"head {report.head_hash[:16]}…; {len(everything)} notifications, "
        f"{len(undelivered)} undelivered")
    published = [p for p in (first, pid) if svc.view(p).post.article_url]
    return 0 if report.ok and len(published) == 2 and notes and not undelivered else 1


def run_worker(core: Core, ctx: WorkerContext | None = None, *,
               patience_seconds: float = 120) -> None:
    """RQ workers in burst mode over the demo's queue, with the demo's core installed (in `ctx`
    when given), until no job waits for a retry (or `patience_seconds` have passed)."""
    from rq import SimpleWorker
    from rq.registry import ScheduledJobRegistry

    from worker.context import build_context, install

    ctx = ctx or build_context(core.settings, core=core)
    install(ctx)
    name = ctx.queue.name
    bursts = 0
    try:
        ctx.dispatcher().reconcile()  # anything a hand-off missed
        deadline = time.monotonic() + patience_seconds
        while True:
            bursts += 1
            SimpleWorker(ctx.queues, connection=ctx.redis, serializer=ctx.queue.serializer,
                         name=f"{name}-worker-{bursts}").work(burst=True, with_scheduler=True,
                                                              logging_level="WARNING")
            # A transient error (a slow answer on a loaded machine) leaves a retry scheduled a
            # few seconds on: a burst that ended before it would leave the post "publishing".
            waiting = sum(ScheduledJobRegistry(queue=q).count for q in ctx.queues)
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        install(None)
        for channel in ctx.channels.values():  # the chat channel's connections and loop
            close = getattr(channel, "close", None)
            if close is not None:
                close()
        # The demo leaves nothing behind in a Redis it borrowed: its queue, jobs and worker.
        for pattern in (f"*{name}*", f"signoff:wechat:{ctx.settings.wechat_appid}*"):
            for key in ctx.redis.scan_iter(pattern):
                ctx.redis.delete(key)
        ctx.redis.srem("rq:queues", *(f"rq:queue:{q.name}" for q in ctx.queues))
        ctx.redis.srem("rq:workers", *(f"rq:worker:{name}-worker-{n}" for n in range(1, bursts + 1)))
        ctx.redis.close()
