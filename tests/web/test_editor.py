"""The layout editor through Flask's test client, on the real database: who may edit, CSRF, saving
a new revision (the chain restarts), neutralised markup, .docx import, images, a stale save and
field errors."""

from __future__ import annotations

import hashlib
import html
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from approvals.bootstrap import Core
from approvals.rules.errors import StaleRevision
from approvals.rules.states import PostStatus, Step
from approvals.store import models as m
from approvals.views import RevisionInput
from approvals.web import create_app
from tests.conftest import Personas
from tests.unit.test_docx import article_docx
from tests.web.test_console import PASSWORD, laid_out, logged_in, token

XSS = ('<p onclick="steal()">点我</p><script>alert(1)</script>'
       '<a href="javascript:alert(2)">链接</a><img src="/assets/{sha}" onerror="alert(3)">'
       '<p style="width:expression(alert(4));color:red">样式</p>'
       '<p style="color:blue;position:fixed;z-index:999">盖住</p>'
       '<iframe src="https://evil.example/"></iframe><svg onload="alert(5)"></svg>')


@pytest.fixture
def app(core: Core, who: Personas) -> Flask:
    for person in (who.drafter, who.head, who.leader, who.colleague, who.admin, who.operator):
        core.service.set_password(person, PASSWORD, by="test")
    return create_app(core, secret_key="k" * 32, testing=True)


def png(width: int = 60, height: int = 40) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def form_of(page: str) -> dict[str, str]:
    """The editor's fields as the page shows them (what a browser would send back)."""
    fields = {name: html.unescape(value) for name, value in
              re.findall(r'<input type="(?:hidden|text)" name="(\w+)" value="([^"]*)"', page)}
    for name, value in re.findall(r'<textarea name="(\w+)"[^>]*>(.*?)</textarea>', page, re.S):
        fields[name] = html.unescape(value)
    return fields


def open_editor(client: FlaskClient, pid: int) -> dict[str, str]:
    answer = client.get(f"/posts/{pid}/edit")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return form_of(answer.get_data(as_text=True))


def post_editor(client: FlaskClient, pid: int, fields: dict[str, object],
                **kw: object) -> TestResponse:
    return client.post(f"/posts/{pid}/edit", data={**fields, **kw},
                       content_type="multipart/form-data")


def field_error(page: str, name: str) -> str:
    found = re.search(rf'data-field-error="{name}">(.*?)</p>', page, re.S)
    assert found, page
    return html.unescape(found.group(1)).strip()


def test_only_the_operator_and_admins_may_edit(app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    for person in (who.drafter, who.head, who.leader, who.colleague):
        client = logged_in(app, person)
        assert "编辑排版" not in client.get(f"/posts/{pid}").get_data(as_text=True)
        refused = client.get(f"/posts/{pid}/edit")
        assert refused.status_code == 403
        assert "排版由运营方或管理员负责" in refused.get_data(as_text=True)
        csrf = token(client, f"/posts/{pid}")
        for path in (f"/posts/{pid}/edit", f"/posts/{pid}/edit/preview"):
            answer = client.post(path, data={"csrf_token": csrf, "title": "改", "body": "<p>改</p>"})
            assert answer.status_code == 403, path
    assert core.service.view(pid).post.revision_number == 1
    for person in (who.operator, who.admin):
        client = logged_in(app, person)
        page = client.get(f"/posts/{pid}").get_data(as_text=True)
        assert f'href="/posts/{pid}/edit"' in page and "编辑排版" in page
        fields = open_editor(client, pid)
        assert fields["title"] == "我局开展冬季防汛应急演练" and "太浦河" in fields["body"]
        assert fields["based_on"] == core.service.view(pid).revision.content_hash  # type: ignore[union-attr]


def test_a_form_without_its_csrf_token_is_refused(app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    del fields["csrf_token"]
    answer = post_editor(operator, pid, {**fields, "body": "<p>新正文</p>"})
    assert answer.status_code == 400 and "页面已过期" in answer.get_data(as_text=True)
    assert core.service.view(pid).post.revision_number == 1


def test_saving_makes_a_new_revision_and_restarts_the_chain(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    old = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    core.service.act(pid, "confirm", who.drafter, revision_hash=old)
    core.service.act(pid, "approve", who.head, revision_hash=old)
    assert len(core.service.view(pid).state.decisions) == 2
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    saved = post_editor(operator, pid, {**fields, "body": fields["body"] + "<p>补充一段。</p>",
                                        "digest": "冬季演练", "comment": "补充"})
    assert saved.status_code == 302 and saved.headers["Location"] == f"/posts/{pid}"
    view = core.service.view(pid)
    assert view.post.revision_number == 2 and view.post.status is PostStatus.IN_REVIEW
    assert view.state.decisions == ()  # the approvals of revision 1 no longer count
    assert view.step is Step.DRAFTER_CONFIRM
    rev = view.state.revision
    assert rev is not None and rev.content.body_html.endswith("<p>补充一段。</p>")
    assert rev.content.digest == "冬季演练" and rev.made_by == who.operator
    with pytest.raises(StaleRevision):
        core.service.act(pid, "approve", who.leader, revision_hash=old)
    last = view.timeline[-1]
    assert (last.actor, last.action, last.detail["channel"]) == (who.operator,
                                                                "post.new_revision", "web")
    assert core.service.verify_audit().ok


def test_markup_that_could_run_comes_out_neutralised(app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    uploaded = post_editor(operator, pid, {**fields, "op": "image",
                                           "image": (io.BytesIO(png()), "a.png")})
    assert uploaded.status_code == 200
    payload = XSS.format(sha=hashlib.sha256(png()).hexdigest())
    preview = operator.post(f"/posts/{pid}/edit/preview", data={**fields, "body": payload})
    assert preview.status_code == 200
    shown = preview.get_json()["html"]
    saved = post_editor(operator, pid, {**fields, "body": payload})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    stored = core.service.view(pid).state.revision.content.body_html  # type: ignore[union-attr]
    for out in (stored, shown):
        lowered = out.lower()
        for bad in ("<script", "onclick", "onerror", "onload", "javascript:", "expression",
                    "<iframe", "<svg", "position", "z-index"):
            assert bad not in lowered, (bad, out)
        assert "点我" in out and 'style="color:blue"' in out
    page = operator.get(f"/posts/{pid}").get_data(as_text=True)
    assert "alert(" not in page


def test_a_draft_without_a_layout_opens_on_its_material(
        app: Flask, core: Core, who: Personas) -> None:
    pid = core.service.create_post(drafter=who.drafter, title="冬季防火提示",
                                   body="第一段\n第二段 <b>不是标记</b>")
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    assert fields["based_on"] == "" and fields["author"] == "苏州市吴江区应急管理局"
    assert fields["body"] == "<p>第一段</p><p>第二段 &lt;b&gt;不是标记&lt;/b&gt;</p>"
    assert post_editor(operator, pid, fields).status_code == 302
    assert core.service.view(pid).post.revision_number == 1


def test_a_stale_save_is_refused_and_the_text_kept(app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    # Meanwhile the admin lays out revision 2 from the terminal.
    core.service.act(pid, "new_revision", who.admin, revision=RevisionInput(body="<p>管理员版</p>"))
    mine = "<p>我改了好久的正文，不能丢。</p>"
    answer = post_editor(operator, pid, {**fields, "body": mine, "title": "我的新标题"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409
    assert "已有新版本（第2版" in page and "赵雪" in page and "您的修改仍在下方" in page
    assert form_of(page)["body"] == mine and form_of(page)["title"] == "我的新标题"
    rev = core.service.view(pid).state.revision
    assert rev is not None and rev.number == 2 and rev.content.body_html == "<p>管理员版</p>"


def test_an_over_long_title_is_refused_next_to_its_field(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    title = "关于" + "冬季防汛" * 10
    answer = post_editor(operator, pid, {**fields, "title": title, "digest": "<b>摘要</b>"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert field_error(page, "title") == f"标题 {len(title)} 字，公众号最多 32 字"
    assert "HTML 标记" in field_error(page, "digest") and field_error(page, "body") == ""
    assert form_of(page)["title"] == title  # kept as typed
    assert core.service.view(pid).post.revision_number == 1
    operator.get("/?lang=en")  # the person switches the console to English
    page = post_editor(operator, pid, {**fields, "title": title}).get_data(as_text=True)
    assert field_error(page, "title") == f"the title has {len(title)} characters; WeChat allows 32"
    live = operator.post(f"/posts/{pid}/edit/preview", data={**fields, "title": title}).get_json()
    assert live["problems"] == {"title": [f"the title has {len(title)} characters; WeChat allows 32"]}


def test_the_preview_shows_the_article_with_the_footer_the_new_revision_gets(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    h = core.service.view(pid).revision.content_hash  # type: ignore[union-attr]
    for person in (who.drafter, who.head):
        core.service.act(pid, "approve" if person == who.head else "confirm", person,
                         revision_hash=h)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    live = operator.post(f"/posts/{pid}/edit/preview",
                         data={**fields, "title": "新标题", "body": "<h2>小标题</h2><p>新正文</p>"})
    shown = live.get_json()
    assert live.status_code == 200 and shown["problems"] == {}
    doc = shown["html"]
    assert "preview.css" in doc and "<h1>新标题</h1>" in doc and "<h2>小标题</h2><p>新正文</p>" in doc
    assert "拟稿：李娜　审核：（待定）　签发：（待定）" in doc
    page = operator.get(f"/posts/{pid}/edit").get_data(as_text=True)
    assert 'id="preview-frame"' in page and "editor.js" in page
    assert html.escape("拟稿：李娜", quote=True) in page  # the frame's first content
    with operator.get("/static/editor.js") as script:
        assert script.status_code == 200 and b"/edit/preview" not in script.data  # from the form
        assert b"data-preview-url" in script.data and b"srcdoc" in script.data


def test_a_docx_is_imported_into_the_body_with_its_images(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    answer = post_editor(operator, pid, {**fields, "title": "改过的标题", "op": "import",
                                         "docx": (io.BytesIO(article_docx(png())), "演练.docx")})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "已导入 Word 文档" in page
    body = form_of(page)["body"]
    assert "<h1>我局开展冬季防汛应急演练</h1>" in body and "<strong>150 人</strong>" in body
    assert "<table>" in body and "<li>转移群众</li>" in body
    sha = re.search(r'<img src="/assets/([0-9a-f]{64})"', body).group(1)  # type: ignore[union-attr]
    assert form_of(page)["title"] == "改过的标题"  # the rest of the form is kept
    assert core.service.view(pid).post.revision_number == 1  # imported, not saved
    image = operator.get(f"/assets/{sha}")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == png()
    saved = post_editor(operator, pid, form_of(page))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    rev = core.service.view(pid).state.revision
    assert rev is not None and rev.number == 2 and f"/assets/{sha}" in rev.content.body_html


def test_a_file_that_is_not_a_docx_is_refused_and_the_body_kept(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    mine = "<p>我自己的正文</p>"
    answer = post_editor(operator, pid, {**fields, "body": mine, "op": "import",
                                         "docx": (io.BytesIO(b"%PDF-1.7\n1 0 obj"), "通知.docx")})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "是 PDF 文件" in field_error(page, "docx")
    assert form_of(page)["body"] == mine
    nothing = post_editor(operator, pid, {**fields, "op": "import"})
    assert "请先选择一个 .docx 文件" in field_error(nothing.get_data(as_text=True), "docx")


def test_an_image_is_uploaded_and_inserted_where_the_cursor_was(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    body = "<p>第一段</p><p>第二段</p>"
    answer = post_editor(operator, pid, {**fields, "body": body, "op": "image",
                                         "caret": str(len("<p>第一段</p>")),
                                         "image": (io.BytesIO(png()), "现场.png")})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "图片已上传并插入正文" in page
    sha = hashlib.sha256(png()).hexdigest()
    assert form_of(page)["body"] == f'<p>第一段</p><p><img src="/assets/{sha}" alt=""></p><p>第二段</p>'
    with core.service.deps.sessions() as s:
        stored = s.get(m.Asset, sha)
        assert stored is not None and stored.filename == "现场.png" and stored.mime == "image/png"
    saved = post_editor(operator, pid, form_of(page))
    assert saved.status_code == 302
    assert f"/assets/{sha}" in core.service.view(pid).state.revision.content.body_html  # type: ignore[union-attr]


def test_a_caret_past_any_body_puts_the_image_at_the_end_and_an_unknown_op_saves_nothing(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    for caret in ("9" * 5000, "99999999999", "-1", "１"):  # past Python's int digits, too
        answer = post_editor(operator, pid, {**fields, "body": "<p>一段</p>", "op": "image",
                                             "caret": caret, "image": (io.BytesIO(png()), "a.png")})
        assert answer.status_code == 200, caret
        assert form_of(answer.get_data(as_text=True))["body"].startswith("<p>一段</p><p><img"), caret
    before = core.service.view(pid).state.revision.number  # type: ignore[union-attr]
    answer = post_editor(operator, pid, {**fields, "op": "delete"})
    assert answer.status_code == 400 and "操作无效" in answer.get_data(as_text=True)
    assert core.service.view(pid).state.revision.number == before  # type: ignore[union-attr]


def test_a_fake_image_and_an_outside_image_are_refused(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    fake = post_editor(operator, pid, {**fields, "op": "image",
                                       "image": (io.BytesIO(b"\x89PNG\r\n\x1a\n not really"), "x.png")})
    page = fake.get_data(as_text=True)
    assert fake.status_code == 400 and "已损坏或不完整" in field_error(page, "image")
    assert form_of(page)["body"] == fields["body"]
    text = post_editor(operator, pid, {**fields, "op": "image",
                                       "image": (io.BytesIO(b"just text"), "y.png")})
    assert "须为 JPG 或 PNG" in field_error(text.get_data(as_text=True), "image")
    with core.service.deps.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.Asset)) == 0
    outside = post_editor(operator, pid, {**fields, "body": '<p><img src="https://evil.example/a.png"></p>'})
    assert outside.status_code == 400
    assert "外部图片" in field_error(outside.get_data(as_text=True), "body")
    assert core.service.view(pid).post.revision_number == 1
    assert operator.get(f"/assets/{'0' * 64}").status_code == 404
    assert operator.get("/assets/not-a-hash").status_code == 404


def test_a_cover_is_uploaded_with_the_save_and_a_bad_one_refused(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    bad = post_editor(operator, pid, {**fields, "body": "<p>新</p>",
                                      "cover": (io.BytesIO(b"GIF89a broken"), "封面.gif")})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "封面“封面.gif”已损坏" in field_error(page, "cover")
    assert form_of(page)["body"] == "<p>新</p>" and core.service.view(pid).post.revision_number == 1
    cover = png(900, 500)
    good = post_editor(operator, pid, {**fields, "body": "<p>新</p>",
                                       "cover": (io.BytesIO(cover), "封面.png")})
    assert good.status_code == 302, good.get_data(as_text=True)
    rev = core.service.view(pid).state.revision
    assert rev is not None and rev.content.cover_sha256 == hashlib.sha256(cover).hexdigest()


def test_an_upload_over_the_request_limit_gets_a_message_not_a_crash(
        app: Flask, core: Core, who: Personas) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 50_000  # the 16 MB limit, scaled down
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    answer = post_editor(operator, pid, {**fields, "op": "image",
                                         "image": (io.BytesIO(b"\0" * 60_000), "big.png")})
    assert answer.status_code == 413 and "上传内容过大" in answer.get_data(as_text=True)
    assert core.service.view(pid).post.revision_number == 1


def test_an_empty_or_control_character_body_is_refused_next_to_the_body(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    for body, said in (("<script>only a script</script>", "正文为空"),
                       ("<p>第一段\x07</p>", "控制字符（U+0007）")):
        answer = post_editor(operator, pid, {**fields, "body": body})
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400 and said in field_error(page, "body")
        assert form_of(page)["body"] == body
    assert core.service.view(pid).post.revision_number == 1


def test_the_signed_preview_link_shows_the_revisions_images_without_a_login(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    page = post_editor(operator, pid, {**fields, "op": "image",
                                       "image": (io.BytesIO(png()), "a.png")}).get_data(as_text=True)
    assert post_editor(operator, pid, form_of(page)).status_code == 302
    link = re.search(r'href="(http://localhost/p/[^"]+)"',
                     operator.get(f"/posts/{pid}").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    reader = app.test_client()  # no login: a drafter opening the link from a chat
    article = reader.get(link).get_data(as_text=True)
    src = re.search(r'<img src="(/p/[^"]+/assets/([0-9a-f]{64}))"', article)
    assert src is not None and src.group(2) == hashlib.sha256(png()).hexdigest()
    image = reader.get(src.group(1))
    assert image.status_code == 200 and image.data == png() and image.mimetype == "image/png"
    assert reader.get(f"/assets/{src.group(2)}").status_code == 302  # the console's: log in
    token = link.rsplit("/", 1)[1]
    other = hashlib.sha256(b"another asset").hexdigest()
    assert reader.get(f"/p/{token}/assets/{other}").status_code == 404  # only its own images
    assert reader.get(f"/p/{token}x/assets/{src.group(2)}").status_code == 404  # tampered


def test_a_save_after_the_post_was_signed_meanwhile_keeps_the_text(
        app: Flask, core: Core, who: Personas) -> None:
    pid = laid_out(core, who)
    operator = logged_in(app, who.operator)
    fields = open_editor(operator, pid)
    h = fields["based_on"]
    for action, person in (("confirm", who.drafter), ("approve", who.head),
                           ("approve", who.leader), ("sign", who.issuer)):
        core.service.act(pid, action, person, revision_hash=h)
    assert core.service.view(pid).post.status is PostStatus.SIGNED
    mine = "<p>签发后才改完的正文。</p>"
    answer = post_editor(operator, pid, {**fields, "body": mine})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "您现在不能修改本稿的排版" in page and "您的修改仍在下方" in page
    assert form_of(page)["body"] == mine
    assert core.service.view(pid).post.revision_number == 1
    assert operator.get(f"/posts/{pid}/edit").status_code == 403
    live = operator.post(f"/posts/{pid}/edit/preview", data={**fields, "body": mine})
    assert live.status_code == 409 and "html" not in live.get_json()
    assert live.get_json()["error"]  # the script shows the reason above the preview
