"""One-time invite links: a person sets their own password once, within three days."""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from approvals.bootstrap import Core
from approvals.web.invite import SALT, invite_token
from tests.conftest import Personas
from tests.web.test_console import PASSWORD, app, logged_in, token  # noqa: F401

KEY = "k" * 32
NEW = "a-brand-new-password-1"


def link(core: Core, person: str) -> str:
    return "/invite/" + invite_token(KEY, person, core.service.account_fingerprint(person))


def test_an_invite_sets_a_password_once(app: Flask, core: Core, who: Personas) -> None:  # noqa: F811
    url = link(core, who.issuer)  # 王敏 has no password yet
    client = app.test_client()
    page = client.get(url)
    assert page.status_code == 200 and "王敏" in page.get_data(as_text=True)
    differ = client.post(url, data={"password": NEW, "again": NEW + "x",
                                    "csrf_token": token(client, url)})
    assert differ.status_code == 422 and "两次输入的密码不一致" in differ.get_data(as_text=True)
    weak = client.post(url, data={"password": "short", "again": "short",
                                  "csrf_token": token(client, url)})
    assert weak.status_code == 422 and "至少 10 个字符" in weak.get_data(as_text=True)
    assert core.service.authenticate(who.issuer, NEW) is None
    done = client.post(url, data={"password": NEW, "again": NEW, "csrf_token": token(client, url)})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert core.service.authenticate(who.issuer, NEW) == who.issuer
    again = app.test_client().get(url)
    assert again.status_code == 410 and "已使用过" in again.get_data(as_text=True)


def test_an_invite_made_before_a_password_change_is_spent(app: Flask, core: Core,  # noqa: F811
                                                         who: Personas) -> None:
    url = link(core, who.drafter)  # 李娜 has a password already (the fixture's)
    assert app.test_client().get(url).status_code == 200
    core.service.set_password(who.drafter, "yet-another-password-2", by=who.admin)
    assert app.test_client().get(url).status_code == 410


def test_a_tampered_expired_or_foreign_invite_is_refused(
        app: Flask, core: Core, who: Personas, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    good = link(core, who.issuer)
    client = app.test_client()
    tampered = client.get(good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))
    assert tampered.status_code == 410 and "邀请链接无效" in tampered.get_data(as_text=True)
    foreign = "/invite/" + invite_token("another-key-" + "x" * 20, who.issuer, "")
    assert client.get(foreign).status_code == 410
    # Signed four days ago (the clock of the signer that writes the token's time).
    monkeypatch.setattr(TimestampSigner, "get_timestamp",
                        lambda self: int(time.time()) - 4 * 24 * 3600)
    stale = URLSafeTimedSerializer(KEY, salt=SALT).dumps({"p": who.issuer, "f": ""})
    monkeypatch.undo()
    expired = client.get("/invite/" + stale)
    assert expired.status_code == 410 and "已过期" in expired.get_data(as_text=True)


def test_an_admin_makes_an_invite_on_the_people_page(app: Flask, core: Core,  # noqa: F811
                                                    who: Personas) -> None:
    admin = logged_in(app, who.admin)
    page = admin.post("/people/invite", data={"person": who.issuer,
                                              "csrf_token": token(admin, "/people")})
    found = re.search(r'<code class="invite">http://localhost(/invite/[^<]+)</code>',
                      page.get_data(as_text=True))
    assert page.status_code == 200 and found, page.get_data(as_text=True)
    assert "王敏" in app.test_client().get(found.group(1)).get_data(as_text=True)
    drafter = logged_in(app, who.drafter)
    assert drafter.post("/people/invite", data={"person": who.drafter,
                                                "csrf_token": token(drafter, "/")}
                        ).status_code == 403
