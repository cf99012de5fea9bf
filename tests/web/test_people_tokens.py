"""API tokens on the people page: admins issue (shown once) and revoke them; others may not."""

from __future__ import annotations

import re

from flask import Flask

from approvals.bootstrap import Core
from tests.conftest import Personas
from tests.web.test_console import app, logged_in, token  # noqa: F401  (the console fixture)


def test_an_admin_issues_a_token_that_works_once_shown_and_revokes_it(
        app: Flask, core: Core, who: Personas) -> None:  # noqa: F811
    admin = logged_in(app, who.admin)
    page = admin.post("/people/tokens", data={"person": who.drafter, "name": "应急科报送系统",
                                              "csrf_token": token(admin, "/people")})
    assert page.status_code == 200
    shown = re.search(r'<code class="token">(sgf_[^<]+)</code>', page.get_data(as_text=True))
    assert shown, page.get_data(as_text=True)
    secret = shown.group(1)
    assert "sgf_" not in admin.get("/people").get_data(as_text=True).replace(secret[:10], "")
    listed = admin.get("/people").get_data(as_text=True)
    assert "<title>组织架构 · 公众号发布审批</title>" in listed  # the page's sections stay in its body
    assert listed.count('id="tokens"') == 1
    api = app.test_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.get_json()["person"] == who.drafter
    [info] = core.service.tokens(who.drafter)
    assert info.name == "应急科报送系统" and info.created_by == who.admin
    revoked = admin.post(f"/people/tokens/{info.id}/revoke",
                         data={"csrf_token": token(admin, "/people")}, follow_redirects=True)
    assert "令牌已吊销" in revoked.get_data(as_text=True)
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_bad_token_request_is_explained_and_others_may_not_issue(
        app: Flask, core: Core, who: Personas) -> None:  # noqa: F811
    admin = logged_in(app, who.admin)
    bad = admin.post("/people/tokens", data={"person": "nobody", "name": "x",
                                             "csrf_token": token(admin, "/people")})
    assert bad.status_code == 422 and "错误" in bad.get_data(as_text=True)
    empty = admin.post("/people/tokens", data={"person": who.drafter, "name": " ",
                                               "csrf_token": token(admin, "/people")})
    assert empty.status_code == 422 and "令牌名称不能为空" in empty.get_data(as_text=True)
    drafter = logged_in(app, who.drafter)
    csrf = token(drafter, "/")
    assert drafter.post("/people/tokens", data={"person": who.drafter, "name": "mine",
                                                "csrf_token": csrf}).status_code == 403
    assert drafter.post("/people/tokens/1/revoke", data={"csrf_token": csrf}).status_code == 403
    no_csrf = admin.post("/people/tokens", data={"person": who.drafter, "name": "x"})
    assert no_csrf.status_code == 400
    assert core.service.tokens() == []


def test_the_menu_offers_only_the_pages_a_person_may_open(app: Flask, who: Personas) -> None:  # noqa: F811
    drafter = logged_in(app, who.drafter).get("/").get_data(as_text=True)
    admin = logged_in(app, who.admin).get("/").get_data(as_text=True)
    for path in ('href="/people"', 'href="/jobs"'):
        assert path in admin and path not in drafter


def test_an_admin_makes_a_telegram_binding_code_that_links_once_and_is_listed(
        app: Flask, core: Core, who: Personas) -> None:  # noqa: F811
    from approvals.services.chat import TELEGRAM

    admin = logged_in(app, who.admin)
    page = admin.post("/people/bind-code", data={"person": who.colleague,
                                                 "csrf_token": token(admin, "/people")})
    assert page.status_code == 200
    shown = re.search(r'<code class="bind-code">/start ([A-Za-z0-9_-]+)</code>',
                      page.get_data(as_text=True))
    assert shown, page.get_data(as_text=True)
    person = core.service.chat.link_with_code(shown.group(1), service=TELEGRAM, user_id=8802,
                                              chat_id=8802, display="@xufang")
    assert person.key == who.colleague
    listed = admin.get("/people").get_data(as_text=True)
    assert "<code>8802</code> @xufang" in listed and shown.group(1) not in listed
    drafter = logged_in(app, who.drafter)
    assert drafter.post("/people/bind-code", data={"person": who.drafter,
                                                   "csrf_token": token(drafter, "/")}
                        ).status_code == 403
    bad = admin.post("/people/bind-code", data={"person": "nobody",
                                                "csrf_token": token(admin, "/people")})
    assert bad.status_code == 422
