"""`signoff demo`: a scripted chain on a temporary SQLite database, printed as it happens."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from approvals import present as render
from approvals.config.orgfile import load_org
from approvals.rules.errors import SignoffError, Text
from approvals.rules.states import ACTION_LABEL, STATUS_LABEL, PostStatus
from approvals.services.actions import RevisionInput, Service
from approvals.store import db
from signoff.paths import example_org_file

ZONE = ZoneInfo("Asia/Shanghai")
# A fixed, realistic moment: inside the example org chart's delegation range, so 代签 shows.
START = datetime(2026, 12, 8, 9, 0, tzinfo=ZONE)

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

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


def run_demo(lang: str = "zh-CN") -> int:
    """Run the scripted chain; returns the process exit code."""
    en = lang == "en"

    def say(zh: str, en_text: str) -> None:
        click.echo(en_text if en else zh)

    with tempfile.TemporaryDirectory(prefix="signoff-demo-") as tmp:
        engine = db.create_db_engine(f"sqlite:///{Path(tmp) / 'demo.db'}")
        db.upgrade(engine)
        org = load_org(example_org_file())
        clock = Clock(START)
        queued: list[int] = []
        svc = Service(db.session_factory(engine), org, zone=ZONE, clock=clock,
                      enqueue=queued.append)
        say(f"== signoff 演示：{org.unit_name} 微信公众号发布审批（演示时间 {START:%Y-%m-%d}）",
            f"== signoff demo: {org.unit_name}'s official-account approval chain "
            f"(demo date {START:%Y-%m-%d})")

        def step(actor: str, action: str, minutes: int = 7, **kw: object) -> None:
            clock.tick(minutes)
            out = svc.act(pid, action, actor, **kw)  # type: ignore[arg-type]
            who = org.name_of(org.find_person(actor).key)  # type: ignore[union-attr]
            extra = ""
            if out.on_behalf_of:
                extra = (f" (for {org.name_of(out.on_behalf_of)})" if en
                         else f"（代{org.name_of(out.on_behalf_of)}签）")
            click.echo(f"  ✔ {who}: {ACTION_LABEL[out.action].get(lang)}{extra}"
                       f" → {STATUS_LABEL[out.status_after].get(lang)}")

        def refused(actor: str, action: str, **kw: object) -> None:
            clock.tick(2)
            try:
                svc.act(pid, action, actor, **kw)  # type: ignore[arg-type]
            except SignoffError as exc:
                who = org.name_of(actor) if actor in org.people else actor
                click.echo(f"  ✘ {who}: {ACTION_LABEL.get(action, Text(action, action)).get(lang)}"  # type: ignore[call-overload]
                           f" — {exc.message(lang)}")
            else:  # pragma: no cover - the demo script is wrong if this happens
                raise AssertionError(f"{actor} {action} should have been refused")

        def current_hash() -> str:
            rev = svc.view(pid).revision
            assert rev is not None
            return rev.content_hash

        # --- post 1: a work-publicity post from 应急救援科 --------------------------------------
        say("\n— 稿件一：应急救援科的工作宣传稿", "\n— Post 1: work publicity from the rescue section")
        pid = svc.create_post(drafter="li_na", title="我局开展冬季防汛防台应急演练", body=BODY_V1,
                              category="publicity", formed_on=START.date() - timedelta(days=1))
        click.echo(f"  ✔ {org.name_of('li_na')}: " + ("handed in the material" if en else "提交素材"))
        step("he_jing", "new_revision", comment="按公众号样式排版")
        rev1 = current_hash()
        step("li_na", "confirm", revision_hash=rev1)
        step("zhang_wei", "request_changes", revision_hash=rev1,
             comment="第二段参演人数有误，应为150人")
        step("he_jing", "new_revision", comment="已改正参演人数",
             revision=RevisionInput(body=BODY_V2, body_format="text"))
        rev2 = current_hash()
        step("li_na", "confirm", revision_hash=rev2)
        say("  （张伟在旧预览上点了“同意”：）", "  (Zhang Wei taps Approve on the old preview:)")
        refused("zhang_wei", "approve", revision_hash=rev1)
        step("zhang_wei", "approve", revision_hash=rev2)
        say("  （其他科室的徐芳试图审核：）", "  (Xu Fang from another section tries to approve:)")
        refused("xu_fang", "approve", revision_hash=rev2)
        say("  （分管领导陈刚出差，孙丽按委托代签：）",
            "  (The supervising leader Chen Gang is away; Sun Li signs for him by delegation:)")
        step("sun_li", "approve", revision_hash=rev2)
        step("wang_min", "sign", revision_hash=rev2, minutes=20)
        first = pid

        # --- post 2: an 办公室 notice with a mobile number (art. 16) ---------------------------
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
        step("guo_qiang", "confirm", revision_hash=h)
        step("ma_lin", "approve", revision_hash=h)
        step("wang_min", "approve", revision_hash=h)
        refused("zhou_jian", "sign", revision_hash=h)
        step("zhou_jian", "clear_pii", revision_hash=h, basis="consent",
             comment="联系人郭强书面同意公开其工作手机号，用于群众咨询")
        step("zhou_jian", "sign", revision_hash=h)

        # --- publishing: the RQ worker publishes both posts on the bundled WeChat simulator ---
        say("\n— 发布：RQ 工作进程在微信公众号模拟器上发布",
            "\n— Publishing: an RQ worker publishes to the bundled WeChat simulator")
        published = publish_all(svc, Path(tmp), say)
        for post_id in (first, pid):
            post = svc.view(post_id).post
            click.echo(f"  #{post_id} {STATUS_LABEL[PostStatus(post.status)].get(lang)}  "
                       f"{post.article_url or ''}")

        # --- timelines and the audit log ------------------------------------------------------
        for post_id in (first, pid):
            click.echo("")
            click.echo(render.post_view(svc.view(post_id), org, ZONE, lang))
        report = svc.verify_audit()
        click.echo("")
        say(f"审计日志：{report.rows} 条记录，哈希链{'完整' if report.ok else '已损坏'}，"
            f"链头 {report.head_hash[:16]}…",
            f"audit log: {report.rows} rows, hash chain {'intact' if report.ok else 'BROKEN'}, "
            f"head {report.head_hash[:16]}…")
        engine.dispose()
        return 0 if report.ok and queued == [first, pid] and published == 2 else 1


def publish_all(svc: Service, tmp: Path, say: Callable[[str, str], None]) -> int:
    """Dispatch the outbox and run an RQ worker in burst mode against the simulator."""
    from rq import SimpleWorker

    from approvals.config.settings import Settings
    from signoff.embedded import some_redis
    from signoff.sims.wechat import SimConfig, WeChatSim
    from worker.context import build_context, install
    from worker.dispatch import Dispatcher

    sim_config = SimConfig(publish_delay_seconds=0.3)
    with WeChatSim(sim_config) as sim, some_redis("redis://127.0.0.1:6379/0") as (url, embedded):
        say(f"  微信模拟器：{sim.base_url}；Redis：{url}{'（内置）' if embedded else ''}",
            f"  WeChat simulator: {sim.base_url}; Redis: {url}{' (embedded)' if embedded else ''}")
        settings = Settings(database_url=f"sqlite:///{tmp / 'demo.db'}", redis_url=url,
                            wechat_api_base=sim.base_url, wechat_appid=sim_config.appid,
                            wechat_secret=sim_config.secret,
                            queue_name=f"signoff-demo-{os.getpid()}", publish_poll_seconds=20)
        ctx = build_context(settings, service=svc)
        install(ctx)
        try:
            Dispatcher(ctx.publishing, ctx.queue, settings).reconcile()
            SimpleWorker([ctx.queue], connection=ctx.redis, serializer=ctx.queue.serializer
                         ).work(burst=True, logging_level="WARNING")
            ctx.queue.delete(delete_jobs=True)
        finally:
            install(None)
            ctx.redis.close()
        return len(sim.control.published())

