"""The Telegram Bot API simulator, driven over real HTTP by aiogram's own Bot (and plain requests)."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest
import requests
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from PIL import Image

from signoff.sims.telegram import (
    LocalControl,
    SimError,
    SimTimeout,
    TelegramSim,
    TelegramSimConfig,
    TelegramSimControl,
)

TOKEN = "7000000001:SIMsignoffAAFakeTokenForLocalTests01"
OTHER_TOKEN = "7000000002:SIMsignoffSecondBotToken"
LI, ZHANG, WANG = 1001, 1002, 1003  # a drafter, her department head, someone who never started the bot
FAST = TelegramSimConfig(tokens=(TOKEN, OTHER_TOKEN), webhook_retry_delay_seconds=0.05)
T = TypeVar("T")

# ---------------------------------------------------------------------------------------------- fixtures


def sim_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("telegram-sim")]


@pytest.fixture
def sim() -> Iterator[TelegramSim]:
    with TelegramSim(FAST) as running:
        running.local.add_user(LI, "娜", last_name="李", username="li_na", language_code="zh-hans")
        running.local.add_user(ZHANG, "伟", last_name="张", username="zhang_wei")
        running.local.add_user(WANG, "敏", last_name="王")
        running.local.start(LI)
        running.local.start(ZHANG)
        running.state.bot().drop_pending()  # tests start from an empty queue
        yield running
    assert sim_threads() == [], "the simulator left threads behind"


@pytest.fixture
def ctl(sim: TelegramSim) -> TelegramSimControl:
    return sim.control


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@asynccontextmanager
async def open_bot(sim: TelegramSim, token: str = TOKEN) -> AsyncIterator[Bot]:
    bot = sim.make_bot(token)
    try:
        yield bot
    finally:
        await bot.session.close()


def with_bot(sim: TelegramSim, action: Callable[[Bot], Awaitable[T]], token: str = TOKEN) -> T:
    """Run one coroutine against a fresh Bot and close its session."""

    async def go() -> T:
        async with open_bot(sim, token) as bot:
            return await action(bot)

    return run(go())


def raw(sim: TelegramSim, method: str, token: str = TOKEN, **kwargs: Any) -> requests.Response:
    return requests.post(f"{sim.api_base}/bot{token}/{method}", timeout=10, **kwargs)


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d)
                                                  for t, d in buttons]])


async def send_text(bot: Bot, text: str) -> Message:
    return await bot.send_message(LI, text)


def texts(updates: list[Update]) -> list[str | None]:
    """The text of each update's message."""
    return [u.message.text if u.message is not None else None for u in updates]


def buttons(markup: InlineKeyboardMarkup | None) -> list[list[tuple[str, str | None]]]:
    assert markup is not None
    return [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]


def png(width: int = 3, height: int = 2) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- basics


def test_get_me_returns_the_bot_user_for_each_token(sim: TelegramSim) -> None:
    me = with_bot(sim, lambda bot: bot.get_me())
    assert (me.id, me.is_bot, me.username) == (7000000001, True, "signoff_sim_bot")
    other = with_bot(sim, lambda bot: bot.get_me(), token=OTHER_TOKEN)
    assert other.id == 7000000002 and other.username == "signoff_sim_7000000002_bot"


def test_an_unknown_token_raises_unauthorized(sim: TelegramSim) -> None:
    with pytest.raises(TelegramUnauthorizedError):
        with_bot(sim, lambda bot: bot.get_me(), token="42:NOT-A-REAL-TOKEN")
    answer = raw(sim, "getMe", token="42:NOT-A-REAL-TOKEN")
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_an_unknown_method_is_404_and_method_names_are_case_insensitive(sim: TelegramSim) -> None:
    answer = raw(sim, "sendTelepathy")
    assert answer.status_code == 404
    assert answer.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert raw(sim, "getme").json()["result"]["id"] == 7000000001
    assert sim.local.call_counts()["getMe"] == 1


def test_form_json_and_query_bodies_are_all_read(sim: TelegramSim) -> None:
    markup = {"inline_keyboard": [[{"text": "批准", "callback_data": "d:ok:1"}]]}
    by_form = raw(sim, "sendMessage", data={"chat_id": str(LI), "text": "form", "reply_markup": json.dumps(markup)})
    by_json = raw(sim, "sendMessage", json={"chat_id": LI, "text": "json", "reply_markup": markup})
    by_query = requests.get(f"{sim.api_base}/bot{TOKEN}/sendMessage", params={"chat_id": str(LI), "text": "query"},
                            timeout=10)
    for answer, text in ((by_form, "form"), (by_json, "json"), (by_query, "query")):
        assert answer.status_code == 200, answer.text
        assert answer.json()["ok"] is True and answer.json()["result"]["text"] == text
    assert by_form.json()["result"]["reply_markup"] == markup == by_json.json()["result"]["reply_markup"]


# ---------------------------------------------------------------------------------------------- sending


def test_send_message_returns_a_message_aiogram_accepts_with_ids_growing_per_chat(sim: TelegramSim) -> None:
    async def scenario(bot: Bot) -> list[Message]:
        return [await bot.send_message(LI, "一", reply_markup=keyboard(("批准", "d:ok:7"))),
                await bot.send_message(LI, "二"), await bot.send_message(ZHANG, "三")]

    first, second, other = with_bot(sim, scenario)
    assert second.message_id == first.message_id + 1  # /start took id 1 in each chat
    assert other.message_id == first.message_id  # ids are counted per chat
    assert first.chat.id == LI and first.chat.type == "private" and first.chat.first_name == "娜"
    assert first.from_user is not None and first.from_user.id == 7000000001 and first.from_user.is_bot
    assert buttons(first.reply_markup) == [[("批准", "d:ok:7")]]
    assert abs(first.date.timestamp() - time.time()) < 60
    view = sim.local.chat(LI)
    assert [m["text"] for m in view["messages"]] == ["一", "二"]
    assert view["messages"][0]["reply_markup"] == {"inline_keyboard": [[{"text": "批准", "callback_data": "d:ok:7"}]]}


def test_html_becomes_plain_text_with_entities(sim: TelegramSim) -> None:
    sent = with_bot(sim, lambda bot: bot.send_message(
        LI, '<b>待审</b>：<a href="https://example.org/p/1">防汛预案</a> &lt;草稿&gt; 😀<i>x</i>', parse_mode="HTML"))
    assert sent.text == "待审：防汛预案 <草稿> 😀x"
    assert [(e.type, e.offset, e.length) for e in sent.entities or []] == [
        ("bold", 0, 2), ("text_link", 3, 4), ("italic", 15, 1)]  # 😀 counts two UTF-16 units
    [view] = sim.local.messages(LI)
    assert view["source"].startswith("<b>待审</b>") and view["parse_mode"] == "HTML"


@pytest.mark.parametrize("html", ["<b>未闭合", "<b>交错</i>", "多余</b>", "<blink>不认识</blink>", "a < b",
                                  "<span>无类</span>", "换行<br>"])
def test_html_that_telegram_cannot_parse_is_a_bad_request(sim: TelegramSim, html: str) -> None:
    with pytest.raises(TelegramBadRequest) as refused:
        with_bot(sim, lambda bot: bot.send_message(LI, html, parse_mode="HTML"))
    assert refused.value.message.startswith("Bad Request: can't parse entities: ")
    assert sim.local.messages(LI) == []


def test_text_must_be_non_empty_and_at_most_4096_utf16_units(sim: TelegramSim) -> None:
    for empty in ("", "   \n"):
        answer = raw(sim, "sendMessage", data={"chat_id": LI, "text": empty})
        assert answer.status_code == 400
        assert answer.json()["description"] == "Bad Request: message text is empty"
    assert with_bot(sim, lambda bot: bot.send_message(LI, "x" * 4096)).text == "x" * 4096
    assert with_bot(sim, lambda bot: bot.send_message(LI, "😀" * 2048)).text == "😀" * 2048
    for too_long in ("x" * 4097, "😀" * 2049):  # 2049 emoji are 4098 UTF-16 units
        with pytest.raises(TelegramBadRequest, match="message is too long"):
            with_bot(sim, functools.partial(send_text, text=too_long))


def test_callback_data_is_limited_to_64_bytes_not_characters(sim: TelegramSim) -> None:
    fits = "批" * 21  # 63 bytes
    with_bot(sim, lambda bot: bot.send_message(LI, "ok", reply_markup=keyboard(("a", fits))))
    with pytest.raises(TelegramBadRequest) as refused:
        with_bot(sim, lambda bot: bot.send_message(LI, "no", reply_markup=keyboard(("a", fits + "批"))))
    assert refused.value.message == "Bad Request: BUTTON_DATA_INVALID"
    assert len(sim.local.messages(LI)) == 1


def test_unknown_never_started_and_blocked_chats_get_telegrams_errors(sim: TelegramSim) -> None:
    with pytest.raises(TelegramBadRequest) as unknown:
        with_bot(sim, lambda bot: bot.send_message(999999, "hi"))
    assert unknown.value.message == "Bad Request: chat not found"
    with pytest.raises(TelegramForbiddenError) as never:
        with_bot(sim, lambda bot: bot.send_message(WANG, "hi"))
    assert never.value.message == "Forbidden: bot can't initiate conversation with a user"
    sim.local.block(LI)
    with pytest.raises(TelegramForbiddenError) as blocked:
        with_bot(sim, lambda bot: bot.send_message(LI, "hi"))
    assert blocked.value.message == "Forbidden: bot was blocked by the user"
    sim.local.unblock(LI)
    assert with_bot(sim, lambda bot: bot.send_message(LI, "again")).text == "again"
    kinds = [(u["my_chat_member"]["new_chat_member"]["status"]) for u in sim.local.pending_updates()]
    assert kinds == ["kicked", "member"]


def test_replies_carry_the_message_they_answer_and_a_missing_one_is_refused(sim: TelegramSim) -> None:
    asked = sim.local.send_text(LI, "请问进度？")["message"]["message_id"]

    async def scenario(bot: Bot) -> tuple[Message, Message, Message]:
        old = await bot.send_message(LI, "旧", reply_to_message_id=asked)
        new = await bot.send_message(LI, "新", reply_parameters=ReplyParameters(message_id=asked))
        lenient = await bot.send_message(LI, "宽", reply_parameters=ReplyParameters(
            message_id=424242, allow_sending_without_reply=True))
        return old, new, lenient

    old, new, lenient = with_bot(sim, scenario)
    assert old.reply_to_message is not None and old.reply_to_message.text == "请问进度？"
    assert new.reply_to_message is not None and new.reply_to_message.from_user.id == LI  # type: ignore[union-attr]
    assert lenient.reply_to_message is None
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        with_bot(sim, lambda bot: bot.send_message(LI, "x", reply_parameters=ReplyParameters(message_id=424242)))


def test_link_preview_options_and_the_old_flag_are_accepted_and_kept(sim: TelegramSim) -> None:
    async def scenario(bot: Bot) -> None:
        await bot.send_message(LI, "https://example.org", link_preview_options=LinkPreviewOptions(is_disabled=True))
        await bot.send_message(LI, "https://example.org", disable_web_page_preview=True)

    with_bot(sim, scenario)
    first, second = sim.local.messages(LI)
    assert first["options"]["link_preview_options"] == {"is_disabled": True}
    assert second["options"]["disable_web_page_preview"] is True


# ---------------------------------------------------------------------------------------------- edits


def test_edit_text_keeps_the_history_sets_edit_date_and_drops_an_unrepeated_keyboard(sim: TelegramSim) -> None:
    async def scenario(bot: Bot) -> tuple[Any, Any]:
        sent = await bot.send_message(LI, "待审", reply_markup=keyboard(("批准", "ok")))
        kept = await bot.edit_message_text("已批准", chat_id=LI, message_id=sent.message_id,
                                           reply_markup=keyboard(("撤回", "undo")))
        bare = await bot.edit_message_text("已发布", chat_id=LI, message_id=sent.message_id)
        return kept, bare

    kept, bare = with_bot(sim, scenario)
    assert kept.text == "已批准" and kept.edit_date is not None and buttons(kept.reply_markup) == [[("撤回", "undo")]]
    assert bare.reply_markup is None  # editMessageText without reply_markup removes the keyboard
    [view] = sim.local.messages(LI)
    assert view["text"] == "已发布" and view["reply_markup"] is None and view["edit_date"] is not None
    assert [v["text"] for v in view["history"]] == ["待审", "已批准"]
    assert view["history"][0]["reply_markup"] == {"inline_keyboard": [[{"text": "批准", "callback_data": "ok"}]]}


def test_an_identical_edit_is_not_modified_and_a_missing_message_is_not_found(sim: TelegramSim) -> None:
    sent = with_bot(sim, lambda bot: bot.send_message(LI, "同样", reply_markup=keyboard(("a", "b"))))
    with pytest.raises(TelegramBadRequest) as same:
        with_bot(sim, lambda bot: bot.edit_message_text("同样", chat_id=LI, message_id=sent.message_id,
                                                        reply_markup=keyboard(("a", "b"))))
    assert same.value.message == (
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the "
        "same as a current content and reply markup of the message")
    with pytest.raises(TelegramBadRequest) as missing:
        with_bot(sim, lambda bot: bot.edit_message_text("x", chat_id=LI, message_id=9999))
    assert missing.value.message == "Bad Request: message to edit not found"
    user_message = sim.local.send_text(LI, "我的")["message"]["message_id"]
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        with_bot(sim, lambda bot: bot.edit_message_text("x", chat_id=LI, message_id=user_message))


def test_edit_reply_markup_replaces_and_removes_the_keyboard(sim: TelegramSim) -> None:
    async def scenario(bot: Bot) -> tuple[Any, Any]:
        sent = await bot.send_message(LI, "待审", reply_markup=keyboard(("批准", "ok")))
        swapped = await bot.edit_message_reply_markup(chat_id=LI, message_id=sent.message_id,
                                                      reply_markup=keyboard(("撤回", "undo")))
        removed = await bot.edit_message_reply_markup(chat_id=LI, message_id=sent.message_id)
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_reply_markup(chat_id=LI, message_id=sent.message_id)
        return swapped, removed

    swapped, removed = with_bot(sim, scenario)
    assert buttons(swapped.reply_markup) == [[("撤回", "undo")]] and swapped.text == "待审"
    assert removed.reply_markup is None
    [view] = sim.local.messages(LI)
    assert view["reply_markup"] is None and len(view["history"]) == 2


def test_delete_message_marks_it_deleted_once(sim: TelegramSim) -> None:
    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(LI, "删")
        assert await bot.delete_message(LI, sent.message_id) is True
        with pytest.raises(TelegramBadRequest, match="message to delete not found"):
            await bot.delete_message(LI, sent.message_id)
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("x", chat_id=LI, message_id=sent.message_id)

    with_bot(sim, scenario)
    [view] = sim.local.messages(LI)
    assert view["deleted"] is True


# ---------------------------------------------------------------------------------------------- buttons


def test_a_press_queues_a_callback_query_that_is_answered_once(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    sent = with_bot(sim, lambda bot: bot.send_message(LI, "待审", reply_markup=keyboard(("批准", "d:ok:7"),
                                                                                        ("退回", "d:back:7"))))
    by_text = ctl.press(LI, sent.message_id, text="退回")["callback_query"]
    by_data = ctl.press(LI, sent.message_id, data="d:ok:7")["callback_query"]
    assert (by_text["data"], by_data["data"]) == ("d:back:7", "d:ok:7")
    assert by_data["from"]["id"] == LI and by_data["message"]["message_id"] == sent.message_id
    assert by_data["chat_instance"] == by_text["chat_instance"]

    async def answer(bot: Bot) -> None:
        updates = await bot.get_updates(timeout=5)
        query = updates[-1].callback_query
        assert query is not None and query.message is not None and query.data == "d:ok:7"
        assert await query.answer("已批准", show_alert=True) is True
        with pytest.raises(TelegramBadRequest) as again:
            await bot.answer_callback_query(query.id, text="twice")
        assert again.value.message == ("Bad Request: query is too old and response timeout expired or query ID "
                                       "is invalid")
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await bot.answer_callback_query("123456789", text="unknown")

    with_bot(sim, answer)
    answered = ctl.wait_answer(by_data["id"], timeout=5)
    assert answered["answer"]["text"] == "已批准" and answered["answer"]["show_alert"] is True
    assert [c["answered"] for c in ctl.chat(LI)["callbacks"]] == [False, True]


def test_a_query_past_the_answer_window_is_too_old(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    sent = with_bot(sim, lambda bot: bot.send_message(LI, "x", reply_markup=keyboard(("a", "go"))))
    ctl.configure(callback_answer_window_seconds=0)
    query_id = ctl.press(LI, sent.message_id, data="go")["callback_query"]["id"]
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        with_bot(sim, lambda bot: bot.answer_callback_query(query_id))


def test_a_button_must_be_on_the_current_keyboard_to_be_pressed(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    sent = with_bot(sim, lambda bot: bot.send_message(LI, "x", reply_markup=keyboard(("批准", "ok"))))
    with pytest.raises(SimError, match=r"no callback button with data='nope'.*'批准' -> 'ok'"):
        ctl.press(LI, sent.message_id, data="nope")
    with_bot(sim, lambda bot: bot.edit_message_reply_markup(chat_id=LI, message_id=sent.message_id))
    with pytest.raises(SimError, match="no buttons"):
        ctl.press(LI, sent.message_id, text="批准")
    with pytest.raises(SimError, match="sent no message 999"):
        ctl.press(LI, 999, data="ok")
    assert sim.local.pending_updates() == []


def test_another_user_can_press_and_a_forged_press_carries_any_data(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    sent = with_bot(sim, lambda bot: bot.send_message(LI, "x", reply_markup=keyboard(("批准", "ok"))))
    by_other = ctl.press(LI, sent.message_id, data="ok", user_id=ZHANG)["callback_query"]
    assert by_other["from"]["id"] == ZHANG and by_other["message"]["chat"]["id"] == LI
    forged = ctl.press_forged(LI, sent.message_id, "d:publish:999", user_id=WANG)["callback_query"]
    assert forged["data"] == "d:publish:999" and forged["from"]["id"] == WANG
    assert [c["forged"] for c in ctl.chat(LI)["callbacks"]] == [False, True]


# ---------------------------------------------------------------------------------------------- files


def test_documents_and_photos_are_stored_byte_for_byte_and_downloadable(sim: TelegramSim,
                                                                       ctl: TelegramSimControl) -> None:
    content = "防汛应急预案\n".encode() * 1000
    image = png(5, 4)

    async def scenario(bot: Bot) -> tuple[Message, Message, Message, bytes]:
        doc = await bot.send_document(LI, BufferedInputFile(content, "预案.docx"), caption="<b>终稿</b>",
                                      parse_mode="HTML", reply_markup=keyboard(("签发", "sign")))
        photo = await bot.send_photo(LI, BufferedInputFile(image, "cover.png"))
        assert doc.document is not None and photo.photo is not None
        again = await bot.send_document(LI, doc.document.file_id)  # resent by file_id
        file = await bot.get_file(doc.document.file_id)
        assert file.file_path is not None
        out = io.BytesIO()
        await bot.download_file(file.file_path, out)
        return doc, photo, again, out.getvalue()

    doc, photo, again, downloaded = with_bot(sim, scenario)
    assert doc.document is not None and doc.document.file_name == "预案.docx" and doc.document.file_size == len(content)
    assert doc.document.mime_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert doc.caption == "终稿" and doc.caption_entities is not None and doc.reply_markup is not None
    assert photo.photo is not None and (photo.photo[-1].width, photo.photo[-1].height) == (5, 4)
    assert again.document is not None and again.document.file_unique_id == doc.document.file_unique_id
    assert downloaded == content
    assert ctl.file_bytes(doc.document.file_id) == content
    assert ctl.file_bytes(photo.photo[-1].file_id) == image


def test_bad_uploads_and_file_ids_are_refused(sim: TelegramSim) -> None:
    async def scenario(bot: Bot) -> None:
        with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
            await bot.send_photo(LI, BufferedInputFile(b"not an image", "x.png"))
        with pytest.raises(TelegramBadRequest, match="file must be non-empty"):
            await bot.send_document(LI, BufferedInputFile(b"", "empty.txt"))
        with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
            await bot.send_document(LI, "BQACAgIAAxkBAAIunknown")
        with pytest.raises(TelegramBadRequest, match="invalid file_id"):
            await bot.get_file("BQACAgIAAxkBAAIunknown")
        with pytest.raises(TelegramBadRequest, match="message caption is too long"):
            await bot.send_document(LI, BufferedInputFile(b"x", "x.txt"), caption="长" * 1025)

    with_bot(sim, scenario)
    assert sim.local.messages(LI) == []


def test_a_users_document_reaches_the_bot_which_downloads_it(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    content = b"PK\x03\x04 pretend docx " * 50
    ctl.send_document(LI, content, "稿件.docx", mime_type="application/octet-stream", caption="请审阅")
    ctl.send_document(LI, b"tiny", "huge.pdf", size=25 * 1024 * 1024)  # claims 25 MB

    async def scenario(bot: Bot) -> bytes:
        first, second = [u.message for u in await bot.get_updates(timeout=5)]
        assert first is not None and first.document is not None and first.caption == "请审阅"
        assert first.document.file_name == "稿件.docx" and first.document.file_size == len(content)
        file = await bot.get_file(first.document.file_id)
        out = io.BytesIO()
        await bot.download_file(file.file_path or "", out)
        assert second is not None and second.document is not None
        with pytest.raises(TelegramBadRequest, match="file is too big"):
            await bot.get_file(second.document.file_id)
        return out.getvalue()

    assert with_bot(sim, scenario) == content
    missing = requests.get(f"{sim.api_base}/file/bot{TOKEN}/documents/nothing.pdf", timeout=10)
    assert missing.status_code == 404


def test_a_users_photo_reaches_the_bot_with_its_size(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    ctl.send_photo(LI, png(7, 3), caption="封面")
    [update] = with_bot(sim, lambda bot: bot.get_updates(timeout=5))
    assert update.message is not None and update.message.photo is not None
    assert (update.message.photo[-1].width, update.message.photo[-1].height, update.message.caption) == (7, 3, "封面")
    with pytest.raises(SimError, match="image"):
        ctl.send_photo(LI, b"not an image")


# ---------------------------------------------------------------------------------------------- commands, actions


def test_commands_are_kept_per_scope_and_language(sim: TelegramSim) -> None:
    async def scenario(bot: Bot) -> tuple[list[BotCommand], list[BotCommand], list[BotCommand]]:
        await bot.set_my_commands([BotCommand(command="queue", description="待办")])
        await bot.set_my_commands([BotCommand(command="queue", description="My queue")], language_code="en",
                                  scope=BotCommandScopeAllPrivateChats())
        with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
        return (await bot.get_my_commands(), await bot.get_my_commands(
            scope=BotCommandScopeAllPrivateChats(), language_code="en"), await bot.get_my_commands(language_code="fr"))

    default, english, french = with_bot(sim, scenario)
    assert [(c.command, c.description) for c in default] == [("queue", "待办")]
    assert [c.description for c in english] == ["My queue"]
    assert french == []


def test_chat_actions_are_recorded_and_unknown_ones_refused(sim: TelegramSim) -> None:
    async def scenario(bot: Bot) -> None:
        assert await bot.send_chat_action(LI, "typing") is True
        with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
            await bot.send_chat_action(LI, "dancing")

    with_bot(sim, scenario)
    assert [a["action"] for a in sim.local.chat(LI)["actions"]] == ["typing"]


# ---------------------------------------------------------------------------------------------- polling


def test_get_updates_long_polls_and_answers_the_moment_an_update_arrives(sim: TelegramSim) -> None:
    bot_state = sim.state.bot()

    async def scenario(bot: Bot) -> tuple[list[Any], float]:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.to_thread(sim.state.wait, lambda: bot_state.poll_generation >= 1, 15, "the poll to arrive")
        await asyncio.sleep(0.2)  # the poll is now waiting on the server
        started = time.monotonic()
        await asyncio.to_thread(sim.local.send_text, LI, "现在")
        updates = await poll
        return updates, time.monotonic() - started

    updates, elapsed = with_bot(sim, scenario)
    assert texts(updates) == ["现在"]
    assert elapsed < 5, f"the poll took {elapsed:.2f} s after the update instead of answering at once"


def test_an_empty_long_poll_waits_its_timeout_then_answers_an_empty_list(sim: TelegramSim) -> None:
    started = time.monotonic()
    assert with_bot(sim, lambda bot: bot.get_updates(timeout=1)) == []
    assert time.monotonic() - started >= 0.9
    started = time.monotonic()
    assert with_bot(sim, lambda bot: bot.get_updates(timeout=0)) == []


def test_offset_confirms_earlier_updates_and_limit_caps_the_answer(sim: TelegramSim) -> None:
    for text in ("一", "二", "三"):
        sim.local.send_text(LI, text)

    async def scenario(bot: Bot) -> None:
        first = await bot.get_updates(limit=2)
        assert texts(first) == ["一", "二"]
        assert texts(await bot.get_updates()) == ["一", "二", "三"]  # nothing confirmed yet
        rest = await bot.get_updates(offset=first[-1].update_id + 1)
        assert texts(rest) == ["三"]
        sim.local.send_text(LI, "四")
        assert texts(await bot.get_updates(offset=-1)) == ["四"]  # keeps only the last
        assert await bot.get_updates(offset=rest[-1].update_id + 2) == []

    with_bot(sim, scenario)


def test_allowed_updates_leave_out_the_kinds_not_asked_for(sim: TelegramSim) -> None:
    sent = with_bot(sim, lambda bot: bot.send_message(LI, "x", reply_markup=keyboard(("a", "go"))))

    async def scenario(bot: Bot) -> None:
        assert await bot.get_updates(allowed_updates=["message"]) == []
        sim.local.press(LI, sent.message_id, data="go")
        sim.local.send_text(LI, "文字")
        assert texts(await bot.get_updates()) == ["文字"]  # the setting is remembered
        assert texts(await bot.get_updates(allowed_updates=[])) == ["文字"]

    with_bot(sim, scenario)


def test_a_newer_get_updates_ends_an_older_one_with_conflict(sim: TelegramSim) -> None:
    bot_state = sim.state.bot()

    async def scenario(bot: Bot) -> None:
        old = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.to_thread(sim.state.wait, lambda: bot_state.poll_generation >= 1, 15, "the first poll")
        assert await bot.get_updates(timeout=0) == []
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
            await old

    with_bot(sim, scenario)


def test_a_duplicate_updates_fault_delivers_each_update_again_after_it_was_confirmed(sim: TelegramSim,
                                                                                     ctl: TelegramSimControl) -> None:
    ctl.inject("getUpdates", "duplicate_updates", times=1)
    sim.local.send_text(LI, "一次")
    sim.local.send_text(LI, "两次？")

    async def scenario(bot: Bot) -> list[tuple[int, str | None]]:
        seen: list[tuple[int, str | None]] = []
        offset = None
        for _ in range(3):
            batch = await bot.get_updates(offset=offset, timeout=0)
            seen += list(zip([u.update_id for u in batch], texts(batch), strict=True))
            offset = batch[-1].update_id + 1 if batch else offset
        return seen

    seen = with_bot(sim, scenario)
    first, second = seen[0], seen[1]
    assert seen == [first, second, first]  # the first comes again, with the same update_id; the second once
    assert sim.local.pending_updates() == []


# ---------------------------------------------------------------------------------------------- faults


def test_retry_after_is_a_429_with_its_parameter_for_the_next_n_calls(sim: TelegramSim,
                                                                     ctl: TelegramSimControl) -> None:
    ctl.inject("sendMessage", "retry_after", times=2, retry_after=3)
    answer = raw(sim, "sendMessage", data={"chat_id": LI, "text": "x"})
    assert answer.status_code == 429
    assert answer.json() == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
                             "parameters": {"retry_after": 3}}
    with pytest.raises(TelegramRetryAfter) as flood:
        with_bot(sim, lambda bot: bot.send_message(LI, "x"))
    assert flood.value.retry_after == 3
    assert with_bot(sim, lambda bot: bot.send_message(LI, "通过")).text == "通过"
    assert [m["text"] for m in sim.local.messages(LI)] == ["通过"]
    assert ctl.calls("sendMessage") == 3


@pytest.mark.parametrize(("status", "description"), [(502, "Bad Gateway"), (500, "Internal Server Error")])
def test_a_server_error_fault_raises_telegram_server_error(sim: TelegramSim, ctl: TelegramSimControl, status: int,
                                                          description: str) -> None:
    ctl.inject("*", "server_error", status=status)
    with pytest.raises(TelegramServerError) as failed:
        with_bot(sim, lambda bot: bot.get_me())
    assert failed.value.message == description
    assert with_bot(sim, lambda bot: bot.get_me()).id == 7000000001


def test_a_fault_until_cleared_hits_every_call_and_a_generic_error_maps_by_status(sim: TelegramSim,
                                                                                 ctl: TelegramSimControl) -> None:
    ctl.inject("sendMessage", "error", times=None, status=403, description="Forbidden: user is deactivated")
    for _ in range(3):
        with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
            with_bot(sim, lambda bot: bot.send_message(LI, "x"))
    assert with_bot(sim, lambda bot: bot.get_me()).id == 7000000001  # other methods are untouched
    assert ctl.faults()[0]["fired"] == 3
    ctl.clear_faults()
    assert with_bot(sim, lambda bot: bot.send_message(LI, "好了")).text == "好了"


def test_a_delay_fault_holds_the_answer(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    ctl.inject("getMe", "delay", seconds=0.5)
    started = time.monotonic()
    assert with_bot(sim, lambda bot: bot.get_me()).id == 7000000001
    assert time.monotonic() - started >= 0.5


def test_a_drop_fault_is_a_network_error_and_nothing_is_sent(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    ctl.inject("sendMessage", "drop")
    with pytest.raises(TelegramNetworkError):
        with_bot(sim, lambda bot: bot.send_message(LI, "丢"))
    assert sim.local.messages(LI) == []


def test_accept_then_drop_stores_the_message_but_the_bot_sees_a_network_error(sim: TelegramSim,
                                                                             ctl: TelegramSimControl) -> None:
    ctl.inject("sendMessage", "accept_then_drop")

    async def scenario(bot: Bot) -> Message:
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(LI, "只发一次")
        return await bot.send_message(LI, "下一条")  # the same session carries on

    after = with_bot(sim, scenario)
    assert [m["text"] for m in sim.local.messages(LI)] == ["只发一次", "下一条"]
    assert after.message_id == sim.local.messages(LI)[0]["message_id"] + 1


def test_the_control_api_refuses_malformed_faults(ctl: TelegramSimControl) -> None:
    for method, kind, params in (("sendMessage", "meteor", {}), ("sendMessage", "server_error", {"status": 404}),
                                 ("sendMessage", "duplicate_updates", {}), ("", "drop", {}),
                                 ("getMe", "delay", {"seconds": -1}), ("getMe", "retry_after", {"retry_after": 0})):
        with pytest.raises(SimError):
            ctl.inject(method, kind, **params)
    with pytest.raises(SimError, match="times"):
        ctl.inject("getMe", "drop", times=0)
    assert ctl.faults() == []


# ---------------------------------------------------------------------------------------------- webhooks


class Receiver:
    """A webhook endpoint on loopback recording what it gets; `statuses` are answered first, then 200."""

    def __init__(self, statuses: list[int] | None = None, reply: dict[str, Any] | None = None) -> None:
        self.posts: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        answer = json.dumps(reply or {}).encode()
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.cond:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.posts.append({"update": json.loads(body), "status": status,
                                           "secret": self.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                                           "content_type": self.headers.get("Content-Type")})
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/telegram/webhook"

    def wait(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.posts) >= count, timeout), f"got {len(self.posts)} posts"
            return list(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def test_a_webhook_gets_updates_in_order_with_the_secret_header(sim: TelegramSim, receiver: Receiver) -> None:
    async def set_hook(bot: Bot) -> Any:
        assert await bot.set_webhook(receiver.url, secret_token="s3cr3t_TOKEN-1") is True
        return await bot.get_webhook_info()

    info = with_bot(sim, set_hook)
    assert info.url == receiver.url
    for text in ("一", "二", "三"):
        sim.local.send_text(LI, text)
    posts = receiver.wait(3)
    assert [p["update"]["message"]["text"] for p in posts] == ["一", "二", "三"]
    assert {p["secret"] for p in posts} == {"s3cr3t_TOKEN-1"}
    assert posts[0]["content_type"] == "application/json"
    ids = [p["update"]["update_id"] for p in posts]
    assert ids == sorted(ids)
    sim.state.wait(lambda: len(sim.local.webhook_deliveries()) == 3, 15, "three deliveries recorded")
    assert with_bot(sim, lambda bot: bot.get_webhook_info()).pending_update_count == 0


def test_a_failing_webhook_is_retried_and_its_error_shown(sim: TelegramSim) -> None:
    flaky = Receiver(statuses=[500, 502])
    try:
        with_bot(sim, lambda bot: bot.set_webhook(flaky.url))
        sim.local.send_text(LI, "重试")
        sim.local.send_text(LI, "其后")
        posts = flaky.wait(4)
        assert [(p["update"]["message"]["text"], p["status"]) for p in posts] == [
            ("重试", 500), ("重试", 502), ("重试", 200), ("其后", 200)]
        assert posts[0]["secret"] is None
        sim.state.wait(lambda: len(sim.local.webhook_deliveries()) == 2, 15, "two deliveries recorded")
        first = sim.local.webhook_deliveries()[0]
        assert first["attempts"] == 3 and first["outcomes"] == ["500", "502", "200"]
        info = with_bot(sim, lambda bot: bot.get_webhook_info())
        assert info.last_error_message == "Wrong response from the webhook: 502" and info.last_error_date
    finally:
        flaky.close()


def test_get_updates_conflicts_with_a_webhook_until_it_is_deleted(sim: TelegramSim, receiver: Receiver) -> None:
    async def scenario(bot: Bot) -> None:
        await bot.set_webhook(receiver.url)
        with pytest.raises(TelegramConflictError) as conflict:
            await bot.get_updates()
        assert conflict.value.message == ("Conflict: can't use getUpdates method while webhook is active; "
                                          "use deleteWebhook to delete the webhook first")
        assert await bot.delete_webhook(drop_pending_updates=True) is True
        assert await bot.get_updates() == []

    with_bot(sim, scenario)


def test_set_webhook_can_drop_pending_updates_and_refuses_addresses_off_this_machine(sim: TelegramSim,
                                                                                    receiver: Receiver) -> None:
    sim.local.send_text(LI, "旧的")

    async def scenario(bot: Bot) -> None:
        with pytest.raises(TelegramBadRequest, match="bad webhook"):
            await bot.set_webhook("https://example.org/hook")
        with pytest.raises(TelegramBadRequest, match="secret token"):
            await bot.set_webhook(receiver.url, secret_token="has spaces")
        await bot.set_webhook(receiver.url, drop_pending_updates=True)

    with_bot(sim, scenario)
    sim.local.send_text(LI, "新的")
    assert [p["update"]["message"]["text"] for p in receiver.wait(1)] == ["新的"]


def test_a_duplicate_update_is_posted_twice_to_a_webhook(sim: TelegramSim, ctl: TelegramSimControl,
                                                         receiver: Receiver) -> None:
    with_bot(sim, lambda bot: bot.set_webhook(receiver.url))
    ctl.inject("*", "duplicate_updates")
    sim.local.send_text(LI, "重复")
    sim.local.send_text(LI, "单次")
    posts = receiver.wait(3)
    ids = [p["update"]["update_id"] for p in posts]
    assert ids[0] == ids[1] != ids[2]


def test_a_method_in_the_webhook_answer_is_carried_out(sim: TelegramSim) -> None:
    replying = Receiver(reply={"method": "sendMessage", "chat_id": LI, "text": "<b>收到</b>", "parse_mode": "HTML"})
    try:
        with_bot(sim, lambda bot: bot.set_webhook(replying.url))
        sim.local.send_text(LI, "你好")
        assert sim.local.wait_text(LI, "收到", timeout=15)["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    finally:
        replying.close()


# ---------------------------------------------------------------------------------------------- a real Dispatcher


def approval_router() -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        await message.answer(f"稿件 {command.args} 待您审批", reply_markup=keyboard(("批准", f"d:ok:{command.args}")))

    @router.callback_query(F.data.startswith("d:ok:"))
    async def approve(query: CallbackQuery) -> None:
        await query.answer("已批准")
        assert isinstance(query.message, Message) and query.data is not None
        await query.message.edit_text(f"稿件 {query.data.split(':')[2]} 已由 {query.from_user.first_name} 批准")

    return router


def test_a_polling_dispatcher_answers_a_message_and_a_callback(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        dp = Dispatcher()
        dp.include_router(approval_router())
        bot = sim.make_bot()
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=30))
        try:
            await asyncio.to_thread(ctl.start, LI, "17")
            [asked] = await asyncio.to_thread(ctl.wait_messages, LI, 1)
            query = (await asyncio.to_thread(ctl.press, LI, asked["message_id"], text="批准"))["callback_query"]
            answered = await asyncio.to_thread(ctl.wait_answer, query["id"])
            edited = await asyncio.to_thread(ctl.wait_text, LI, "已由")
            return answered, edited
        finally:
            await dp.stop_polling()
            await polling  # closes the bot's session

    answered, edited = run(scenario())
    assert answered["answer"]["text"] == "已批准"
    assert edited["text"] == "稿件 17 已由 娜 批准" and edited["reply_markup"] is None
    assert edited["history"][0]["text"] == "稿件 17 待您审批"
    assert ctl.calls("getMe") >= 1 and ctl.calls("getUpdates") >= 2


# ---------------------------------------------------------------------------------------------- control API


def test_http_and_in_process_controls_offer_the_same_methods() -> None:
    def public(cls: type) -> set[str]:
        return {name for name in vars(cls) if not name.startswith("_") and callable(getattr(cls, name))}

    assert public(TelegramSimControl) == public(LocalControl)


def test_wait_helpers_time_out_with_sim_timeout(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    started = time.monotonic()
    with pytest.raises(SimTimeout, match="1 bot message"):
        ctl.wait_messages(LI, 1, timeout=0.3)
    with pytest.raises(SimTimeout):
        sim.local.wait_text(LI, "never", timeout=0.3)
    assert time.monotonic() - started >= 0.6


def test_wait_helpers_wake_when_the_bot_writes(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    writer = threading.Timer(0.3, lambda: raw(sim, "sendMessage", data={"chat_id": LI, "text": "终于来了"}))
    writer.start()
    try:
        assert ctl.wait_text(LI, "终于")["text"] == "终于来了"
    finally:
        writer.join()


def test_control_requests_about_unknown_things_are_refused_clearly(ctl: TelegramSimControl) -> None:
    with pytest.raises(SimError, match="no user 4242"):
        ctl.send_text(4242, "hi")
    with pytest.raises(SimError, match="no bot has the token"):
        TelegramSimControl(ctl.root_url, token="1:nope").chat(LI)
    with pytest.raises(SimError, match="user_id"):
        ctl.add_user(-1, "x")
    with pytest.raises(SimError, match="unexpected keyword argument 'colour'"):
        ctl._act("send_text", user_id=LI, text="hi", colour="red")


def test_users_are_updated_in_place_and_a_blocked_user_cannot_write(ctl: TelegramSimControl) -> None:
    ctl.add_user(LI, "娜娜", username="nana")
    assert ctl.chat(LI)["user"]["first_name"] == "娜娜"
    ctl.block(LI)
    with pytest.raises(SimError, match="blocked"):
        ctl.send_text(LI, "hi")
    update = ctl.start(LI, "again")  # restarting unblocks
    assert update["message"]["text"] == "/start again"
    assert ctl.chat(LI)["blocked"] is False


def test_counters_and_reset(sim: TelegramSim, ctl: TelegramSimControl) -> None:
    async def scenario(bot: Bot) -> None:
        await bot.get_me()
        await bot.send_message(LI, "a")
        await bot.send_message(LI, "b")

    with_bot(sim, scenario)
    with_bot(sim, lambda bot: bot.get_me(), token=OTHER_TOKEN)
    assert ctl.call_counts() == {"getMe": 2, "sendMessage": 2}
    assert ctl.calls() == 4 and ctl.calls("sendmessage") == 2
    ctl.inject("*", "drop", times=None)
    ctl.reset()
    assert ctl.calls() == 0 and ctl.faults() == [] and ctl.snapshot()["users"] == []
    with pytest.raises(SimError):
        ctl.chat(LI)


def test_a_control_for_the_second_bot_sees_only_its_chats(sim: TelegramSim) -> None:
    second = TelegramSimControl(sim.api_base, token=OTHER_TOKEN)
    second.start(LI)
    with_bot(sim, lambda bot: bot.send_message(LI, "二号机器人"), token=OTHER_TOKEN)
    assert [m["text"] for m in second.messages(LI)] == ["二号机器人"]
    assert sim.control.messages(LI) == []


# ---------------------------------------------------------------------------------------------- lifecycle, CLI


def test_stopping_answers_a_waiting_long_poll_and_frees_the_port() -> None:
    running = TelegramSim(FAST).start()
    port = int(running.api_base.rsplit(":", 1)[1])
    outcome: list[Any] = []

    def poll() -> None:
        try:
            outcome.append(raw(running, "getUpdates", data={"timeout": "60"}).json())
        except requests.RequestException as exc:
            outcome.append(exc)

    poller = threading.Thread(target=poll)
    poller.start()
    running.state.wait(lambda: running.state.bot().poll_generation >= 1, 15, "the poll")
    started = time.monotonic()
    running.stop()
    poller.join(timeout=15)
    assert time.monotonic() - started < 10 and not poller.is_alive()
    assert outcome and (isinstance(outcome[0], requests.RequestException) or outcome[0] == {"ok": True, "result": []})
    assert sim_threads() == []
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_the_cli_serves_the_bot_api_until_interrupted() -> None:
    command = [sys.executable, "-m", "signoff", "sim", "telegram", "--port", "0", "--token", "123456:CLI-token"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            assert found, f"no address in {line!r}"
            base = found.group(0)
            answer = requests.post(f"{base}/bot123456:CLI-token/getMe", timeout=10).json()
            assert answer["ok"] is True and answer["result"]["id"] == 123456

            async def with_aiogram() -> int:
                from aiogram.client.session.aiohttp import AiohttpSession
                from aiogram.client.telegram import TelegramAPIServer

                bot = Bot("123456:CLI-token", session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
                try:
                    return (await bot.get_me()).id
                finally:
                    await bot.session.close()

            assert run(with_aiogram()) == 123456
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert server.returncode == 0, server.stderr.read() if server.stderr else ""
