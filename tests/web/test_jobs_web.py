"""The post page offers cancel publication to an admin or the operator while it is allowed; the
jobs page without a queue that answers still shows the work and says so."""

from __future__ import annotations

import pytest
from flask import Flask

from approvals.bootstrap import Core
from approvals.config.settings import Settings
from approvals.rules.states import PostStatus
from approvals.web import create_app
from signoff.embedded import free_port
from signoff.web import with_queue_view
from tests.conftest import EXAMPLE_ORG, Personas
from tests.integration.test_outbox import signed
from tests.web.test_console import PASSWORD, logged_in, token


@pytest.fixture
def app(core: Core, who: Personas) -> Flask:
    for person in (who.drafter, who.operator, who.admin):
        core.service.set_password(person, PASSWORD, by="test")
    return create_app(core, secret_key="k" * 32, testing=True)


def test_the_post_page_offers_cancel_and_it_holds_the_post(app: Flask, core: Core,
                                                          who: Personas) -> None:
    pid = signed(core.service, who)
    drafter = logged_in(app, who.drafter)
    assert 'value="cancel"' not in drafter.get(f"/posts/{pid}").get_data(as_text=True)
    operator = logged_in(app, who.operator)
    assert 'value="cancel"' in operator.get(f"/posts/{pid}").get_data(as_text=True)
    done = operator.post(f"/posts/{pid}/act", data={
        "action": "cancel", "comment": "活动改期", "csrf_token": token(operator, f"/posts/{pid}")},
        follow_redirects=True).get_data(as_text=True)
    assert "已完成：取消发布 → 暂缓发布" in done
    assert core.service.view(pid).post.status is PostStatus.ON_HOLD
    assert 'value="cancel"' not in done  # nothing left to cancel
    assert '<p class="problem">何静取消了发布：活动改期。</p>' in done  # why it is held
    english = operator.get(f"/posts/{pid}?lang=en").get_data(as_text=True)
    assert "cancel publishing" in english


def test_the_jobs_page_shows_the_work_when_redis_does_not_answer(app: Flask, core: Core,
                                                                who: Personas) -> None:
    pid = signed(core.service, who)
    down = Settings(org_file=EXAMPLE_ORG, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with_queue_view(app, down)
    admin = logged_in(app, who.admin)
    answer = admin.get("/jobs")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "队列（Redis）无法连接" in page
    assert f'id="post-{pid}"' in page and "状态未知" in page
    said = admin.post("/jobs/failed/retry", data={"job": "x", "csrf_token": token(admin, "/jobs")},
                      follow_redirects=True).get_data(as_text=True)
    assert "错误：" in said and "Traceback" not in said
    nul = admin.post("/jobs/failed/retry", data={"job": "x\x00y", "csrf_token": token(
        admin, "/jobs")}, follow_redirects=True).get_data(as_text=True)
    assert "队列中没有失败的任务 x\\x00y" in nul  # never sent to the database
    bogus = admin.post("/jobs/items/everything/1/redispatch", data={
        "csrf_token": token(admin, "/jobs")}, follow_redirects=True).get_data(as_text=True)
    assert "任务类型“everything”无效" in bogus
