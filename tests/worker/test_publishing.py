"""Publishing end to end: real RQ worker processes, real Redis, the WeChat simulator as a server."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tomllib
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomli_w
from redis import Redis
from sqlalchemy import func, select, update

from approvals.rules.article import CONTENT_MAX_CHARS, render
from approvals.rules.errors import InvalidInput
from approvals.rules.notices import Event, Notice
from approvals.rules.permits import current_step
from approvals.rules.states import PostStatus
from approvals.services.state import read_post
from approvals.store import models as m
from approvals.views import DeliveryState, Handoff, OutboxKind, RevisionInput, ScheduleInput
from approvals.web import create_app
from signoff.embedded import free_port
from signoff.sims.wechat import SimControl
from tests.conftest import EXAMPLE_ORG, Personas
from tests.web.test_console import token
from tests.worker.conftest import Bench, wait_for
from worker.context import make_queue
from worker.dispatch import Dispatcher

PUBLISHED = PostStatus.PUBLISHED.value


def test_signing_starts_publishing_at_once_and_the_chain_is_told(
        bench: Bench, control: SimControl, who: Personas) -> None:
    bench.start_worker("w1")  # idle, waiting; no reconciler runs in this test
    pid = bench.signed_post(who)
    bench.wait_status(pid, PUBLISHED)
    assert len(control.published()) == 1
    rows = wait_for(lambda: (r := bench.service.notifications_for(post_id=pid)) and all(
        n.state is DeliveryState.DELIVERED for n in r) and r)
    told = {(n.event, n.recipient) for n in rows}
    chain = {who.drafter, who.head, who.leader, who.issuer, *bench.core.org.admins}
    assert {p for e, p in told if e is Event.PUBLISHED} == chain
    assert (Event.STEP_OPENED, who.issuer) in told and (Event.STEP_OPENED, who.leader) in told
    # The log channel wrote each one once, under the row's key.
    lines = bench.notification_lines()
    assert sorted(line["key"] for line in lines) == sorted(n.key for n in rows)


def test_a_signed_post_is_published_once_with_the_art_28_footer(
        bench: Bench, control: SimControl, who: Personas) -> None:
    pid = bench.signed_post(who)
    # The revision's preview draft and the publish were handed to the queue by their commits.
    assert len(bench.jobs("worker.jobs.prepare_preview")) == 1
    (intent,) = [i for i in bench.publishing.pending() if i.kind is OutboxKind.PUBLISH]
    assert [j.args for j in bench.jobs("worker.jobs.publish_post")] == [[pid, intent.id]]
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED)
    (article,) = control.published()
    assert "拟稿：李娜　审核：陈刚　签发：王敏" in article["content"]
    assert article["title"] == "我局开展冬季防汛应急演练"
    view = bench.service.view(pid)
    assert view.post.article_url == article["url"]
    assert view.timeline[-1].action == "post.mark_published"
    assert control.calls("freepublish/submit") == 1
    assert bench.service.verify_audit().ok
    # The post page and the API show what WeChat holds: the article and its ids.
    held = view.publication
    assert held is not None and held.publish_id and held.article_url == article["url"]
    app = create_app(bench.core, secret_key="k" * 32, testing=True)
    _, key = bench.service.issue_token(who.admin, "test", by="test")
    api = app.test_client().get(f"/api/v1/posts/{pid}", headers={"Authorization": f"Bearer {key}"})
    assert api.get_json()["wechat"]["publish_id"] == held.publish_id
    bench.service.set_password(who.admin, "correct-horse-battery", by="test")
    client = app.test_client()
    client.post("/login", data={"person": who.admin, "password": "correct-horse-battery",
                                "csrf_token": token(client)})
    page = client.get(f"/posts/{pid}").get_data(as_text=True)
    assert held.publish_id in page and article["url"] in page


def test_images_named_as_people_name_their_files_go_to_wechat_under_their_type(
        bench: Bench, control: SimControl, who: Personas) -> None:
    import io

    from PIL import Image

    def picture(kind: str, colour: tuple[int, int, int]) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (90, 60), colour).save(out, kind)
        return out.getvalue()

    # WeChat judges an upload's type by its name's extension: these names have none it takes.
    pid = bench.signed_post(who, cover=("封面", picture("JPEG", (200, 30, 30)), "image/jpeg"),
                            pictures=[("现场.jfif", picture("JPEG", (30, 200, 30))),
                                      ("示意图", picture("PNG", (30, 30, 200)))])
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED)
    (article,) = control.published()
    assert article["content"].count("<img") == 2


def test_mass_send_mode_pushes_to_followers_with_a_short_clientmsgid(
        bench: Bench, control: SimControl, who: Personas) -> None:
    pid = bench.signed_post(who, mode="mass_send")
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED)
    sends = control.state()["mass_sends"]
    assert len(sends) == 1
    assert len(sends[0]["clientmsgid"]) <= 32 and sends[0]["clientmsgid"].isascii()
    assert control.calls("freepublish/submit") == 0


def test_a_scheduled_post_waits_for_its_time(bench: Bench, control: SimControl,
                                            who: Personas) -> None:
    at = datetime.now(UTC) + timedelta(seconds=4)
    pid = bench.signed_post(who, at=at)
    (job,) = bench.jobs("worker.jobs.publish_post")
    assert job.get_status() == "scheduled"
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED)
    claimed = next(e for e in bench.service.view(pid).timeline if e.action == "post.claim")
    assert claimed.at >= at.replace(microsecond=0)
    assert len(control.published()) == 1


def test_rescheduling_and_withdrawing_cancel_the_old_jobs(bench: Bench, control: SimControl,
                                                          who: Personas) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    moved = bench.signed_post(who, title="改期的稿件", at=later)
    dropped = bench.signed_post(who, title="撤回的稿件", at=later)
    old = {j.args[0]: j for j in bench.jobs("worker.jobs.publish_post")}
    assert sorted(old) == sorted([dropped, moved])
    assert {j.get_status() for j in old.values()} == {"scheduled"}
    bench.service.act(moved, "schedule", who.admin,
                      schedule=ScheduleInput(datetime.now(UTC) + timedelta(seconds=1)))
    bench.service.act(dropped, "withdraw", who.admin, comment="活动取消")
    # The commits cancelled the old jobs at once; the reconciler finds nothing left to cancel.
    assert {old[moved].get_status(), old[dropped].get_status()} == {"canceled"}
    assert [j.args[0] for j in bench.jobs("worker.jobs.publish_post")] == [moved]
    assert bench.reconcile()["cancelled"] == 0
    bench.start_worker("w1")
    bench.wait_status(moved, PUBLISHED)
    assert [a["title"] for a in control.published()] == ["改期的稿件"]
    assert bench.status(dropped) == PostStatus.WITHDRAWN.value


@pytest.mark.parametrize(("endpoint", "mode"), [
    ("material/add_material", "publish"), ("draft/add", "publish"),
    ("freepublish/submit", "publish"), ("freepublish/get", "publish"),
    ("message/mass/sendall", "mass_send"), ("message/mass/get", "mass_send"),
])
def test_a_worker_killed_during_each_external_step_is_resumed_and_publishes_once(
        bench: Bench, control: SimControl, who: Personas, endpoint: str, mode: str) -> None:
    # Hold the step's answer so the worker is killed with the request in flight.
    control.inject(endpoint, "latency", times=1, seconds=3)
    pid = bench.signed_post(who, mode=mode)
    first = bench.start_worker("doomed")
    wait_for(lambda: control.calls(endpoint) >= 1, 30)
    bench.kill(first)
    assert bench.status(pid) == PostStatus.PUBLISHING.value
    bench.start_worker("survivor")
    # The reconciler notices the dead worker's lease expire and puts the post back on the queue,
    # unless RQ's own clean-up re-runs the dead worker's job first (seen on a loaded machine):
    # either way the post resumes from what was recorded and goes out once.
    bench.start_reconciler()
    bench.wait_status(pid, PUBLISHED, timeout=60)
    if mode == "publish":
        assert len(control.published()) == 1
        assert control.calls("freepublish/submit") == 1
    else:  # a resent clientmsgid is answered 45065 with the first send's msg_id: one send
        assert len(control.state()["mass_sends"]) == 1


@pytest.mark.parametrize("workers", [2, 3])
def test_racing_workers_publish_every_post_exactly_once(bench: Bench, control: SimControl,
                                                        who: Personas, workers: int) -> None:
    posts = [bench.signed_post(who, title=f"并发发布{i}") for i in range(6)]
    # Duplicate jobs for the same posts, as a double dispatch or an abandoned-job retry makes.
    queue = bench.queue
    for pid in posts:
        queue.enqueue("worker.jobs.publish_post", pid)
    for i in range(workers):
        bench.start_worker(f"w{i}")
    for pid in posts:
        bench.wait_status(pid, PUBLISHED, timeout=60)
    titles = sorted(a["title"] for a in control.published())
    assert titles == sorted(f"并发发布{i}" for i in range(6))
    assert control.calls("freepublish/submit") == 6


def test_redis_losing_every_queued_job_is_repaired_by_the_reconciler(
        bench: Bench, control: SimControl, who: Personas) -> None:
    posts = [bench.signed_post(who, title=f"重启{i}") for i in range(4)]
    waiting = len(bench.publishing.pending()) + len(bench.core.notifications.pending())
    assert len(bench.publishing.pending()) == 8  # a preview and a publish per post
    assert bench.reconcile() == {"enqueued": 0, "scheduled": 0, "requeued": 0, "alive": waiting,
                                 "cancelled": 0, "drafts": 0}  # the hand-offs enqueued every one
    bench.redis.flushall()  # Redis restarted with no persistence
    bench.start_worker("w1")
    assert bench.reconcile()["requeued"] == waiting
    for pid in posts:
        bench.wait_status(pid, PUBLISHED)
    assert len(control.published()) == 4
    wait_for(lambda: not bench.core.notifications.pending())
    delivered = bench.service.notifications_for()
    assert all(n.state is DeliveryState.DELIVERED for n in delivered)


@pytest.mark.parametrize("fault", [
    {"kind": "errcode", "errcode": -1, "times": 2},
    {"kind": "http_status", "status": 502, "times": 1},
    {"kind": "drop", "times": 1},
    {"kind": "errcode", "errcode": 45011, "times": 1},
])
def test_transient_faults_are_retried_with_backoff_until_published(
        bench: Bench, control: SimControl, who: Personas, fault: dict[str, object]) -> None:
    pid = bench.signed_post(who)
    params = dict(fault)
    control.inject("draft/add", str(params.pop("kind")), **params)  # type: ignore[arg-type]
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED, timeout=60)
    assert control.calls("draft/add") == 1 + int(fault["times"])  # type: ignore[call-overload]
    assert len(control.published()) == 1


def test_a_post_whose_gates_no_longer_hold_is_put_on_hold_not_published(
        bench: Bench, control: SimControl, who: Personas, tmp_path: Path) -> None:
    pid = bench.signed_post(who)
    with EXAMPLE_ORG.open("rb") as fh:
        data = tomllib.load(fh)
    data["unit"]["issuer"] = "zhou_jian"  # the issuer was replaced after the sign-off
    changed = tmp_path / "org.toml"
    changed.write_bytes(tomli_w.dumps(data).encode())
    bench.env["SIGNOFF_ORG_FILE"] = str(changed)
    bench.start_worker("w1")
    bench.wait_status(pid, PostStatus.ON_HOLD.value)
    post = bench.service.view(pid).post
    assert "第二十八条" in post.problem.zh and "王敏" in post.problem.zh
    assert control.published() == [] and control.calls("draft/add") == 0
    # The admins hear why; whoever is entitled to sign now (周建, under the new chart) too.
    held = {n.recipient: n for n in bench.service.notifications_for(post_id=pid)
            if n.event is Event.ON_HOLD}
    assert {who.admin, who.principal, who.drafter} <= set(held)
    assert "王敏" in held[who.admin].text


def test_a_token_invalidation_storm_with_several_workers_ends_and_publishes(
        bench: Bench, control: SimControl, who: Personas) -> None:
    posts = [bench.signed_post(who, title=f"令牌{i}") for i in range(6)]
    control.inject("*", "token_invalid", times=8)
    for i in range(3):
        bench.start_worker(f"w{i}")
    wait_for(lambda: control.state()["tokens_issued"] >= 1, 30)
    control.invalidate_tokens()
    for pid in posts:
        bench.wait_status(pid, PUBLISHED, timeout=90)
    assert len(control.published()) == 6
    # Refreshes are shared through Redis under a lock: a handful, not one per call per worker.
    assert control.state()["tokens_issued"] <= 12



def test_a_new_revision_gets_a_preview_draft_whose_link_is_kept_and_reused_for_publishing(
        bench: Bench, control: SimControl, who: Personas) -> None:
    svc = bench.service
    pid = svc.create_post(drafter=who.drafter, title="预览链接测试", body="正文内容。")
    svc.act(pid, "new_revision", who.operator)
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    bench.start_worker("w1")
    pub = wait_for(lambda: (p := bench.publishing.publication(pid, h)).preview_url and p, 30)
    assert "tempkey=" in pub.preview_url and control.calls("draft/add") == 1
    for action, person in [("confirm", who.drafter), ("approve", who.head),
                           ("approve", who.leader), ("sign", who.issuer)]:
        svc.act(pid, action, person, revision_hash=h)
    bench.wait_status(pid, PUBLISHED)
    # The preview draft was brought up to date (the footer now names reviewer and issuer) and
    # published: no second draft.
    assert control.calls("draft/add") == 1 and control.calls("draft/update") == 1
    assert "签发：王敏" in control.published()[0]["content"]


def test_the_stock_rq_worker_runs_the_jobs_with_signoffs_settings(
        bench: Bench, control: SimControl, who: Personas) -> None:
    pid = bench.signed_post(who)
    rq = Path(sys.executable).with_name("rq")
    with (bench.tmp / "rq.log").open("ab") as log:
        # No queue names: worker.rqsettings names the publishing and the notification queue.
        proc = subprocess.Popen([str(rq), "worker", "-c", "worker.rqsettings", "-S",
                                 "rq.serializers.JSONSerializer", "--with-scheduler"],
                                env=bench.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=bench.tmp)
    bench.procs.append(proc)
    bench.wait_status(pid, PUBLISHED)
    assert len(control.published()) == 1
    wait_for(lambda: not bench.core.notifications.pending())  # it delivers notifications too


def test_a_signoff_made_while_redis_is_down_is_published_once_the_reconciler_runs(
        bench: Bench, control: SimControl, who: Personas) -> None:
    pid = bench.signed_post(who, core=bench.offline_core())  # the hand-off cannot reach Redis
    assert bench.status(pid) == PostStatus.SIGNED.value  # the sign-off committed all the same
    assert bench.jobs("worker.jobs.publish_post") == []
    bench.start_worker("w1")
    report = bench.reconcile()
    assert report["enqueued"] >= 2  # the preview and the publish (and the notifications)
    bench.wait_status(pid, PUBLISHED)
    assert len(control.published()) == 1


def test_notifications_are_written_with_their_jobs_id_and_a_racing_reconciler_makes_no_second_job(
        bench: Bench, who: Personas) -> None:
    # A change made while Redis is down: its rows name the job that will deliver them, though
    # the hand-off after the commit could not make it.
    offline = bench.offline_core()
    pid = offline.service.create_post(drafter=who.drafter, title="通知任务", body="正文。")
    offline.service.act(pid, "new_revision", who.operator, revision=RevisionInput())
    rows = [n for n in bench.core.notifications.pending() if n.post_id == pid]
    assert rows
    (job_id,) = {n.job_id for n in rows}  # one job for the change's rows of the log channel
    assert job_id and f"-notify-p{pid}-a" in job_id
    # The reconciler finds the job missing and makes it, under that id.
    assert bench.reconcile()["requeued"] == len(rows)
    assert [j.id for j in bench.jobs("worker.jobs.deliver_notifications")] == [job_id]
    # The hand-off arriving late (it was racing the pass) makes no second job ...
    bench.dispatcher()([Handoff(OutboxKind.NOTIFY, n.id, False, n) for n in rows])
    assert [j.id for j in bench.jobs("worker.jobs.deliver_notifications")] == [job_id]
    # ... and each notification goes out once.
    bench.start_worker("w1")
    wait_for(lambda: not [n for n in bench.core.notifications.pending() if n.post_id == pid])
    keys = [line["key"] for line in bench.notification_lines()]
    assert sorted(k for k in keys if k.startswith(f"p{pid}-")) == sorted(
        n.key for n in bench.service.notifications_for(post_id=pid))


def test_a_planned_job_id_fits_its_column_whatever_the_queue_name(bench: Bench) -> None:
    long_name = "q" * 64  # the longest name the settings take
    ids = set()
    for name in (long_name, long_name[:-1] + "r", "signoff"):
        dispatcher = Dispatcher(bench.core, make_queue(bench.redis, name),
                                make_queue(bench.redis, name + "-notify"))
        for key in ("p2147483647-a9223372036854775807-telegram-0123456789ab",
                    "p2147483647-a9223372036854775807-telegram-0123456789ac"):
            job_id = dispatcher.notify_job_id(key)
            assert len(job_id) <= 80 and job_id == dispatcher.notify_job_id(key)
            assert re.fullmatch(r"[A-Za-z0-9_-]+", job_id)
            ids.add(job_id)
    assert len(ids) == 6  # another queue or another key: another job


def test_an_escalation_on_the_same_audit_row_gets_a_job_of_its_own(bench: Bench,
                                                                  who: Personas) -> None:
    svc = bench.service
    pid = svc.create_post(drafter=who.drafter, title="升级提醒", body="正文。")
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
    first = {n.job_id for n in bench.core.notifications.pending() if n.post_id == pid}
    with bench.core.engine.connect() as conn:
        seq = conn.scalar(select(func.max(m.Notification.audit_seq)).where(
            m.Notification.post_id == pid))
    with bench.core.deps.uow() as uow:  # a second write hanging on the same audit row
        read = read_post(uow.session, pid)
        bench.core.notifications.tell(uow, read.post, read.state,
                                      [Notice(Event.ESCALATED, a, current_step(
                                          read.state, bench.core.org))
                                       for a in bench.core.org.admins],
                                      who.drafter, seq)
    later = {n.job_id for n in bench.core.notifications.pending() if n.post_id == pid} - first
    assert len(first) == 1 and len(later) == 1 and None not in later
    assert len(bench.jobs("worker.jobs.deliver_notifications")) == 2


def test_rows_whose_planned_job_already_ended_in_redis_get_a_new_job_at_once(
        bench: Bench, who: Personas) -> None:
    # Delivered, then the database restored from before the delivery while Redis kept the
    # finished job: the rows are pending again, under the id of a job that has ended.
    svc = bench.service
    pid = svc.create_post(drafter=who.drafter, title="恢复备份", body="正文。")
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
    bench.start_worker("w1")
    wait_for(lambda: not [n for n in bench.core.notifications.pending() if n.post_id == pid])
    with bench.core.engine.begin() as conn:
        conn.execute(update(m.Notification).where(m.Notification.post_id == pid).values(
            state=DeliveryState.PENDING.value, delivered_at=None, attempts=0))
    rows = [n for n in bench.core.notifications.pending() if n.post_id == pid]
    (ended,) = {n.job_id for n in rows}
    bench.dispatcher()([Handoff(OutboxKind.NOTIFY, n.id, False, n) for n in rows])
    # Not left for the reconciler's next pass: a new job, recorded on the rows, delivers them.
    wait_for(lambda: not [n for n in bench.core.notifications.pending() if n.post_id == pid])
    with bench.core.engine.connect() as conn:
        again = set(conn.scalars(select(m.Notification.job_id).where(
            m.Notification.post_id == pid)))
    assert ended not in again and None not in again
    keys = [line["key"] for line in bench.notification_lines()]
    assert all(keys.count(n.key) == 2 for n in bench.service.notifications_for(post_id=pid))


def redis_text(redis: Redis) -> str:
    """Every value in the Redis database as text (RQ compresses job data with zlib)."""
    parts = []
    for key in redis.scan_iter("*"):
        kind = redis.type(key).decode()
        values: list[bytes] = []
        if kind == "string":
            values = [redis.get(key) or b""]
        elif kind == "hash":
            values = list(redis.hgetall(key).values())
        elif kind == "list":
            values = redis.lrange(key, 0, -1)
        elif kind in ("set", "zset"):
            values = list(redis.smembers(key)) if kind == "set" else redis.zrange(key, 0, -1)
        elif kind == "stream":
            values = [v for _, fields in redis.xrange(key) for v in fields.values()]
        for value in values:
            with contextlib.suppress(zlib.error):
                value = zlib.decompress(value)
            parts.append(value.decode("utf-8", "replace"))
    return "\n".join(parts)


def test_an_unreachable_wechat_leaks_the_secret_nowhere(bench: Bench, who: Personas) -> None:
    secret = bench.env["SIGNOFF_WECHAT_SECRET"]
    bench.env["SIGNOFF_WECHAT_API_BASE"] = f"http://127.0.0.1:{free_port()}/cgi-bin/"
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, PostStatus.FAILED.value, timeout=90)  # every retry met a dead host
    logs = bench.logs()
    assert "ConnectionError" in logs  # the failures were logged, tracebacks and all ...
    for text in (logs, redis_text(bench.redis), bench.service.view(pid).post.problem.en):
        assert secret not in text  # ... without the secret
        assert "secret=" not in text.replace("secret=[redacted]", "")


def test_failing_calls_leak_no_access_token(bench: Bench, control: SimControl,
                                            who: Personas) -> None:
    control.inject("draft/add", "drop", times=1)  # requests' error names the URL
    control.inject("freepublish/get", "http_status", status=502, times=1)  # and so does HTTPError
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED, timeout=60)
    token = bench.redis.get(f"signoff:wechat:{bench.env['SIGNOFF_WECHAT_APPID']}_access_token")
    assert token
    everything = redis_text(bench.redis).replace(token.decode(), "", 1)  # its own cache entry
    for text in (bench.logs(), everything):
        assert token.decode() not in text
        assert "access_token=" not in text.replace("access_token=[redacted]", "")


def test_a_revision_laid_out_at_the_very_limit_publishes_footer_and_all(
        bench: Bench, control: SimControl, who: Personas) -> None:
    org = bench.core.org
    longest = max((p.name for p in org.people.values()), key=len)
    footer = org.footer.render(drafter=org.name_of(who.drafter), reviewer=longest,
                               issuer=longest, source=None)
    room = CONTENT_MAX_CHARS - 1 - len(render("", footer, {}))
    svc = bench.service
    pid = svc.create_post(drafter=who.drafter, title="满额稿件", body="素材")
    with pytest.raises(InvalidInput):  # one character more than the article can take
        svc.act(pid, "new_revision", who.operator,
                revision=RevisionInput(body="<p>" + "字" * (room - 6) + "</p>", body_format="html"))
    svc.act(pid, "new_revision", who.operator,
            revision=RevisionInput(body="<p>" + "字" * (room - 7) + "</p>", body_format="html"))
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    for action, person in [("confirm", who.drafter), ("approve", who.head),
                           ("approve", who.leader), ("sign", who.issuer)]:
        svc.act(pid, action, person, revision_hash=h)
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED)
    (article,) = control.published()
    assert len(article["content"]) < CONTENT_MAX_CHARS and "签发：王敏" in article["content"]


def test_drafts_that_will_never_be_used_are_deleted_from_the_draft_box(
        bench: Bench, control: SimControl, who: Personas) -> None:
    svc = bench.service
    bench.start_worker("w1")
    revised = svc.create_post(drafter=who.drafter, title="改版的稿件", body="第一版正文。")
    svc.act(revised, "new_revision", who.operator)
    wait_for(lambda: len(control.state()["drafts"]) == 1)  # revision 1's preview draft
    svc.act(revised, "new_revision", who.operator,
            revision=RevisionInput(body="第二版正文。", body_format="text"))
    dropped = svc.create_post(drafter=who.drafter, title="撤回的稿件", body="正文。")
    svc.act(dropped, "new_revision", who.operator)
    wait_for(lambda: len(control.state()["drafts"]) == 3)
    svc.act(dropped, "withdraw", who.admin, comment="活动取消")
    assert bench.reconcile()["drafts"] == 2  # revision 1's draft, and the withdrawn post's
    wait_for(lambda: len(control.state()["drafts"]) == 1, 30)
    (kept,) = control.state()["drafts"].values()
    assert kept["articles"][0]["title"] == "改版的稿件"
    assert control.calls("draft/delete") == 2
    assert bench.reconcile()["drafts"] == 0  # nothing left to delete
    h = svc.view(revised).revision.content_hash  # type: ignore[union-attr]
    for action, person in [("confirm", who.drafter), ("approve", who.head),
                           ("approve", who.leader), ("sign", who.issuer)]:
        svc.act(revised, action, person, revision_hash=h)
    bench.wait_status(revised, PUBLISHED)
    assert control.state()["drafts"] == {} and control.calls("draft/add") == 3
