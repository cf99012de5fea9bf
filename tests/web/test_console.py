"""The console through Flask's test client: login, CSRF, the queue, a post's page and its actions."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from approvals.bootstrap import Core
from approvals.rules.errors import InvalidInput, NotFound
from approvals.rules.states import PostStatus
from approvals.store import models as m
from approvals.views import RevisionInput
from approvals.web import create_app
from tests.conftest import Personas

PASSWORD = "correct-horse-battery"
BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


@pytest.fixture
def app(core: Core, who: Personas) -> Flask:
    for person in (who.drafter, who.head, who.colleague, who.admin):
        core.service.set_password(person, PASSWORD, by="test")
    return create_app(core, secret_key="k" * 32, testing=True)


def token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def logged_in(app: Flask, person: str) -> FlaskClient:
    client = app.test_client()
    answer = client.post("/login", data={"person": person, "password": PASSWORD,
                                         "csrf_token": token(client)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def laid_out(core: Core, who: Personas, body: str = BODY, fmt: str = "text") -> int:
    pid = core.service.create_post(drafter=who.drafter, title="我局开展冬季防汛应急演练",
                                   body=body, body_format=fmt)
    core.service.act(pid, "new_revision", who.operator, revision=RevisionInput())
    return pid


def test_healthz_answers_with_the_database(app: Flask) -> None:
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}


def test_every_page_asks_for_a_login_first(app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    client = app.test_client()
    for path in ("/", f"/posts/{pid}"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_an_id_no_post_can_have_is_a_missing_post_on_every_page(app: Flask, core: Core,
                                                                 who: Personas) -> None:
    from approvals.web.preview import signer

    pid = laid_out(core, who)
    wide = quote("".join(chr(ord(c) + 0xFEE0) for c in str(pid)))  # its id in full-width digits
    admin = logged_in(app, who.admin)
    form = {"csrf_token": token(admin, f"/posts/{pid}")}
    # Past the id columns' 32 bits (PostgreSQL refuses to compare), and digits that are not
    # ASCII (werkzeug's converter reads "１" as 1).
    for bad in ("2147483648", "9223372036854775807", "9" * 5000, wide):
        for path in (f"/posts/{bad}", f"/posts/{bad}/diff?a=1&b=1", f"/posts/{bad}/edit"):
            assert admin.get(path).status_code == 404, path
        # A form's refusal is a flashed message and the way back (302), or no such page (404;
        # werkzeug says 405 where the GET rule of the same path was tried first); never an error.
        for path in (f"/posts/{bad}/act", f"/posts/{bad}/schedule", f"/posts/{bad}/edit",
                     f"/jobs/posts/{bad}/retry", f"/jobs/notifications/{bad}/retry",
                     f"/jobs/items/publish/{bad}/redispatch"):
            assert admin.post(path, data=form).status_code in (302, 404, 405), path
    with pytest.raises(NotFound):
        core.service.view(2**31)
    with app.test_request_context():
        link = signer().dumps({"p": 2**31, "r": "0" * 64})
    answer = app.test_client().get(f"/p/{link}")
    assert answer.status_code == 404 and "Traceback" not in answer.get_data(as_text=True)


def test_a_wrong_name_and_a_wrong_password_get_the_same_answer(app: Flask, who: Personas) -> None:
    client = app.test_client()
    said = []
    for person, password in ((who.drafter, "wrong-password-1"), ("nobody", PASSWORD),
                             (who.issuer, PASSWORD)):  # 王敏 has no password yet
        answer = client.post("/login", data={"person": person, "password": password,
                                             "csrf_token": token(client)})
        assert answer.status_code == 401
        said.append(re.search(r'class="flash error">([^<]+)<', answer.get_data(as_text=True))[1])
    assert said == ["账号或密码不正确。"] * 3


def test_a_form_without_its_csrf_token_is_refused(app: Flask, core: Core, who: Personas) -> None:
    client = app.test_client()
    assert client.post("/login", data={"person": who.drafter, "password": PASSWORD}
                       ).status_code == 400
    pid = laid_out(core, who)
    drafter = logged_in(app, who.drafter)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    refused = drafter.post(f"/posts/{pid}/act", data={"action": "confirm", "revision": h})
    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    assert core.service.view(pid).state.decisions == ()


def test_logins_are_rate_limited(app: Flask, who: Personas) -> None:
    client = app.test_client()
    answers = [client.post("/login", data={"person": who.drafter, "password": "wrong-password-1",
                                           "csrf_token": token(client)}) for _ in range(11)]
    assert [a.status_code for a in answers] == [401] * 10 + [429]
    assert "尝试次数过多" in answers[10].get_data(as_text=True)
    right = client.post("/login", data={"person": who.drafter, "password": PASSWORD,
                                        "csrf_token": token(client)})
    assert right.status_code == 429  # even the right password waits out the limit


def test_the_login_never_redirects_off_site(app: Flask, who: Personas) -> None:
    client = app.test_client()
    # Browsers drop tabs and line breaks in a URL: "/\t/evil.example" is "//evil.example".
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example/", "/"),
                             ("/\\evil.example", "/"), ("/\t/evil.example/", "/"),
                             ("/\n/evil.example", "/"), ("/\r\n//evil.example", "/"),
                             ("/ /evil.example", "/"), ("/\x00/evil.example", "/"),
                             ("/posts/1", "/posts/1"), ("/?status=draft&page=2", "/?status=draft&page=2")):
        answer = client.post("/login", query_string={"next": target}, data={
            "person": who.drafter, "password": PASSWORD, "csrf_token": token(client)})
        assert answer.status_code == 302 and answer.headers["Location"] == expected, target


def test_the_chain_walks_through_the_post_page(app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    drafter = logged_in(app, who.drafter)
    page = drafter.get(f"/posts/{pid}").get_data(as_text=True)
    assert 'value="confirm"' in page and 'value="approve"' not in page
    assert h in page and "太浦河" in page
    done = drafter.post(f"/posts/{pid}/act", data={"action": "confirm", "revision": h,
                                                   "csrf_token": token(drafter, f"/posts/{pid}")},
                        follow_redirects=True)
    assert "已完成" in done.get_data(as_text=True)
    head = logged_in(app, who.head)
    page = head.get(f"/posts/{pid}").get_data(as_text=True)
    assert 'value="approve"' in page
    head.post(f"/posts/{pid}/act", data={"action": "approve", "revision": h,
                                         "csrf_token": token(head, f"/posts/{pid}")})
    steps = [d.step.value for d in core.service.view(pid).state.decisions]
    assert steps == ["drafter_confirm", "dept_head"]
    # Each row names the authenticated person and the face; the layout came from the terminal.
    rows = [(e.actor, e.action, e.detail.get("channel")) for e in core.service.view(pid).timeline]
    assert rows[-2:] == [(who.drafter, "post.confirm", "web"), (who.head, "post.approve", "web")]
    assert rows[1] == (who.operator, "post.new_revision", "cli")
    assert core.service.verify_audit().ok


def test_someone_not_entitled_sees_no_action_and_is_refused_anyway(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    colleague = logged_in(app, who.colleague)
    page = colleague.get(f"/posts/{pid}").get_data(as_text=True)
    assert 'name="action"' not in page
    answer = colleague.post(f"/posts/{pid}/act", data={
        "action": "confirm", "revision": h, "csrf_token": token(colleague, f"/posts/{pid}")},
        follow_redirects=True)
    assert "徐芳无权" in answer.get_data(as_text=True)
    assert core.service.view(pid).post.status is PostStatus.IN_REVIEW
    assert core.service.view(pid).state.decisions == ()


def test_markup_in_a_draft_comes_out_neutralised(app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who, body='<p onclick="alert(1)">点我</p><script>alert(2)</script>'
                   '<a href="javascript:alert(3)">链接</a>', fmt="html")
    page = logged_in(app, who.admin).get(f"/posts/{pid}").get_data(as_text=True)
    assert "点我" in page
    for bad in ("onclick", "<script>alert", "javascript:"):
        assert bad not in page


def test_the_queue_lists_posts_and_switches_language(app: Flask, core: Core,
                                                     who: Personas) -> None:
    pid = laid_out(core, who)
    client = logged_in(app, who.admin)
    page = client.get("/").get_data(as_text=True)
    assert f'href="/posts/{pid}"' in page and "审核中" in page and "应急救援科" in page
    assert "拟稿人确认：李娜" in page  # who it waits on
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    core.service.act(pid, "confirm", who.drafter, revision_hash=h)
    assert "科室负责人审核：张伟" in client.get("/").get_data(as_text=True)
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "in review" in english and "Queue" in english
    assert "in review" in client.get("/").get_data(as_text=True)  # remembered for the session
    assert client.get("/posts/999").status_code == 404


def test_a_password_is_stored_only_as_a_salted_hash(core: Core, who: Personas) -> None:
    core.service.set_password(who.drafter, PASSWORD, by="test")
    core.service.set_password(who.head, PASSWORD, by="test")
    with core.deps.sessions() as s:
        hashes = list(s.scalars(select(m.Account.password_hash)))
    assert len(set(hashes)) == 2 and all(PASSWORD not in h for h in hashes)
    assert core.service.authenticate("李娜", PASSWORD) == who.drafter
    assert core.service.authenticate(who.drafter, PASSWORD + "x") is None
    for weak in ("short", "aaaaaaaaaaaa"):
        with pytest.raises(InvalidInput):
            core.service.set_password(who.drafter, weak, by="test")
    assert core.service.verify_audit().ok


# --- signed preview pages ------------------------------------------------------------------------


def preview_link(app: Flask, pid: int, h: str) -> str:
    from approvals.web.preview import preview_url

    with app.test_request_context():
        return preview_url(pid, h).removeprefix("http://localhost")


def test_a_preview_link_opens_without_a_login_and_shows_revision_and_state(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    link = preview_link(app, pid, h)
    assert len(link.removeprefix("/p/")) > 40  # unguessable: a signature, not an id
    answer = app.test_client().get(link)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "太浦河" in page and h[:12] in page and "审核中" in page
    assert "拟稿：李娜　审核：（待定）　签发：（待定）" in page  # the footer, as it will be published
    console_page = logged_in(app, who.drafter).get(f"/posts/{pid}").get_data(as_text=True)
    assert "/p/" in console_page


def test_a_tampered_an_expired_or_a_superseded_link_gets_a_friendly_page(
        app: Flask, core: Core, who: Personas) -> None:
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from approvals.web.preview import MAX_AGE, SALT

    pid = laid_out(core, who)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    link = preview_link(app, pid, h)
    client = app.test_client()
    tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    for bad in (tampered, "/p/not-a-token", "/p/" + "x" * 300):
        answer = client.get(bad)
        assert answer.status_code == 404 and "预览链接无效" in answer.get_data(as_text=True)

    class Past(TimestampSigner):  # signed a week and a second ago (time: the world's edge)
        def get_timestamp(self) -> int:
            return super().get_timestamp() - MAX_AGE - 1

    old = URLSafeTimedSerializer("k" * 32, salt=SALT, signer=Past).dumps({"p": pid, "r": h})
    answer = client.get(f"/p/{old}")
    assert answer.status_code == 410 and "已过期" in answer.get_data(as_text=True)
    core.service.act(pid, "new_revision", who.operator,
                     revision=RevisionInput(title="我局开展冬季防汛应急演练（修改）"))
    answer = client.get(link)
    assert answer.status_code == 410 and "已被新版本取代" in answer.get_data(as_text=True)
    assert "Traceback" not in answer.get_data(as_text=True)


def test_a_rotated_key_still_opens_the_links_it_signed_until_it_is_dropped(
        core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    before = create_app(core, secret_key="a" * 32, testing=True)
    link = preview_link(before, pid, h)
    rotated = create_app(core, secret_key="b" * 32, previous_keys=("a" * 32,), testing=True)
    assert rotated.test_client().get(link).status_code == 200
    assert preview_link(rotated, pid, h) != link  # new links use the new key
    dropped = create_app(core, secret_key="b" * 32, testing=True)
    assert dropped.test_client().get(link).status_code == 404


# --- the queue: filters, order and pages counted in the database ----------------------------------


def test_the_queue_filters_orders_and_pages(app: Flask, core: Core, who: Personas) -> None:
    from datetime import date

    svc = core.service
    made = [svc.create_post(drafter=d, title=f"{t}第{i}期", body=BODY, formed_on=f)
            for i, (d, t, f) in enumerate([
                (who.drafter, "防汛演练", date(2026, 10, 9)), (who.colleague, "安全检查", date(2026, 12, 1)),
                (who.drafter, "防汛值班", date(2026, 12, 7)), ("guo_qiang", "办公通知", date(2026, 11, 2)),
                (who.drafter, "普法宣传", date(2026, 12, 8))])]
    client = logged_in(app, who.admin)

    def ids(query: str) -> list[int]:
        page = client.get(f"/?{query}").get_data(as_text=True)
        return [int(n) for n in re.findall(r'href="/posts/(\d+)"', page)]

    assert ids("") == made[::-1]
    assert ids("department=jyk") == [made[4], made[2], made[0]]
    assert ids("q=防汛") == [made[2], made[0]]
    assert ids("overdue=1") == [made[3], made[0]]  # due 2026-11-30 and 2026-11-06, today 12-08
    assert ids("sort=due") == [made[0], made[3], made[1], made[2], made[4]]
    assert ids("per_page=2") == [made[4], made[3]]
    assert ids("per_page=2&page=3") == [made[0]]
    second = client.get("/?per_page=2&page=2&department=").get_data(as_text=True)
    assert "2 / 3" in second and "page=1" in second and "page=3" in second
    for bad, said in (("sort=title", "排序“title”无效"), ("status=lost", "状态“lost”无效"),
                      ("department=nope", "没有科室“nope”")):
        page = client.get(f"/?{bad}").get_data(as_text=True)
        assert said in page and ids("") == made[::-1], bad
    assert ids("page=abc") == made[::-1] and ids("page=999") == []


def test_the_queue_search_takes_percent_underscore_and_slash_literally_and_counts_past_the_end(
        app: Flask, core: Core, who: Personas) -> None:
    svc = core.service
    made = [svc.create_post(drafter=who.drafter, title=t, body=BODY)
            for t in ("满意度100%调查", "满意度1000调查", "a_b通知", "axb通知", "a/b通知", "ab通知")]
    client = logged_in(app, who.admin)

    def ids(query: str) -> list[int]:
        page = client.get(f"/?{query}").get_data(as_text=True)
        return [int(n) for n in re.findall(r'href="/posts/(\d+)"', page)]

    assert ids("q=100%25") == [made[0]]
    assert ids("q=a_b") == [made[2]]
    assert ids("q=a/b") == [made[4]]
    # A NUL cut SQLite's pattern short ("通知" then matched) and PostgreSQL refused it.
    assert ids("q=通知%00不存在") == [] and ids("q=%00") == made[::-1]
    assert client.get("/catalogue?q=通知%00不存在").status_code == 200
    assert ids(f"q=通知&drafter={who.drafter}&status=draft&department=jyk") == made[:1:-1]
    past = client.get("/?q=通知&per_page=2&page=9").get_data(as_text=True)
    assert "共 4" in past and "9 / 2" in past


def test_the_org_chart_page_shows_who_stands_in_today_and_only_to_admins(
        app: Flask, who: Personas) -> None:
    page = logged_in(app, who.admin).get("/people").get_data(as_text=True)
    assert "应急救援科" in page and "张伟" in page and "陈刚" in page
    assert "孙丽（2026-12-07–2026-12-18）" in page  # the deputy, today being 2026-12-08
    assert logged_in(app, who.drafter).get("/people").status_code == 403


def test_each_person_sees_what_they_were_told(app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)  # the drafter is asked to confirm
    mine = logged_in(app, who.drafter).get("/inbox").get_data(as_text=True)
    assert f"#{pid}" in mine and "确认" in mine
    theirs = logged_in(app, who.colleague).get("/inbox").get_data(as_text=True)
    assert f"#{pid}" not in theirs


def test_an_admin_schedules_publishing_from_the_post_page(app: Flask, core: Core,
                                                          who: Personas) -> None:
    pid = laid_out(core, who)
    admin = logged_in(app, who.admin)
    page = admin.get(f"/posts/{pid}").get_data(as_text=True)
    assert "签发后立即发布" in page and 'name="at"' in page
    done = admin.post(f"/posts/{pid}/schedule", data={
        "at": "2026-12-09T09:00", "mode": "mass_send",
        "csrf_token": token(admin, f"/posts/{pid}")}, follow_redirects=True)
    assert "计划发布时间：2026-12-09 09:00（群发）" in done.get_data(as_text=True)
    past = admin.post(f"/posts/{pid}/schedule", data={
        "at": "2026-12-01T09:00", "csrf_token": token(admin, f"/posts/{pid}")},
        follow_redirects=True)
    assert "已经过去" in past.get_data(as_text=True)
    junk = admin.post(f"/posts/{pid}/schedule", data={
        "at": "tomorrow", "csrf_token": token(admin, f"/posts/{pid}")}, follow_redirects=True)
    assert "时间“tomorrow”无效" in junk.get_data(as_text=True)
    view = core.service.view(pid)
    assert view.post.publish_mode.value == "mass_send" and view.post.scheduled_at is not None
    drafter = logged_in(app, who.drafter)
    assert 'name="at"' not in drafter.get(f"/posts/{pid}").get_data(as_text=True)
    refused = drafter.post(f"/posts/{pid}/schedule", data={
        "at": "", "csrf_token": token(drafter, f"/posts/{pid}")}, follow_redirects=True)
    assert "无权" in refused.get_data(as_text=True)
    assert core.service.view(pid).post.scheduled_at is not None  # unchanged


def test_two_revisions_are_compared_paragraph_by_paragraph(app: Flask, core: Core,
                                                          who: Personas) -> None:
    pid = laid_out(core, who, body="第一段。\n共有150人参加。\n第三段。")
    core.service.act(pid, "new_revision", who.operator, revision=RevisionInput(
        title="我局开展冬季防汛应急演练（修订）", body="第一段。\n共有160人参加。\n第三段。",
        body_format="text"))
    client = logged_in(app, who.drafter)
    assert f"/posts/{pid}/diff" in client.get(f"/posts/{pid}").get_data(as_text=True)
    page = client.get(f"/posts/{pid}/diff").get_data(as_text=True)
    removed = re.findall(r'class="line removed"><span class="mark">-</span> ([^<]+)<', page)
    added = re.findall(r'class="line added"><span class="mark">\+</span> ([^<]+)<', page)
    assert removed == ["我局开展冬季防汛应急演练", "共有150人参加。"]
    assert added == ["我局开展冬季防汛应急演练（修订）", "共有160人参加。"]
    assert "第一段。" in page and "第三段。" in page  # unchanged lines shown as context
    same = client.get(f"/posts/{pid}/diff?a=2&b=2").get_data(as_text=True)
    assert "两版内容相同" in same
    missing = client.get(f"/posts/{pid}/diff?a=1&b=9")
    assert missing.status_code == 404 and "没有第9版" in missing.get_data(as_text=True)


def test_the_preview_footer_names_the_leader_a_deputy_signed_for(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    for person in (who.drafter, who.head, who.deputy):  # 孙丽 approves for 陈刚 (代签)
        core.service.act(pid, "approve" if person != who.drafter else "confirm", person,
                         revision_hash=h)
    page = app.test_client().get(preview_link(app, pid, h)).get_data(as_text=True)
    assert "拟稿：李娜　审核：陈刚　签发：（待定）" in page  # as it will be published
