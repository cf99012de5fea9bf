"""The console in a real browser: the operator edits a layout with its live preview; a department
head logs in, finds the post in the queue, reads its preview on a phone, approves it and sees the
timeline row; the page switches to English.

Each step leaves a screenshot under test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from approvals.bootstrap import Core
from approvals.views import RevisionInput
from tests.browser.conftest import PASSWORD, PHONE, log_in
from tests.conftest import Personas

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip("playwright.sync_api",
                             reason="Playwright is not installed (pip install '.[test]')").expect

TITLE = "我局开展冬季防汛防台应急演练"
BODY = ("12月7日，区应急管理局在太浦河沿线组织开展冬季防汛防台应急演练，共有150人参加。\n"
        "演练方案全文见 https://yjglj.wujiang.gov.cn/xxgk/zfxxgkml/yjjy/202612/"
        "t20261207_fangxunfangtaiyingjiyanlianfangan_quanwen.html\n"
        "演练检验了预案的可操作性，提高了各方协同处置能力。")


def confirmed(core: Core, who: Personas) -> tuple[int, str]:
    """李娜's post, laid out by 何静 and confirmed by 李娜: it waits for 张伟 (department head)."""
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title=TITLE, body=BODY, category="publicity")
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    return pid, h


def shot(page: Page, folder: Path, name: str) -> None:
    """A full-page screenshot, named for the step it shows."""
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def test_a_head_approves_a_post_in_the_browser_and_sees_it_on_the_timeline(
        console: str, core: Core, who: Personas, desktop: BrowserContext, phone: BrowserContext,
        screenshots: Path) -> None:
    pid, h = confirmed(core, who)
    page = desktop.new_page()
    log_in(page, console, who.head)

    # The queue (zh-CN): the post, its status and whom it waits on.
    row = page.locator("table.queue tbody tr", has_text=TITLE)
    expect(row).to_contain_text("审核中")
    expect(row).to_contain_text("科室负责人审核：张伟")
    shot(page, screenshots, "01-queue-zh")

    # The post's page: the laid-out revision, its hash, and the one action 张伟 may take here.
    row.get_by_role("link", name=TITLE).click()
    page.wait_for_url(f"{console}/posts/{pid}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    expect(page.locator("code").first).to_have_text(h[:12])
    expect(page.locator("form.act button")).to_have_text(["审核同意", "退回修改", "否决"])
    assert page.locator("article.preview").evaluate("a => a.scrollWidth <= a.clientWidth"), \
        "the long link in the body runs out of the article's box"
    shot(page, screenshots, "02-post-zh")

    # The signed preview link opens (in a new tab) without a login...
    with page.expect_popup() as opened:
        page.get_by_role("link", name="打开手机预览").click()
    popup = opened.value
    popup.wait_for_load_state()
    expect(popup.locator(".banner")).to_contain_text(h[:12])
    link = popup.url
    popup.close()
    assert re.fullmatch(rf"{re.escape(console)}/p/[\w.-]{{40,}}", link)

    # ...and on a phone the article fits the screen: no sideways scrolling, footer included.
    mobile = phone.new_page()
    mobile.goto(link)
    expect(mobile.locator(".banner")).to_contain_text("审核中")
    expect(mobile.locator("article.rich h1")).to_have_text(TITLE)
    expect(mobile.locator("article.rich")).to_contain_text("拟稿：李娜")  # art. 28 footer
    width = mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], f"the preview is {width}px wide on a 390px phone"  # type: ignore[index]
    shot(mobile, screenshots, "03-preview-phone")

    # Approve with a comment: the outcome is said and the timeline gains the row.
    timeline = page.locator("ol.timeline li")
    rows_before = timeline.count()
    page.get_by_label("意见").fill("同意，请分管领导审核")
    page.get_by_role("button", name="审核同意").click()
    expect(page.locator(".flash.ok")).to_contain_text("已完成")
    expect(timeline).to_have_count(rows_before + 1)
    expect(timeline.last).to_contain_text("张伟  审核同意（科室负责人审核）")
    expect(timeline.last).to_contain_text("意见：同意，请分管领导审核")
    expect(page.locator("p.meta").first).to_contain_text("分管领导审核")
    expect(page.locator("form.act")).to_have_count(0)  # nothing more for 张伟 to do
    shot(page, screenshots, "04-approved-timeline-zh")

    state = core.service.view(pid)
    assert [d.step.value for d in state.state.decisions] == ["drafter_confirm", "dept_head"]
    assert all(d.revision_hash == h for d in state.state.decisions)
    last = state.timeline[-1]
    assert (last.actor, last.action, last.detail.get("channel")) == (who.head, "post.approve", "web")

    # English, for the rest of the session.
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(timeline.last).to_contain_text("approve (department head)")
    expect(page.locator("p.meta").first).to_contain_text("Step: supervising leader (reviewer) (陈刚)")
    shot(page, screenshots, "05-post-en")
    page.get_by_role("link", name="Queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Queue")
    row = page.locator("table.queue tbody tr", has_text=TITLE)
    expect(row).to_contain_text("in review")
    expect(row).to_contain_text("supervising leader (reviewer): 陈刚")
    shot(page, screenshots, "06-queue-en")


def test_approving_a_page_whose_revision_was_replaced_is_refused_and_says_why(
        console: str, core: Core, who: Personas, desktop: BrowserContext,
        screenshots: Path) -> None:
    pid, old = confirmed(core, who)
    page = desktop.new_page()
    log_in(page, console, who.head)
    page.goto(f"{console}/posts/{pid}")
    expect(page.get_by_role("button", name="审核同意")).to_be_visible()

    # While the page is open, the operator lays out a corrected revision.
    core.service.act(pid, "new_revision", who.operator,
                     revision=RevisionInput(body=BODY.replace("150人", "160人"), body_format="text"))
    page.get_by_role("button", name="审核同意").click()
    expect(page.locator(".flash.error")).to_contain_text("您看到的是旧版本")
    expect(page.locator("article.preview")).to_contain_text("160人")  # the page now shows it
    expect(page.get_by_role("button", name="审核同意")).to_have_count(0)  # the drafter confirms first
    shot(page, screenshots, "07-stale-revision-refused-zh")
    view = core.service.view(pid)
    assert view.state.decisions == () and view.revision.content_hash != old  # type: ignore[union-attr]


def test_a_wrong_password_is_said_in_chinese_and_the_right_one_leads_back_to_the_post(
        console: str, core: Core, who: Personas, desktop: BrowserContext,
        screenshots: Path) -> None:
    pid, _ = confirmed(core, who)
    page = desktop.new_page()
    page.goto(f"{console}/posts/{pid}")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    page.get_by_label("账号（拼音或姓名）").fill("张伟")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".flash.error")).to_have_text("账号或密码不正确。")
    shot(page, screenshots, "00-login-refused-zh")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{console}/posts/{pid}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)


def test_the_operator_edits_a_layout_with_its_live_preview_and_saves_a_new_revision(
        console: str, core: Core, who: Personas, desktop: BrowserContext,
        screenshots: Path) -> None:
    pid, first = confirmed(core, who)
    page = desktop.new_page()
    log_in(page, console, who.operator)
    page.locator("table.queue tbody tr", has_text=TITLE).get_by_role("link", name=TITLE).click()
    page.get_by_role("link", name="编辑排版").click()
    page.wait_for_url(f"{console}/posts/{pid}/edit")
    expect(page.locator("p.meta")).to_contain_text("基于第 1 版")

    # The live preview follows the typing (the page's script asks the server after a pause)...
    body = page.get_by_label("正文（HTML）")
    body.fill(body.input_value().replace("150人", "160人"))
    frame = page.frame_locator("#preview-frame")
    expect(frame.locator("body")).to_contain_text("160人")
    expect(frame.locator("body")).to_contain_text("拟稿：李娜")  # the art. 28 footer
    # ...and says at once what saving would refuse: markup in a title WeChat shows as typed.
    title = page.locator('input[name="title"]')
    title.fill(TITLE + "<b>（更正）</b>")
    expect(page.locator('[data-field-error="title"]')).not_to_be_empty()
    title.fill(TITLE)
    expect(page.locator('[data-field-error="title"]')).to_be_empty()
    page.get_by_label("修改说明（可选）").fill("参演人数更正为160人")
    shot(page, screenshots, "08-editor-live-preview-zh")

    page.get_by_role("button", name=re.compile("保存为新版本")).click()
    page.wait_for_url(f"{console}/posts/{pid}")
    expect(page.locator(".flash.ok")).to_contain_text("已完成")
    expect(page.locator("article.preview")).to_contain_text("160人")
    last = page.locator("ol.timeline li").last
    expect(last).to_contain_text("何静  提交排版稿  ·  第2版")
    expect(last).to_contain_text("意见：参演人数更正为160人")
    shot(page, screenshots, "09-new-revision-zh")

    view = core.service.view(pid)
    assert view.revision is not None and view.revision.number == 2
    assert view.revision.content_hash != first and view.revision.made_by == who.operator
    assert "160人" in view.state.revision.content.body_html  # type: ignore[union-attr]
    assert view.state.decisions == ()  # the new revision restarts the chain (art. 27)
    row = view.timeline[-1]
    assert (row.actor, row.action, row.detail.get("channel")) == (
        who.operator, "post.new_revision", "web")
