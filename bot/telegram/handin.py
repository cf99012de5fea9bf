"""`/new`: handing in a draft as a conversation (aiogram FSM; its state lives in Redis, so a bot
restart loses nothing).

category (buttons, art. 26) → title → body as text or a Word .docx → photos (optional: the first
is the cover, all go into the article after the text) → for a repost, the source's name and URL
(art. 28) → a summary card with submit / edit / cancel.
Every answer is checked where it enters; a bad one gets a clear message and the conversation
stays where it was. Files are kept as Telegram file ids and fetched again when the post is
handed in, never parked in the conversation state.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
from typing import Any

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, Filter, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from approvals.rules import content
from approvals.rules.article import TITLE, check_cover, check_inline_image, check_plain_text
from approvals.rules.errors import SignoffError, Text
from approvals.rules.revisions import TITLE_MAX
from approvals.rules.states import CATEGORY_LABEL, Category
from approvals.services.chat import ChatPerson
from approvals.services.docx import DOCX_MAX_BYTES, docx_to_html
from approvals.services.handin import PICTURES_MAX
from bot.telegram.handlers import Context
from bot.telegram.routes import Routes

router = Routes("signoff-handin")

PHOTO_MAX_BYTES = 10 * 1024 * 1024
BODY_MAX = 20000  # characters of a typed body: a long article comes as a .docx
CLOSING_MARKS = "。，、；：！？）》」』"  # full-width marks a sentence may put right after a link
# The Telegram app sends a text longer than a message (4096) as several messages, each cut near
# that length: a part this long may have more coming.
SPLIT_AT = 3000

T: dict[str, Text] = {
    "category": Text("请选择稿件类别（第二十六条）：", "Choose the category (art. 26):"),
    "title": Text(f"请输入标题（最多 {TITLE_MAX} 字）：", f"Type the title (at most {TITLE_MAX} characters):"),
    "title_empty": Text("标题不能为空，请重新输入：", "The title cannot be empty; type it again:"),
    "title_long": Text(f"标题 {{n}} 字，公众号标题最多 {TITLE_MAX} 字，请缩短后重新输入：",
                       f"The title has {{n}} characters; WeChat allows {TITLE_MAX}. Shorten it "
                       "and type it again:"),
    "body": Text("请发送正文：直接输入文字，或发送 Word 文档（.docx）。",
                 "Send the body: type it, or send a Word document (.docx)."),
    "body_long": Text(f"正文过长（{{n}} 字，最多 {BODY_MAX} 字）。长文请发送 Word 文档（.docx）。",
                      f"The body is too long ({{n}} characters; at most {BODY_MAX}). Send a long "
                      "text as a Word document (.docx)."),
    "not_docx": Text("只接受 Word 文档（.docx），收到的是“{name}”。请发送 .docx 文件或直接输入正文。",
                     "Only Word documents (.docx) are accepted; this is “{name}”. Send a .docx or "
                     "type the body."),
    "too_big": Text("文件“{name}”为 {mb} MB，最大 {max} MB。请压缩图片后重新发送。",
                    "The file “{name}” is {mb} MB; at most {max} MB. Compress its pictures and "
                    "send it again."),
    "body_more": Text("已收到正文（共 {n} 字）。如果 Telegram 把长文分成了几条消息，请接着发送其余部分；"
                      "发完请点“完成”。",
                      "Body received ({n} characters so far). If Telegram cut a long text into "
                      "several messages, send the rest; press “Done” when it is all here."),
    "not_command": Text("“{c}”不是可用的命令，没有当作内容收下。要取消请发送 /cancel，要重新开始请发送 /new。",
                        "“{c}” is not a command here and was not taken as content. Send /cancel to "
                        "stop, or /new to start again."),
    "picture": Text("图片", "picture"),
    "use_summary_buttons": Text("请点下面的按钮：提交、修改或取消。",
                                "Press one of the buttons below: submit, edit or cancel."),
    "photo_as_file": Text("这张图片是以文件方式发送的：请以“图片”方式发送（不要选“文件”），或点下面的按钮继续。",
                          "That picture came as a file: send it as a photo (not as a file), or "
                          "press the button below to go on."),
    "source_name_long": Text("来源名称最多 100 字，请缩短后重新输入：",
                             "The source's name takes at most 100 characters; shorten it and type "
                             "it again:"),
    "docx_ok": Text("已读取 Word 文档“{name}”。", "Read the Word document “{name}”."),
    "photo": Text(f"可发送图片（可选，最多 {PICTURES_MAX} 张）：第一张作封面，所有图片按顺序放在正文之后。"
                  "不需要图片请点“跳过”。",
                  f"Send pictures (optional, at most {PICTURES_MAX}): the first is the cover, and "
                  "all go into the article after the text, in order. Press “Skip” for none."),
    "photo_ok": Text("已收到第 {n} 张图片。还有请继续发送，发完请点“完成”。",
                     "Picture {n} received. Send more, or press “Done”."),
    "photo_full": Text(f"已收到 {PICTURES_MAX} 张图片，不能再多了。请点“完成”。",
                       f"{PICTURES_MAX} pictures received, the most a draft takes. Press “Done”."),
    "photos": Text("{n} 张（第一张作封面）", "{n} (the first is the cover)"),
    "source_name": Text("转载信息须注明来源（第二十八条）。请输入来源名称（如：新华社）：",
                        "A repost names its source (art. 28). Type the source's name (e.g. Xinhua):"),
    "source_url": Text("请输入来源链接（http:// 或 https:// 开头，须为官方渠道）：",
                       "Type the source's link (starting with http:// or https://, an official "
                       "channel):"),
    "not_url": Text("这不是网址，请输入以 http:// 或 https:// 开头的来源链接：",
                    "That is not a link; type the source's address starting with http:// or "
                    "https://:"),
    "not_allowed_source": Text("来源“{s}”不在官方渠道白名单中，转载来源必须为官方渠道（第二十八条）。"
                               "请输入官方来源链接，或发送 /cancel 取消。",
                               "The source “{s}” is not on the allowlist of official channels "
                               "(art. 28). Type an official source's link, or /cancel."),
    "summary": Text("请核对：\n类别：{category}\n标题：{title}\n正文：{body}\n图片：{cover}{source}",
                    "Please check:\nCategory: {category}\nTitle: {title}\nBody: {body}\n"
                    "Pictures: {cover}{source}"),
    "source_line": Text("\n来源：{name} {url}", "\nSource: {name} {url}"),
    "typed": Text("文字，{n} 字", "typed, {n} characters"),
    "none": Text("无", "none"),
    "submitted": Text("已提交：稿件 #{id}《{title}》，等待法宣科排版。", "Handed in: post #{id} “{title}”, "
                      "waiting for layout by the Legal & Publicity section."),
    "warnings": Text("文档转换提示：", "Conversion notes:"),
    "expect_text": Text("请输入文字。", "Please type text."),
    "expect_body": Text("请直接输入正文，或发送 .docx 文件。", "Type the body, or send a .docx file."),
    "expect_photo": Text("请发送图片，或点下面的按钮继续。", "Send a picture, or press the button below "
                         "to go on."),
    "use_buttons": Text("请点上面的按钮。", "Please press one of the buttons above."),
    "submit": Text("提交", "Submit"),
    "edit": Text("修改", "Edit"),
    "cancel": Text("取消", "Cancel"),
    "skip": Text("跳过", "Skip"),
    "done": Text("完成", "Done"),
    "cancelled": Text("已取消，稿件未提交。", "Cancelled; nothing was handed in."),
    "stale": Text("这个按钮已失效。发送 /new 重新开始。", "This button has expired. Send /new to start again."),
}


def tx(key: str, lang: str, **kw: object) -> str:
    """The hand-in text `key` in `lang`."""
    text = T[key].get(lang)
    return text.format(**kw) if kw else text


class HandIn(StatesGroup):
    """Where the conversation stands."""

    category = State()
    title = State()
    body = State()
    body_more = State()  # a long typed body: the rest of what the Telegram app cut up
    photo = State()
    source_name = State()
    source_url = State()
    confirm = State()


class Step(CallbackData, prefix="h2"):
    """A button of the conversation: k is cat | skip | done | body | submit | edit | cancel; v
    its value; c the conversation it belongs to (a button left on an earlier draft's summary
    must not submit or cancel the one under way)."""

    k: str
    v: str = ""
    c: str = ""


class Current(Filter):
    """The button belongs to the conversation under way."""

    async def __call__(self, query: CallbackQuery, callback_data: Step, state: FSMContext
                       ) -> bool:
        return bool(callback_data.c) and callback_data.c == await _conversation(state)


async def _conversation(state: FSMContext) -> str:
    return str((await state.get_data()).get("conversation", ""))


def _categories(lang: str, conv: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=CATEGORY_LABEL[c].get(lang),
                              callback_data=Step(k="cat", v=c.value, c=conv).pack())]
        for c in Category])


def _one(kind: str, lang: str, conv: str, label: str | None = None) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=tx(label or kind, lang), callback_data=Step(k=kind, c=conv).pack())]])


def _confirm(lang: str, conv: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=tx(k, lang), callback_data=Step(k=k, c=conv).pack())
        for k in ("submit", "edit", "cancel")]])


# --- the steps -----------------------------------------------------------------------------------


@router.message(Command("new"))
async def new(message: Message, lang: str, state: FSMContext) -> None:
    """Start (or start over) handing in a draft."""
    await state.clear()
    conv = secrets.token_hex(4)
    await state.set_data({"conversation": conv})
    await state.set_state(HandIn.category)
    await message.answer(tx("category", lang), reply_markup=_categories(lang, conv))


@router.callback_query(Step.filter(F.k == "cat"), StateFilter(HandIn.category), Current())
async def chose_category(query: CallbackQuery, callback_data: Step, lang: str,
                         state: FSMContext) -> None:
    """The category button."""
    if callback_data.v not in {c.value for c in Category}:
        await query.answer(tx("stale", lang), show_alert=True)
        return
    await state.update_data(category=callback_data.v)
    await state.set_state(HandIn.title)
    await query.answer(CATEGORY_LABEL[Category(callback_data.v)].get(lang))
    if isinstance(query.message, Message):
        await query.message.answer(tx("title", lang))


@router.message(StateFilter(HandIn.category))
async def category_typed(message: Message, lang: str, state: FSMContext) -> None:
    """Anything but a button while the category is asked."""
    await message.answer(tx("use_buttons", lang),
                         reply_markup=_categories(lang, await _conversation(state)))


@router.message(StateFilter(HandIn.title, HandIn.body, HandIn.body_more, HandIn.source_name,
                           HandIn.source_url), F.text.regexp(r"^/[^\s/]"))
async def not_a_command(message: Message, lang: str) -> None:
    """A mistyped or unknown command where text is asked (the known ones are taken before):
    never taken as the title, the body or the source."""
    await message.answer(tx("not_command", lang, c=(message.text or "").split()[0][:40]))


@router.message(StateFilter(HandIn.title))
async def title(message: Message, lang: str, state: FSMContext) -> None:
    """The title: not empty, one line, within WeChat's limit, plain text (as the core will
    check it at hand-in: refused here, not after the summary)."""
    if message.text is None:
        await message.answer(tx("expect_text", lang))
        return
    text = " ".join(message.text.split())
    if not text:
        await message.answer(tx("title_empty", lang))
        return
    if len(text) > TITLE_MAX:
        await message.answer(tx("title_long", lang, n=len(text)))
        return
    try:
        check_plain_text(TITLE, text)
    except SignoffError as exc:
        await message.answer(exc.text.get(lang))
        return
    await state.update_data(title=text)
    data = await state.get_data()
    if data.get("body_kind"):  # editing: the body stays as it was
        await _summary(message, lang, state)
        return
    await state.set_state(HandIn.body)
    await message.answer(tx("body", lang))


@router.message(StateFilter(HandIn.body), F.document)
async def body_docx(message: Message, bot: Bot, lang: str, ctx: Context, state: FSMContext) -> None:
    """A Word document as the body: checked (type, size, readable) before the next step."""
    doc = message.document
    assert doc is not None
    name = doc.file_name or "?"
    if not name.lower().endswith(".docx"):  # one named .docx is read: its content says what it is
        await message.answer(tx("not_docx", lang, name=name))
        return
    if doc.file_size is not None and doc.file_size > DOCX_MAX_BYTES:
        await message.answer(tx("too_big", lang, name=name, mb=_mb(doc.file_size),
                                max=_mb(DOCX_MAX_BYTES)))
        return
    data = await _download(bot, doc.file_id, DOCX_MAX_BYTES)
    if data is None:
        await message.answer(tx("too_big", lang, name=name, mb=">" + _mb(DOCX_MAX_BYTES),
                                max=_mb(DOCX_MAX_BYTES)))
        return
    try:
        await asyncio.to_thread(docx_to_html, data, filename=name)
    except SignoffError as exc:
        await message.answer(exc.text.get(lang))
        return
    await state.update_data(body_kind="docx", docx=doc.file_id, docx_name=name)
    await message.answer(tx("docx_ok", lang, name=name))
    await _after_body(message, lang, state)


@router.message(StateFilter(HandIn.body, HandIn.body_more), F.text)
async def body_text(message: Message, lang: str, state: FSMContext) -> None:
    """The body typed as text; a long one may come as several messages (joined in order), so
    after a long part the conversation waits for more until “Done”."""
    part = (message.text or "").strip()
    if not part:
        await message.answer(tx("expect_body", lang))
        return
    more = await state.get_state() == HandIn.body_more.state
    text = (await state.get_data())["body"] + "\n" + part if more else part
    if len(text) > BODY_MAX:
        await message.answer(tx("body_long", lang, n=len(text)))
        return
    try:
        content.to_html(text, "text")  # control characters: refused here, not at hand-in
    except SignoffError as exc:
        await message.answer(exc.text.get(lang))
        return
    await state.update_data(body_kind="text", body=text)
    if more or len(part) >= SPLIT_AT:
        await state.set_state(HandIn.body_more)
        await message.answer(tx("body_more", lang, n=len(text)),
                             reply_markup=_one("body", lang, await _conversation(state), "done"))
        return
    await _after_body(message, lang, state)


@router.callback_query(Step.filter(F.k == "body"), StateFilter(HandIn.body_more), Current())
async def body_done(query: CallbackQuery, lang: str, state: FSMContext) -> None:
    """The whole long body is here."""
    await query.answer()
    if isinstance(query.message, Message):
        await _after_body(query.message, lang, state)


@router.message(StateFilter(HandIn.body, HandIn.body_more))
async def body_other(message: Message, lang: str, state: FSMContext) -> None:
    """A photo, a sticker, … where the body is asked (or its rest)."""
    if await state.get_state() == HandIn.body_more.state:
        await message.answer(tx("body_more", lang, n=len((await state.get_data())["body"])),
                             reply_markup=_one("body", lang, await _conversation(state), "done"))
        return
    await message.answer(tx("expect_body", lang))


async def _after_body(message: Message, lang: str, state: FSMContext) -> None:
    await state.set_state(HandIn.photo)
    await message.answer(tx("photo", lang), reply_markup=_one("skip", lang, await _conversation(state)))


@router.message(StateFilter(HandIn.photo), F.photo)
async def photo(message: Message, bot: Bot, lang: str, ctx: Context, state: FSMContext) -> None:
    """A picture: the largest size Telegram offers, checked as WeChat will check it (the first
    also as the cover). An album arrives as several messages at once: they are taken one at a
    time, and put in the order they were sent."""
    assert message.photo
    best = message.photo[-1]
    data = await _download(bot, best.file_id, PHOTO_MAX_BYTES)
    if data is None:
        await message.answer(tx("too_big", lang, name=tx("picture", lang), mb=">" + _mb(PHOTO_MAX_BYTES),
                                max=_mb(PHOTO_MAX_BYTES)))
        return
    async with ctx.lock(message.chat.id):
        kept = [(int(m), str(f)) for m, f in (await state.get_data()).get("photos", [])]
        if len(kept) >= PICTURES_MAX:
            await message.answer(tx("photo_full", lang), reply_markup=_one("done", lang, await _conversation(state)))
            return
        first = not kept or message.message_id < min(m for m, _ in kept)
        try:
            await asyncio.to_thread(check_inline_image, data, "photo.jpg")
            if first:
                await asyncio.to_thread(check_cover, data, "cover.jpg")
        except SignoffError as exc:
            await message.answer(exc.text.get(lang))
            return
        kept = sorted([*kept, (message.message_id, best.file_id)])
        await state.update_data(photos=kept)
    await message.answer(tx("photo_ok", lang, n=len(kept)), reply_markup=_one("done", lang, await _conversation(state)))


@router.callback_query(Step.filter(F.k.in_({"skip", "done"})), StateFilter(HandIn.photo), Current())
async def skip_photo(query: CallbackQuery, lang: str, state: FSMContext) -> None:
    """No (more) pictures: on to the next step (no cover: the account's default one)."""
    await query.answer()
    if isinstance(query.message, Message):
        await _after_photo(query.message, lang, state)


@router.message(StateFilter(HandIn.photo))
async def photo_other(message: Message, lang: str, state: FSMContext) -> None:
    """Anything but a picture where pictures are asked."""
    done = bool((await state.get_data()).get("photos"))
    as_file = message.document is not None and (message.document.mime_type or "").startswith("image/")
    await message.answer(tx("photo_as_file" if as_file else "expect_photo", lang),
                         reply_markup=_one("done" if done else "skip", lang, await _conversation(state)))


async def _after_photo(message: Message, lang: str, state: FSMContext) -> None:
    data = await state.get_data()
    if data.get("category") == Category.REPOST.value:
        await state.set_state(HandIn.source_name)
        await message.answer(tx("source_name", lang))
        return
    await _summary(message, lang, state)


@router.message(StateFilter(HandIn.source_name))
async def source_name(message: Message, lang: str, state: FSMContext) -> None:
    """The source's name (Xinhua, a ministry's account)."""
    text = " ".join((message.text or "").split())
    if not text or len(text) > 100:
        await message.answer(tx("source_name_long" if text else "source_name", lang))
        return
    await state.update_data(source_name=text)
    await state.set_state(HandIn.source_url)
    await message.answer(tx("source_url", lang))


@router.message(StateFilter(HandIn.source_url))
async def source_url(message: Message, lang: str, ctx: Context, state: FSMContext) -> None:
    """The source's link: a URL, on the allowlist of official channels (art. 28)."""
    # A sentence's closing mark typed after the link is not part of it; HTTPS:// is https://.
    text = (message.text or "").strip().rstrip(CLOSING_MARKS)
    scheme, sep, rest = text.partition("://")
    text = scheme.lower() + sep + rest
    if not text.startswith(("http://", "https://")) or any(ch.isspace() for ch in text) \
            or len(text) > 1000 or "." not in rest.split("/", 1)[0]:
        await message.answer(tx("not_url", lang))
        return
    if not ctx.svc.org.sources.allows(text):
        await message.answer(tx("not_allowed_source", lang, s=text))
        return
    await state.update_data(source_url=text)
    await _summary(message, lang, state)


async def _summary(message: Message, lang: str, state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_state(HandIn.confirm)
    body = tx("typed", lang, n=len(data.get("body", ""))) if data.get("body_kind") == "text" \
        else f"Word: {data.get('docx_name', '')}"
    source = tx("source_line", lang, name=data["source_name"], url=data["source_url"]) \
        if data.get("source_url") else ""
    await message.answer(tx("summary", lang, category=CATEGORY_LABEL[Category(data["category"])]
                            .get(lang), title=data["title"], body=body,
                            cover=tx("photos", lang, n=len(_photos(data))) if _photos(data)
                            else tx("none", lang),
                            source=source), reply_markup=_confirm(lang, data.get("conversation", "")))


@router.message(StateFilter(HandIn.confirm))
async def confirm_typed(message: Message, lang: str, state: FSMContext) -> None:
    """Anything typed at the summary ("提交", say): the buttons again."""
    await message.answer(tx("use_summary_buttons", lang),
                         reply_markup=_confirm(lang, await _conversation(state)))


@router.callback_query(Step.filter(F.k == "edit"), StateFilter(HandIn.confirm), Current())
async def edit(query: CallbackQuery, lang: str, state: FSMContext) -> None:
    """Change the title (the body and the rest stay unless /new starts over)."""
    await state.set_state(HandIn.title)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(tx("title", lang))


@router.callback_query(Step.filter(F.k == "cancel"), Current())
async def cancel(query: CallbackQuery, lang: str, state: FSMContext) -> None:
    """Drop the draft."""
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(tx("cancelled", lang))


@router.callback_query(Step.filter(F.k == "submit"), StateFilter(HandIn.confirm), Current())
async def submit(query: CallbackQuery, bot: Bot, person: ChatPerson, lang: str, ctx: Context,
                 state: FSMContext) -> None:
    """Hand the draft in through the core (which checks everything again); once, however often
    the button is tapped (the taps are taken one at a time, and the first ends the
    conversation)."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer()
        return
    async with ctx.lock(message.chat.id):
        if await state.get_state() != HandIn.confirm.state:
            await query.answer(tx("stale", lang), show_alert=True)
            return
        await query.answer()
        data = await state.get_data()
        try:
            post_id, warnings = await _hand_in(bot, ctx, person, data)
        except SignoffError as exc:
            await message.answer(exc.text.get(lang))
            return  # the conversation stays at the summary: edit or cancel
        await state.clear()
    if message.text:
        await _drop_buttons(bot, message)
    text = tx("submitted", lang, id=post_id, title=data["title"])
    if warnings:
        text += "\n" + tx("warnings", lang) + "\n" + "\n".join(f"· {w.get(lang)}" for w in warnings)
    await message.answer(text)


@router.callback_query(Step.filter())
async def stale(query: CallbackQuery, lang: str) -> None:
    """A button of a conversation that has moved on or ended."""
    await query.answer(tx("stale", lang), show_alert=True)


async def _hand_in(bot: Bot, ctx: Context, person: ChatPerson, data: dict[str, Any]
                   ) -> tuple[int, tuple[Text, ...]]:
    pictures = []
    for n, file_id in enumerate(_photos(data), 1):
        raw = await _download(bot, file_id, PHOTO_MAX_BYTES)
        if raw is not None:
            pictures.append((f"photo-{n}.jpg", raw))
    cover = ("cover.jpg", pictures[0][1], "image/jpeg") if pictures else None
    source = data.get("source_url")
    fields: dict[str, Any] = {"category": data["category"], "repost_source": source,
                              "cover": cover, "pictures": pictures}
    if data.get("body_kind") == "docx":
        raw = await _download(bot, data["docx"], DOCX_MAX_BYTES) or b""
        return await asyncio.to_thread(
            ctx.svc.create_post_from_docx, drafter=person.key, filename=data["docx_name"],
            data=raw, title=data["title"], source_name=data.get("source_name") if source else None,
            **fields)
    body = data["body"]
    if source:
        body += f"\n\n（来源：{data['source_name']}）"
    post_id = await asyncio.to_thread(ctx.svc.create_post, drafter=person.key,
                                      title=data["title"], body=body, body_format="text", **fields)
    return post_id, ()


def _photos(data: dict[str, Any]) -> list[str]:
    """The pictures' file ids in the order they were sent (a conversation begun before pictures
    went into the article kept one cover)."""
    if data.get("photos"):
        return [str(file_id) for _, file_id in sorted((int(m), f) for m, f in data["photos"])]
    return [data["cover"]] if data.get("cover") else []


async def _download(bot: Bot, file_id: str, limit: int) -> bytes | None:
    """A file's bytes from the Bot API server; None when it is over `limit`."""
    file = await bot.get_file(file_id)
    if file.file_size is not None and file.file_size > limit:
        return None
    buffer = io.BytesIO()
    assert file.file_path is not None
    await bot.download_file(file.file_path, buffer)
    data = buffer.getvalue()
    return data if len(data) <= limit else None


async def _drop_buttons(bot: Bot, message: Message) -> None:
    # Should the edit fail, the summary keeps its buttons: a second tap finds no conversation.
    with contextlib.suppress(TelegramBadRequest):
        await bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=message.message_id,
                                            reply_markup=None)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f}"
