"""The console's jobs page against the real test Redis, real RQ jobs enqueued by the app's own
hand-off and reconciler, real workers and the WeChat simulator: what it shows, its retry and its
cancel, and who may see it."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq.job import Job

from approvals.rules.states import PostStatus
from approvals.web import create_app
from signoff.sims.wechat import SimConfig, SimControl
from signoff.web import with_queue_view
from tests.conftest import Personas
from tests.web.test_console import PASSWORD, logged_in, token
from tests.worker.conftest import Bench, wait_for

PUBLISHED, FAILED = PostStatus.PUBLISHED.value, PostStatus.FAILED.value


@pytest.fixture
def app(bench: Bench, who: Personas) -> Flask:
    for person in (who.admin, who.operator, who.drafter, who.colleague):
        bench.service.set_password(person, PASSWORD, by="test")
    # Wired as `signoff serve` wires it: the core's hand-off to RQ, and the queue view.
    return with_queue_view(create_app(bench.core, secret_key="k" * 32, testing=True),
                           bench.settings(), redis=bench.redis)


def row(page: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S)
    assert found, page
    return found.group(1)


def finished(bench: Bench, job_id: str) -> Job:
    def done() -> Job | None:
        job = Job.fetch(job_id, connection=bench.redis, serializer=bench.queue.serializer)
        return job if job.get_status() in ("finished", "failed") else None

    return wait_for(done, 40)  # type: ignore[no-any-return]


def post_form(client: FlaskClient, path: str, **data: str) -> str:
    answer = client.post(path, data={**data, "csrf_token": token(client, "/jobs")},
                         follow_redirects=True)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_a_failed_publication_shows_its_error_and_is_retried_from_the_page(
        app: Flask, bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("freepublish/submit", "errcode", errcode=48001, times=1)
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, FAILED)
    admin = logged_in(app, who.admin)
    mine = row(admin.get("/jobs").get_data(as_text=True), f"post-{pid}")
    assert "发布失败" in mine and "48001" in mine and "认证" in mine
    assert f"/jobs/posts/{pid}/retry" in mine and f"/jobs/posts/{pid}/cancel" in mine
    # The operator may cancel but not retry (an admin's action): the page offers what the façade
    # allows, and the action refuses anyway.
    operator = logged_in(app, who.operator)
    theirs = row(operator.get("/jobs?lang=en").get_data(as_text=True), f"post-{pid}")
    assert "publishing failed" in theirs and "verification" in theirs
    assert f"/jobs/posts/{pid}/retry" not in theirs and f"/jobs/posts/{pid}/cancel" in theirs
    said = post_form(operator, f"/jobs/posts/{pid}/retry", comment="重试")
    assert "Only an admin may do that" in said and bench.status(pid) == FAILED
    done = post_form(admin, f"/jobs/posts/{pid}/retry", comment="已开通发布权限")
    assert "已完成：重新发布" in done
    bench.wait_status(pid, PUBLISHED)
    assert control.calls("freepublish/submit") == 2 and len(control.published()) == 1
    last = next(e for e in reversed(bench.service.view(pid).timeline) if e.action == "post.retry")
    assert (last.actor, last.detail["channel"]) == (who.admin, "web")


def test_a_queued_publish_job_cancelled_from_the_page_never_publishes(
        app: Flask, bench: Bench, control: SimControl, who: Personas) -> None:
    pid = bench.signed_post(who)  # no worker yet: its job waits on the queue
    (job,) = bench.jobs("worker.jobs.publish_post")
    operator = logged_in(app, who.operator)
    mine = row(operator.get("/jobs").get_data(as_text=True), f"post-{pid}")
    assert "已签发，待发布" in mine and "排队中" in mine and job.id in mine
    refused = post_form(operator, f"/jobs/posts/{pid}/cancel", comment="")
    assert "“取消发布”必须填写意见或理由" in refused
    assert bench.status(pid) == PostStatus.SIGNED.value and job.get_status() == "queued"
    done = post_form(operator, f"/jobs/posts/{pid}/cancel", comment="活动延期")
    assert "已完成：取消发布 → 暂缓发布" in done
    assert f'id="post-{pid}"' not in done  # held: nothing of it waits on the queue any more
    assert job.get_status() == "canceled" and bench.status(pid) == PostStatus.ON_HOLD.value
    # A worker now runs everything on the queue (a probe after the cancelled job proves it).
    bench.start_worker("w1")
    probe = bench.queue.enqueue("worker.jobs.ping")
    assert finished(bench, probe.id).return_value() == "pong"
    assert control.calls("freepublish/submit") == 0 and control.published() == []
    assert bench.status(pid) == PostStatus.ON_HOLD.value
    page = logged_in(app, who.admin).get(f"/posts/{pid}").get_data(as_text=True)
    assert "取消发布" in page and "意见：活动延期" in page  # the timeline says who, and why


def test_a_failed_job_shows_its_error_with_secrets_scrubbed_and_is_retried(
        app: Flask, bench: Bench, control: SimControl, who: Personas) -> None:
    secret = SimConfig().secret
    svc = bench.service
    bench.start_worker("w1")
    dropped = svc.create_post(drafter=who.drafter, title="撤回的稿件", body="正文。")
    svc.act(dropped, "new_revision", who.operator)
    wait_for(lambda: len(control.state()["drafts"]) == 1)  # its preview draft
    svc.act(dropped, "withdraw", who.admin, comment="活动取消")
    # WeChat refuses the deletion once, with an error text that carries the secret and a token.
    control.inject("draft/delete", "errcode", errcode=40164,
                   errmsg=f"invalid ip, not in whitelist secret={secret} "
                          f"access_token=tok-0123456789 {secret}")
    assert bench.reconcile()["drafts"] == 1
    (job_id,) = wait_for(lambda: bench.redis.zrange(
        f"rq:failed:{bench.queue.name}", 0, -1), 40)
    admin = logged_in(app, who.admin)
    page = admin.get("/jobs").get_data(as_text=True)
    failed = re.search(r'<table class="queue jobs-failed">(.*?)</table>', page, re.S)
    assert failed, page
    shown = failed.group(1)
    assert job_id.decode() in shown and "删除草稿" in shown and "errcode 40164" in shown
    assert "not in whitelist" in shown
    assert "[redacted]" in shown and secret not in page and "tok-0123456789" not in page
    assert "Traceback" not in page
    done = post_form(admin, "/jobs/failed/retry", job=job_id.decode())
    assert "已完成" in done
    wait_for(lambda: control.state()["drafts"] == {}, 30)  # deleted on the second run
    assert control.calls("draft/delete") == 2
    gone = post_form(admin, "/jobs/failed/retry", job="signoff-nothing-1")
    assert "队列中没有失败的任务" in gone


def test_only_admins_and_the_operator_see_or_use_the_jobs_page(
        app: Flask, bench: Bench, who: Personas) -> None:
    pid = bench.signed_post(who)
    assert app.test_client().get("/jobs").status_code == 302  # to the login
    for person in (who.drafter, who.colleague):
        client = logged_in(app, person)
        assert client.get("/jobs").status_code == 403
        answer = client.post(f"/jobs/posts/{pid}/cancel", data={
            "comment": "不发了", "csrf_token": token(client, "/")})
        assert answer.status_code == 403 and "您无权查看此页面" in answer.get_data(as_text=True)
    assert bench.status(pid) == PostStatus.SIGNED.value
    assert logged_in(app, who.operator).get("/jobs").status_code == 200
