"""The bot driven as people use it: personas type and press buttons on the Telegram simulator,
aiogram's real Bot and Dispatcher poll it over HTTP, and the chain's notifications reach each
next person through the outbox and the real Telegram channel."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from docx import Document
from pydantic import SecretStr

from approvals.rules.states import PostStatus
from approvals.services.chat import TELEGRAM
from approvals.views import RevisionInput
from tests.bot.conftest import WAIT, World
from tests.conftest import Personas

BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


def laid_out(w: World, who: Personas, title: str = "我局开展冬季防汛应急演练") -> tuple[int, str]:
    svc = w.core.service
    pid = svc.create_post(drafter=who.drafter, title=title, body=BODY)
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
    return pid, svc.view(pid).revision.content_hash  # type: ignore[union-attr]


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def card(w: World, person: str, pid: int) -> dict[str, Any]:
    """The newest message to `person` about post `pid` that has buttons."""
    w.delivery.settle()
    found = w.control.wait_text(w.ids[person], f"#{pid}", timeout=30)
    cards = [m for m in w.messages(person) if f"#{pid}" in m["text"] and buttons(m)]
    return cards[-1] if cards else found


def press(w: World, person: str, message: dict[str, Any], label: str,
          by: str | None = None) -> dict[str, Any]:
    """`by` (default: the chat's owner) presses the button labelled `label`; returns the query
    with the bot's answer."""
    update = w.control.press(w.ids[person], message["message_id"], text=label,
                             user_id=w.ids[by] if by else None)
    return w.control.wait_answer(update["callback_query"]["id"], timeout=30)


def started(w: World) -> World:
    w.start_bot()
    for person in w.ids:  # each persona's /start is answered before the test begins
        w.wait_text(person, "/help")
    return w


def as_in_production(w: World, redis_url: str) -> World:
    """The world with a bot that keeps conversations in Redis and takes updates as concurrent
    tasks, as `signoff bot` does; each persona's /start answered."""
    from aiogram.fsm.storage.redis import RedisStorage

    from signoff.chatrun import BotThread

    w.storage = RedisStorage.from_url(redis_url)
    w.bots.append(BotThread(w.core, w.settings, w.storage).start())
    for person in w.ids:
        w.wait_text(person, "/help")
    return w


def newest(w: World, person: str, fragment: str, after: int) -> dict[str, Any]:
    """The newest of the bot's messages to `person` showing `fragment`, once there are more
    than `after` of them."""
    deadline = time.monotonic() + WAIT
    while True:
        found = [m for m in w.messages(person) if fragment in m["text"]]
        if len(found) > after:
            return found[-1]
        assert time.monotonic() < deadline, f"no new message with {fragment!r}"
        time.sleep(0.02)


def to_title(w: World, who: Personas, category: str = "工作宣传") -> int:
    """The drafter's /new and category, up to the question for the title; her chat's id."""
    me = w.ids[who.drafter]
    asked = [len([m for m in w.messages(who.drafter) if q in m["text"]]) for q in ("类别", "请输入标题")]
    w.say(who.drafter, "/new")
    w.control.press(me, newest(w, who.drafter, "类别", asked[0])["message_id"], text=category)
    newest(w, who.drafter, "请输入标题", asked[1])
    return me


def to_pictures(w: World, who: Personas, title: str) -> dict[str, Any]:
    """The drafter's /new, up to the question for pictures (returned)."""
    asked = [len([m for m in w.messages(who.drafter) if q in m["text"]])
             for q in ("请发送正文", "第一张作封面")]
    to_title(w, who)
    w.say(who.drafter, title)
    newest(w, who.drafter, "请发送正文", asked[0])
    w.say(who.drafter, BODY)
    return newest(w, who.drafter, "第一张作封面", asked[1])


def test_a_full_chain_by_button_presses(world: World, who: Personas) -> None:
    w = started(world)
    pid, h = laid_out(w, who)
    steps = [(who.drafter, "确认"), (who.head, "同意"), (who.leader, "同意"), (who.issuer, "签发")]
    for person, label in steps:
        message = card(w, person, pid)
        assert label in buttons(message), (person, message)
        assert "https://console.example.gov.cn/p/" in message["text"]  # the signed preview
        answer = press(w, person, message, label)
        assert answer["answer"]["text"].startswith("已"), answer
        edited = w.control.wait_text(w.ids[person], "——")
        assert edited["message_id"] == message["message_id"] and not buttons(edited)
        assert w.core.org.people[person].name in edited["text"]
    view = w.core.service.view(pid)
    assert view.post.status is PostStatus.SIGNED
    decided = [e for e in view.timeline if e.action in ("post.confirm", "post.approve", "post.sign")]
    assert [e.detail["channel"] for e in decided] == ["chat"] * 4
    assert {e.detail["revision_hash"] for e in decided} == {h}


def test_a_second_tap_on_a_decided_step_says_so_and_changes_nothing(
        world: World, who: Personas) -> None:
    w = started(world)
    pid, _ = laid_out(w, who)
    message = card(w, who.drafter, pid)
    update = w.control.press(w.ids[who.drafter], message["message_id"], text="确认")
    first = w.control.wait_answer(update["callback_query"]["id"], timeout=30)
    # The same button again, as a client that still shows it would send it.
    data = update["callback_query"]["data"]
    again = w.control.press_forged(w.ids[who.drafter], message["message_id"], data)
    second = w.control.wait_answer(again["callback_query"]["id"], timeout=30)
    assert first["answer"]["text"].startswith("已确认")
    assert "已有决定" in second["answer"]["text"]
    confirms = [e for e in w.core.service.view(pid).timeline if e.action == "post.confirm"]
    assert len(confirms) == 1


def test_a_button_no_version_reads_is_answered_and_does_nothing(world: World,
                                                                who: Personas) -> None:
    w = started(world)
    pid, h = laid_out(w, who)
    message = card(w, who.drafter, pid)
    for data in (f"d0:{pid}:{h[:16]}:c", f"d2:{pid}:{h[:16]}:c", "d1", f"d1:{pid}",
                 f"d1:{pid}:{h[:16]}", "h1", "", "x" * 64):
        forged = w.control.press_forged(w.ids[who.drafter], message["message_id"], data)
        answer = w.control.wait_answer(forged["callback_query"]["id"], timeout=30)["answer"]
        assert "按钮已失效" in answer["text"], (data, answer)
    assert w.core.service.view(pid).post.status == PostStatus.IN_REVIEW
    assert not [e for e in w.core.service.view(pid).timeline if e.action == "post.confirm"]


def test_a_button_of_a_replaced_revision_points_at_the_current_one(
        world: World, who: Personas) -> None:
    w = started(world)
    pid, old = laid_out(w, who)
    message = card(w, who.drafter, pid)
    w.core.service.act(pid, "new_revision", who.operator,
                       revision=RevisionInput(title="我局开展冬季防汛防台应急演练", based_on=old))
    answer = press(w, who.drafter, message, "确认")
    assert "已被新版本取代" in answer["answer"]["text"]
    view = w.core.service.view(pid)
    assert view.state.decisions == () and view.revision.content_hash != old  # type: ignore[union-attr]
    fresh = card(w, who.drafter, pid)
    assert fresh["message_id"] != message["message_id"] and "确认" in buttons(fresh)


def test_an_outsider_pressing_a_forwarded_button_decides_nothing(
        world: World, who: Personas) -> None:
    w = started(world)
    pid, _ = laid_out(w, who)
    message = card(w, who.drafter, pid)
    for outsider in (who.colleague, who.head):  # staff of another department; not yet their step
        answer = press(w, who.drafter, message, "确认", by=outsider)
        assert "不能" in answer["answer"]["text"], answer
    stranger = 424242
    w.control.add_user(stranger, "Mallory")
    update = w.control.press(w.ids[who.drafter], message["message_id"], text="确认", user_id=stranger)
    answer = w.control.wait_answer(update["callback_query"]["id"], timeout=30)
    assert "尚未绑定" in answer["answer"]["text"]
    assert w.core.service.view(pid).state.decisions == ()


def test_a_stranger_gets_one_polite_refusal_and_a_code_links_them(
        world: World, who: Personas) -> None:
    w = started(world)
    newcomer = 555001
    w.control.add_user(newcomer, "Newcomer", language_code="en")
    w.control.send_text(newcomer, "hello")
    w.control.wait_text(newcomer, "staff only")
    w.control.send_text(newcomer, "/pending")
    code, _ = w.core.service.chat.issue_code(who.colleague, by=who.admin)
    w.control.send_text(newcomer, f"/start {code}")
    linked = w.control.wait_text(newcomer, "Linked")
    texts = [m["text"] for m in w.control.messages(newcomer)]
    assert sum("staff only" in t for t in texts) == 1 and len(texts) == 2, texts
    assert w.core.org.people[who.colleague].name in linked["text"]
    assert w.core.service.chat.person_for(TELEGRAM, newcomer).key == who.colleague  # type: ignore[union-attr]


def comment_asked(w: World, who: Personas) -> tuple[int, str, dict[str, Any]]:
    """A post the drafter confirmed and the head pressed 退回修改 on, his comment asked for:
    its id, revision hash and the head's card."""
    pid, h = laid_out(w, who)
    press(w, who.drafter, card(w, who.drafter, pid), "确认")
    head_card = card(w, who.head, pid)
    press(w, who.head, head_card, "退回修改")
    w.wait_text(who.head, "请输入")
    return pid, h, head_card


def test_a_comment_asked_for_waits_no_longer_once_the_card_is_decided_or_a_draft_begun(
        world: World, who: Personas) -> None:
    w = started(world)
    pid, _, head_card = comment_asked(w, who)
    assert "同意" in press(w, who.head, head_card, "同意")["answer"]["text"]
    helped = len([m for m in w.messages(who.head) if "轮到您审核时" in m["text"]])
    w.say(who.head, "好的，我改主意了")  # no comment is asked for any more: the help answers
    newest(w, who.head, "轮到您审核时", helped)
    steps = [d.step.value for d in w.core.service.view(pid).state.decisions]
    assert steps == ["drafter_confirm", "dept_head"]
    assert w.core.service.view(pid).post.status == PostStatus.IN_REVIEW
    leader_card = card(w, who.leader, pid)
    press(w, who.leader, leader_card, "退回修改")
    w.wait_text(who.leader, "请输入")
    w.say(who.leader, "/new")  # a command is a command while a comment is asked for
    w.wait_text(who.leader, "请选择稿件类别")


def test_request_changes_asks_for_a_comment_and_the_chain_restarts_on_a_new_revision(
        world: World, who: Personas) -> None:
    w = started(world)
    pid, h, _ = comment_asked(w, who)
    w.say(who.head, "标题请加上日期")
    w.wait_text(who.head, "已退回修改")
    view = w.core.service.view(pid)
    assert view.post.status is PostStatus.CHANGES_REQUESTED
    assert any(d.comment == "标题请加上日期" for d in view.state.decisions) or any(
        e.detail.get("comment") == "标题请加上日期" for e in view.timeline)
    w.delivery.settle()
    told = w.wait_text(who.operator, "标题请加上日期")  # art. 27: the operator lays it out again
    assert "退回" in told["text"]
    w.core.service.act(pid, "new_revision", who.operator,
                       revision=RevisionInput(title="12月7日我局开展冬季防汛应急演练", based_on=h))
    fresh = card(w, who.drafter, pid)
    assert "确认" in buttons(fresh) and "12月7日我局开展冬季防汛应急演练" in fresh["text"]
    press(w, who.drafter, fresh, "确认")
    view = w.core.service.view(pid)
    assert view.post.status is PostStatus.IN_REVIEW and len(view.state.decisions) == 1


def _docx(paragraphs: list[str]) -> bytes:
    document = Document()
    document.add_heading("冬季防汛应急演练", level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_handing_in_a_docx_through_the_conversation(world: World, who: Personas) -> None:
    w = started(world)
    me = to_title(w, who)
    w.say(who.drafter, "我" * 60)  # refused where it enters; the conversation stays
    w.wait_text(who.drafter, "标题 60 字")
    w.say(who.drafter, "我局开展冬季防汛应急演练")
    w.wait_text(who.drafter, "请发送正文")
    w.control.send_document(me, b"%PDF-1.4 not a word file", "方案.pdf", "application/pdf")
    w.wait_text(who.drafter, "只接受 Word 文档")
    w.control.send_document(me, _docx([BODY, "演练检验了预案。"]), "演练.docx")
    w.wait_text(who.drafter, "已读取 Word 文档")
    skip = w.control.wait_text(me, "封面")
    w.control.press(me, skip["message_id"], text="跳过")
    summary = w.control.wait_text(me, "请核对")
    assert "Word: 演练.docx" in summary["text"]
    w.control.press(me, summary["message_id"], text="提交")
    done = w.wait_text(who.drafter, "已提交")
    pid = int(done["text"].split("#", 1)[1].split("《", 1)[0])
    post = w.core.service.view(pid).post
    assert post.title == "我局开展冬季防汛应急演练" and post.drafter == who.drafter
    assert post.status is PostStatus.DRAFT


def test_a_bot_restart_mid_conversation_loses_nothing(world: World, who: Personas,
                                                      redis_url: str) -> None:
    from aiogram.fsm.storage.redis import RedisStorage

    world.storage = RedisStorage.from_url(redis_url)
    w = started(world)
    to_title(w, who, "政策解读")
    w.say(who.drafter, "新修订的防汛条例解读")
    w.wait_text(who.drafter, "请发送正文")
    w.bots.pop().close()  # the bot goes down between two answers
    w.say(who.drafter, BODY)
    w.start_bot()
    w.wait_text(who.drafter, "封面")


def test_a_repost_needs_an_allowlisted_source_link_and_big_files_are_refused_on_arrival(
        world: World, who: Personas) -> None:
    w = started(world)
    me = to_title(w, who, "转载")
    w.say(who.drafter, "国务院安委会部署冬季安全防范工作")
    w.wait_text(who.drafter, "请发送正文")
    w.control.send_document(me, b"PK\x03\x04", "通报.docx", size=30 * 1024 * 1024)
    w.wait_text(who.drafter, "最大 20.0 MB")
    w.control.send_document(me, _docx([BODY]), "通报.docx")
    skip = w.control.wait_text(me, "封面")
    w.control.press(me, skip["message_id"], text="跳过")
    w.wait_text(who.drafter, "请输入来源名称")
    w.say(who.drafter, "国务院安委会")
    w.wait_text(who.drafter, "请输入来源链接")
    w.say(who.drafter, "不是网址")
    w.wait_text(who.drafter, "这不是网址")
    w.say(who.drafter, "https://www.example.com/news/1.html")
    w.wait_text(who.drafter, "不在官方渠道白名单中")
    refused = len([m for m in w.messages(who.drafter) if "这不是网址" in m["text"]])
    w.say(who.drafter, "https://www.mem.gov.cn/xw/\u3000t1.shtml")  # a full-width space
    newest(w, who.drafter, "这不是网址", refused)
    # The sentence's full stop after the link, and a scheme in capitals, as people type them.
    w.say(who.drafter, "HTTPS://www.mem.gov.cn/xw/yjglbgzdt/202612/t20261201_1.shtml。")
    summary = w.control.wait_text(me, "请核对")
    assert "来源：国务院安委会 https://www.mem.gov.cn/" in summary["text"]
    w.control.press(me, summary["message_id"], text="提交")
    done = w.wait_text(who.drafter, "已提交")
    pid = int(done["text"].split("#", 1)[1].split("《", 1)[0])
    view = w.core.service.view(pid)
    assert view.post.repost_source == "https://www.mem.gov.cn/xw/yjglbgzdt/202612/t20261201_1.shtml"
    assert view.post.category.value == "repost"
    from approvals.store import models as m

    with w.core.deps.sessions() as s:  # the source's name ends the body, a .docx's too
        body = s.get(m.Post, pid).material_body  # type: ignore[union-attr]
    assert body.endswith("<p>（来源：国务院安委会）</p>") and "太浦河" in body


def test_the_webhook_mode_takes_telegrams_posts_and_refuses_a_forged_one(
        world: World, who: Personas) -> None:
    import asyncio
    import threading
    import urllib.error
    import urllib.request

    from signoff.embedded import free_port
    from signoff.runner import serve_webhook

    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    settings = world.settings.model_copy(update={
        "telegram_webhook_url": url, "telegram_webhook_secret": SecretStr("hook-secret_1")})
    from bot.telegram.app import make_bot, make_dispatcher

    bot = make_bot(settings)
    dp = make_dispatcher(world.core.service, settings, world.storage)
    loop = asyncio.new_event_loop()
    stop: list[asyncio.Event] = []

    async def serve() -> None:
        stop.append(asyncio.Event())
        try:
            await serve_webhook(bot, dp, settings, "127.0.0.1", port, stop[0])
        finally:
            await bot.session.close()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    try:
        w = world
        w.say(who.head, "/lang en")
        w.wait_text(who.head, "Language set to English")
        forged = urllib.request.Request(url, method="POST", data=b'{"update_id": 1}',
                                        headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=10)
        refused.value.close()
        assert refused.value.code == 401
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)
        loop.close()


def test_an_update_telegram_sends_again_is_handled_once(world: World, who: Personas) -> None:
    import time

    w = started(world)
    pid, _ = laid_out(w, who)
    message = card(w, who.drafter, pid)
    w.control.inject("getUpdates", "duplicate_updates", times=1)
    answered = w.control.calls("answerCallbackQuery")
    answer = press(w, who.drafter, message, "确认")
    assert answer["answer"]["text"].startswith("已确认")
    # The fault is spent once the press came again; then the bot has fetched it.
    deadline = time.monotonic() + 30
    while (w.control.faults() or w.control.pending_updates()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not w.control.faults() and not w.control.pending_updates()
    w.say(who.drafter, "/mine")  # handled after the repeated press (one update at a time)
    w.wait_text(who.drafter, "我的稿件")
    confirms = [e for e in w.core.service.view(pid).timeline if e.action == "post.confirm"]
    assert len(confirms) == 1
    assert w.control.calls("answerCallbackQuery") == answered + 1  # one answer, not two
    assert not any("出了点问题" in m["text"] for m in w.messages(who.drafter))


def test_what_a_person_is_told_follows_their_telegram_app_language_until_they_choose(
        world: World, who: Personas) -> None:
    w = started(world)
    head, name = w.ids[who.head], w.core.org.people[who.head].name
    # The head's app is in English: the next thing they send says so, and the cards the core
    # writes for them from then on are in English too (not only the bot's replies).
    w.control.add_user(head, name, language_code="en-GB")
    w.say(who.head, "/help")
    w.wait_text(who.head, "Commands")
    pid, _ = laid_out(w, who)
    press(w, who.drafter, card(w, who.drafter, pid), "确认")
    english = card(w, who.head, pid)
    assert "waiting for you" in english["text"] and "同意" not in buttons(english), english
    # Back in Chinese: so are the next cards.
    w.control.add_user(head, name, language_code="zh-hans")
    before = len(w.messages(who.head))
    w.say(who.head, "/help")
    w.control.wait_messages(head, before + 1, timeout=30)
    second, _ = laid_out(w, who, "我局开展冬季防汛应急演练（二）")
    press(w, who.drafter, card(w, who.drafter, second), "确认")
    chinese = card(w, who.head, second)
    assert "同意" in buttons(chinese) and "waiting for you" not in chinese["text"], chinese
    # A language chosen with /lang wins over the app's.
    w.control.add_user(head, name, language_code="en")
    w.say(who.head, "/lang zh")
    w.wait_text(who.head, "已切换为中文")
    third, _ = laid_out(w, who, "我局开展冬季防汛应急演练（三）")
    press(w, who.drafter, card(w, who.drafter, third), "确认")
    assert "同意" in buttons(card(w, who.head, third))


def _jpeg(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def test_pictures_sent_at_once_go_into_the_article_in_order_and_the_first_is_the_cover(
        world: World, who: Personas, redis_url: str) -> None:
    import hashlib

    from sqlalchemy import select

    from approvals.store import models as m

    w = as_in_production(world, redis_url)
    me = w.ids[who.drafter]
    to_pictures(w, who, "我局开展冬季防汛应急演练")
    pictures = [_jpeg((200, 30, 30)), _jpeg((30, 200, 30)), _jpeg((30, 30, 200))]
    for data in pictures:  # an album: three messages at once, handled concurrently
        w.control.send_photo(me, data)
    w.wait_text(who.drafter, "已收到第 3 张图片")
    w.control.send_photo(me, _noise_jpeg())  # over WeChat's 1 MB for an in-article image
    w.wait_text(who.drafter, "1 MB")
    done = [m for m in w.messages(who.drafter) if "完成" in buttons(m)][-1]
    w.control.press(me, done["message_id"], text="完成")
    summary = w.control.wait_text(me, "请核对")
    assert "图片：3 张（第一张作封面）" in summary["text"], summary
    w.control.press(me, summary["message_id"], text="提交")
    handed = w.wait_text(who.drafter, "已提交")
    pid = int(handed["text"].split("#", 1)[1].split("《", 1)[0])
    with w.core.deps.sessions() as s:
        post = s.get(m.Post, pid)
        assert post is not None
        body, cover = post.material_body, post.cover_sha256
        stored = set(s.scalars(select(m.Asset.sha256)))
    shas = [hashlib.sha256(p).hexdigest() for p in pictures]
    assert cover == shas[0]
    assert [body.index(f"/assets/{sha}") for sha in shas] == sorted(
        body.index(f"/assets/{sha}") for sha in shas)  # in the order they were sent
    assert body.index("太浦河") < body.index(f"/assets/{shas[0]}")  # after the text
    assert set(shas) <= stored


def _noise_jpeg() -> bytes:
    """A JPEG of random pixels: well over 1 MB, as a camera's photo can be."""
    import random

    from PIL import Image

    rng = random.Random(7)
    side = 1100
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=100)
    assert len(out.getvalue()) > 1024 * 1024
    return out.getvalue()


def test_a_double_tap_on_submit_hands_the_draft_in_once(world: World, who: Personas,
                                                       redis_url: str) -> None:
    w = as_in_production(world, redis_url)
    me = w.ids[who.drafter]
    w.control.press(me, to_pictures(w, who, "双击提交的测试稿")["message_id"], text="跳过")
    summary = w.control.wait_text(me, "请核对")
    first = w.control.press(me, summary["message_id"], text="提交")
    second = w.control.press_forged(me, summary["message_id"], first["callback_query"]["data"])
    answers = [w.control.wait_answer(u["callback_query"]["id"], timeout=30)["answer"]
               for u in (first, second)]
    w.wait_text(who.drafter, "已提交")
    titles = [p.title for p in w.core.service.list_posts()]
    assert titles.count("双击提交的测试稿") == 1
    assert sum("失效" in (a.get("text") or "") for a in answers) == 1, answers


def test_a_long_text_the_app_cut_into_messages_is_one_body_in_the_order_sent(
        world: World, who: Personas, redis_url: str) -> None:
    from approvals.store import models as m

    w = as_in_production(world, redis_url)  # each update a task of its own, as in production
    me = to_title(w, who)
    # The title and, right after it, a long text the Telegram app sent as three messages.
    parts = ["甲" * 3999 + "一", "乙" * 3999 + "二", "丙。"]
    for text in ("冬季防汛长文", *parts):
        w.say(who.drafter, text)
    total = sum(len(p) for p in parts) + len(parts) - 1  # joined line by line
    more = w.wait_text(who.drafter, f"共 {total} 字")
    w.control.press(me, more["message_id"], text="完成")
    w.control.press(me, w.wait_text(who.drafter, "第一张作封面")["message_id"], text="跳过")
    summary = w.control.wait_text(me, "请核对")
    assert "标题：冬季防汛长文" in summary["text"] and f"文字，{total} 字" in summary["text"]
    w.control.press(me, summary["message_id"], text="提交")
    handed = w.wait_text(who.drafter, "已提交")
    pid = int(handed["text"].split("#", 1)[1].split("《", 1)[0])
    with w.core.deps.sessions() as s:
        post = s.get(m.Post, pid)
        assert post is not None and post.title == "冬季防汛长文"
        body = post.material_body
    assert body.index("一") < body.index("乙") < body.index("二") < body.index("丙")


def test_what_the_core_would_refuse_is_refused_at_its_step_and_commands_are_never_content(
        world: World, who: Personas) -> None:
    w = started(world)
    me = to_title(w, who)
    conversation = [  # what she types, and what the bot answers
        ("/取消", "“/取消”不是可用的命令"), ("/CANCEL", "“/CANCEL”不是可用的命令"),
        ("/cancle 这篇", "“/cancle”不是可用的命令"), ("<b>冬季演练</b>", "HTML"),
        ("冬季演练", "请发送正文"), ("正文\x0b第二行", "控制字符（U+000B）"),
        ("/foo 正文", "“/foo”不是可用的命令")]
    for said, answered in conversation:
        w.say(who.drafter, said)
        w.wait_text(who.drafter, answered)
    w.say(who.drafter, BODY)
    w.control.press(me, w.wait_text(who.drafter, "第一张作封面")["message_id"], text="跳过")
    summary = w.control.wait_text(me, "请核对")
    assert "标题：冬季演练" in summary["text"]
    assert f"文字，{len(BODY)} 字" in summary["text"]


def test_buttons_of_an_earlier_draft_do_not_touch_the_one_under_way(world: World,
                                                                     who: Personas) -> None:
    w = started(world)
    me = w.ids[who.drafter]
    w.control.press(me, to_pictures(w, who, "旧稿甲")["message_id"], text="跳过")
    old = w.control.wait_text(me, "标题：旧稿甲")
    w.control.press(me, to_pictures(w, who, "新稿乙")["message_id"], text="跳过")
    current = w.control.wait_text(me, "标题：新稿乙")
    for label in ("提交", "取消", "修改"):  # the earlier summary's buttons, still on screen
        update = w.control.press(me, old["message_id"], text=label)
        answer = w.control.wait_answer(update["callback_query"]["id"], timeout=30)["answer"]
        assert "失效" in answer["text"], (label, answer)
    assert w.core.service.count_posts() == 0
    w.control.press(me, current["message_id"], text="提交")
    w.wait_text(who.drafter, "《新稿乙》")
    assert [p.title for p in w.core.service.list_posts()] == ["新稿乙"]


def test_what_a_person_sent_the_wrong_way_is_named_and_the_step_kept(world: World,
                                                                      who: Personas) -> None:
    w = started(world)
    me = to_title(w, who, "转载")
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
    conversation: list[tuple[Any, str]] = [  # what she sends, and what the bot answers
        ("新华社电：冬季防汛", "请发送正文"),
        (("伪装.docx", pdf, "application/pdf"), "PDF"),  # its content says what it is
        (BODY, "第一张作封面"),
        (("现场.png", _jpeg((200, 30, 30)), "image/png"), "以“图片”方式发送"),
    ]
    for sent, answered in conversation:
        if isinstance(sent, tuple):
            w.control.send_document(me, sent[1], sent[0], sent[2])
        else:
            w.say(who.drafter, sent)
        w.wait_text(who.drafter, answered)
    w.control.press(me, w.wait_text(who.drafter, "以“图片”方式发送")["message_id"], text="跳过")
    w.wait_text(who.drafter, "请输入来源名称")
    w.say(who.drafter, "新" * 101)
    w.wait_text(who.drafter, "最多 100 字")
    w.say(who.drafter, "新华社")
    w.say(who.drafter, "https://www.gov.cn/yaowen/liebiao/202612/content_1.htm")
    w.wait_text(who.drafter, "请核对")
    w.say(who.drafter, "提交")  # typed, not pressed: the buttons come again
    again = w.wait_text(who.drafter, "请点下面的按钮")
    w.control.press(me, again["message_id"], text="提交")
    w.wait_text(who.drafter, "已提交")


def test_a_failure_nobody_foresaw_is_told_in_the_language_the_person_chose(
        world: World, who: Personas) -> None:
    w = started(world)
    me = to_title(w, who)
    w.say(who.drafter, "/lang en")
    w.wait_text(who.drafter, "English")
    w.say(who.drafter, "冬季防汛演练")
    w.wait_text(who.drafter, "Send the body")
    w.control.inject("getFile", "server_error", times=1)  # Telegram fails the download
    w.control.send_document(me, _docx([BODY]), "演练.docx")
    w.wait_text(who.drafter, "Something went wrong")
    assert not any("出了点问题" in m["text"] for m in w.messages(who.drafter))
