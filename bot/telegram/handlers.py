"""The bot's handlers: who is who, commands, and one-tap decisions.

Every update first passes `PersonMiddleware`, which resolves the Telegram user to a person of the
org chart (or nobody). Handlers call the synchronous core on a worker thread (`asyncio.to_thread`)
so the loop keeps serving other people meanwhile; they trust nothing in callback data but ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, ErrorEvent, Message, TelegramObject, User

from approvals import present
from approvals.rules.errors import AlreadyDecided, NotFound, SignoffError, StaleRevision, normalize_language
from approvals.rules.states import ACTION_LABEL, Action, PostStatus
from approvals.services import Service
from approvals.services.chat import TELEGRAM, ChatPerson, app_language
from approvals.views import PostGlance, QueueQuery
from bot.cards import NEEDS_COMMENT, Card, Links, decided_text, post_card
from bot.telegram.callbacks import Decide
from bot.telegram.render import pieces
from bot.telegram.routes import Routes
from bot.texts import BUTTON, tr

log = logging.getLogger("signoff.bot")
router = Routes("signoff")
# Last of all routers: what nothing else understood.
fallback_router = Routes("signoff-fallback")
ANSWER_LIMIT = 200  # Telegram's limit on a callback answer's text


@dataclass(frozen=True)
class Context:
    """What the handlers share: the core's façade (channel "chat"), where links point, and a
    lock per chat for the steps that must take a chat's updates one at a time."""

    svc: Service
    links: Links
    locks: dict[int, asyncio.Lock] = field(default_factory=dict, compare=False)

    def lock(self, chat_id: int) -> asyncio.Lock:
        """The chat's lock (on this dispatcher's event loop)."""
        return self.locks.setdefault(chat_id, asyncio.Lock())


class Commenting(StatesGroup):
    """Waiting for the comment of a decision that needs one (request changes, reject)."""

    comment = State()


def language_of(person: ChatPerson | None, user: User | None) -> str:
    """The language chosen with /lang; else English when the Telegram app is in English; else
    the person's language in the org file (the unit's, zh-CN, unless it says otherwise)."""
    if person is not None and person.chosen:
        return person.language
    if user is not None and app_language(user.language_code) == "en":
        return "en"
    return person.language if person is not None else "zh-CN"


class OnceMiddleware(BaseMiddleware):
    """Each update is handled once: Telegram sends one again when the bot did not confirm it
    (a restart between handling and the next poll), and a decision or a comment must not be
    taken twice. Remembered in Redis when the conversations live there (across restarts and
    processes), else in this process."""

    KEEP_SECONDS = 2 * 24 * 3600  # Telegram keeps an unconfirmed update for 24 hours
    LOCAL_MAX = 10_000

    def __init__(self, redis: Any | None = None) -> None:
        self.redis = redis
        self._seen: dict[tuple[int, int], None] = {}

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        bot = data.get("bot")
        update_id = getattr(event, "update_id", None)
        if bot is None or update_id is None:
            return await handler(event, data)
        if self.redis is not None:
            fresh = await self.redis.set(f"signoff:bot:{bot.id}:update:{update_id}", 1,
                                         nx=True, ex=self.KEEP_SECONDS)
        else:
            key = (bot.id, update_id)
            fresh = key not in self._seen
            self._seen[key] = None
            while len(self._seen) > self.LOCAL_MAX:
                self._seen.pop(next(iter(self._seen)))
        if not fresh:
            log.info("update %s came again: handled once already", update_id)
            return None
        return await handler(event, data)


class PersonMiddleware(BaseMiddleware):
    """Resolves who wrote or pressed; a stranger gets one polite refusal and nothing else (a
    binding code, `/start CODE`, is the one thing they may send)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return None
        chat = self.ctx.svc.chat
        person = await asyncio.to_thread(chat.person_for, TELEGRAM, user.id)
        if person is not None and not person.chosen \
                and person.app_language != app_language(user.language_code):
            # What they are told (written by the core) follows the app too, until /lang.
            person = await asyncio.to_thread(chat.note_app_language, TELEGRAM, user.id,
                                             user.language_code)
        data["person"], data["lang"], data["ctx"] = person, language_of(person, user), self.ctx
        if person is not None:
            return await handler(event, data)
        lang = data["lang"]
        if isinstance(event, CallbackQuery):
            await event.answer(tr("stranger_tap", lang), show_alert=True)
            return None
        if isinstance(event, Message) and (event.text or "").startswith("/start ") \
                and event.chat.type == "private":
            return await handler(event, data)  # a binding code
        state: FSMContext | None = data.get("state")
        if state is not None and (await state.get_data()).get("refused"):
            return None  # told once already
        if isinstance(event, Message):
            await event.answer(tr("stranger", lang))
            if state is not None:
                await state.update_data(refused=True)
        return None


async def send_card(message: Message, card: Card) -> None:
    """Send a card as a reply in the same chat (split when long, buttons under the last piece)."""
    for text, markup in pieces(card):
        await message.answer(text, reply_markup=markup)


def _problem(exc: SignoffError, lang: str) -> str:
    if isinstance(exc, StaleRevision):
        return tr("superseded", lang)
    if isinstance(exc, AlreadyDecided):
        return tr("already_decided", lang)
    return exc.text.get(lang)


# --- who is who ----------------------------------------------------------------------------------


@router.message(CommandStart())
async def start(message: Message, command: CommandObject, person: ChatPerson | None, lang: str,
                ctx: Context, state: FSMContext) -> None:
    """Greet a person; link a stranger who sends a binding code."""
    if person is None:
        user = message.from_user
        assert user is not None
        display = f"@{user.username}" if user.username else user.full_name
        try:
            person = await asyncio.to_thread(
                ctx.svc.chat.link_with_code, command.args or "", service=TELEGRAM,
                user_id=user.id, chat_id=message.chat.id, display=display)
        except SignoffError as exc:
            await message.answer(exc.text.get(lang))
            return
        await state.clear()
        lang = language_of(person, user)
        await message.answer(tr("linked", lang, name=person.name) + "\n\n" + tr("help", lang))
        return
    await message.answer(tr("welcome", lang, name=person.name) + "\n\n" + tr("help", lang))


@router.message(Command("help"))
async def help_(message: Message, lang: str) -> None:
    """What the bot can do."""
    await message.answer(tr("help", lang))


@router.message(Command("lang"))
async def lang_(message: Message, command: CommandObject, person: ChatPerson, lang: str,
                ctx: Context) -> None:
    """Choose the language of everything the person reads."""
    wanted = (command.args or "").strip()
    if not wanted:
        await message.answer(tr("lang_usage", lang))
        return
    user = message.from_user
    assert user is not None
    try:
        chosen = await asyncio.to_thread(ctx.svc.chat.set_language, TELEGRAM, user.id,
                                         message.chat.id, wanted)
    except SignoffError as exc:
        await message.answer(exc.text.get(lang))
        return
    await message.answer(tr("lang_set", chosen.language))


@router.message(Command("cancel"))
async def cancel(message: Message, lang: str, state: FSMContext) -> None:
    """Stop what is under way (a comment, a hand-in)."""
    if await state.get_state() is None:
        await message.answer(tr("nothing_to_cancel", lang))
        return
    await state.clear()
    await message.answer(tr("cancelled", lang))


# --- reading -------------------------------------------------------------------------------------


@router.message(Command("pending"))
async def pending(message: Message, person: ChatPerson, lang: str, ctx: Context) -> None:
    """Each post waiting on the person, as a card with its buttons."""
    org = ctx.svc.org
    found = await asyncio.to_thread(ctx.svc.waiting_on, person.key)
    if not found:
        await message.answer(tr("nothing_pending", lang))
        return
    await message.answer(tr("pending_head", lang, n=len(found)))
    for post, _ in found[:10]:
        card = await asyncio.to_thread(post_card, ctx.svc, post.id, person.key, lang,
                                       present.post_line(post, org, lang), ctx.links)
        await send_card(message, card)


@router.message(Command("mine"))
async def mine(message: Message, person: ChatPerson, lang: str, ctx: Context) -> None:
    """The person's own drafts, newest first, with where each stands."""
    page = await asyncio.to_thread(ctx.svc.queue, QueueQuery(drafter=person.key, per_page=20))
    if not page.posts:
        await message.answer(tr("no_posts", lang))
        return
    lines = [tr("mine_head", lang)] + [present.post_line(p, ctx.svc.org, lang) for p in page.posts]
    await send_card(message, Card("\n".join(lines)))


@router.message(Command("status"))
async def status(message: Message, command: CommandObject, person: ChatPerson, lang: str,
                 ctx: Context) -> None:
    """One post in full, with the buttons the person may press."""
    arg = (command.args or "").strip().lstrip("#")
    if not arg.isdecimal() or not 0 < int(arg) < 2**31:
        await message.answer(tr("status_usage", lang))
        return
    svc = ctx.svc

    def build() -> Card:
        view = svc.view(int(arg))
        allowed = svc.allowed_in(view, person.key)
        head = present.post_view(view, svc.org, svc.zone, lang, allowed, person.key)
        return post_card(svc, int(arg), person.key, lang, head, ctx.links)

    try:
        card = await asyncio.to_thread(build)
    except SignoffError as exc:
        await message.answer(exc.text.get(lang))
        return
    await send_card(message, card)


# --- deciding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tap:
    """What a tap came to, worked out on a worker thread in one go (the post read, the
    revision compared, what the person may do now, the action taken)."""

    outcome: str  # "unknown", "superseded", "refused", "comment" or "done"
    view: PostGlance | None = None
    already: bool = False  # refused: the person (or the chain) is past this step
    problem: SignoffError | None = None  # the core refused the action (outcome "refused")


def tap(svc: Service, data: Decide, person_key: str) -> Tap:
    """Check that the revision the person saw is still current and that they may take the
    action now, then take it (unless it needs a comment first). Synchronous: the core's."""
    action = data.action
    try:
        view = svc.glance(data.p)
    except NotFound:
        return Tap("unknown")
    if action is None:
        return Tap("unknown")
    current = view.revision_hash or ""
    if not current or not data.matches(current):
        return Tap("superseded", view)
    if action not in svc.allowed_now(view, person_key):
        mine = any(d.revision_hash == current and person_key in (d.actor, d.on_behalf_of)
                   for d in view.state.decisions)
        return Tap("refused", view, already=mine or view.post.status is not PostStatus.IN_REVIEW)
    if action in NEEDS_COMMENT:
        return Tap("comment", view)
    try:
        svc.act(view.post.id, action, person_key, revision_hash=current)
    except SignoffError as exc:
        return Tap("refused", view, problem=exc)
    return Tap("done", view)


@router.callback_query(Decide.filter())
async def decide(query: CallbackQuery, callback_data: Decide, person: ChatPerson, lang: str,
                 ctx: Context, state: FSMContext) -> None:
    """One tap: check the revision the person saw is still current, then act (or ask for the
    comment first)."""
    svc, action = ctx.svc, callback_data.action
    done = await asyncio.to_thread(tap, svc, callback_data, person.key)
    view = done.view
    if done.outcome == "unknown" or view is None or action is None:
        await query.answer(tr("not_yours", lang), show_alert=True)
        return
    current = view.revision_hash or ""
    if done.outcome == "superseded":
        await query.answer(tr("superseded", lang), show_alert=True)
        if current and isinstance(query.message, Message):
            card = await asyncio.to_thread(post_card, svc, view.post.id, person.key, lang,
                                           present.post_line(view.post, svc.org, lang), ctx.links)
            await send_card(query.message, card)
        return
    if done.problem is not None:
        await query.answer(_problem(done.problem, lang)[:ANSWER_LIMIT], show_alert=True)
        return
    if done.outcome == "refused":
        await query.answer(tr("already_decided" if done.already else "not_yours", lang),
                           show_alert=True)
        return
    if done.outcome == "comment":
        message = query.message
        await state.set_state(Commenting.comment)
        await state.update_data(post=view.post.id, revision=current, action=action.value,
                                chat=message.chat.id if message else None,
                                message=message.message_id if message else None,
                                text=message.text if isinstance(message, Message) else None)
        await query.answer()
        if isinstance(message, Message):
            # Named as the button pressed was (驳回), not as the log names the action (否决).
            await message.answer(tr("ask_comment", lang, action=BUTTON[action].get(lang)))
        return
    if await state.get_state() == Commenting.comment.state and \
            (await state.get_data()).get("post") == view.post.id:
        await state.clear()  # decided without the comment asked for: nothing waits for it now
    label = ACTION_LABEL[action].get(lang)
    await query.answer(tr("done", lang, action=label)[:ANSWER_LIMIT])
    if isinstance(query.message, Message) and query.message.text:
        await _mark_decided(query.message.bot, query.message.chat.id, query.message.message_id,
                            query.message.text, person, action, ctx, lang)


@router.message(StateFilter(Commenting.comment), F.text, ~F.text.startswith("/"))
async def comment(message: Message, person: ChatPerson, lang: str, ctx: Context,
                  state: FSMContext) -> None:
    """The comment of a decision that needs one: act with it, on the revision the tap was on.
    (A command is a command meanwhile: /new starts a draft instead.)"""
    text = (message.text or "").strip()
    if not text:
        await message.answer(tr("comment_empty", lang))
        return
    data = await state.get_data()
    await state.clear()
    action = Action(data["action"])
    try:
        await asyncio.to_thread(ctx.svc.act, int(data["post"]), action, person.key,
                                revision_hash=str(data["revision"]), comment=text)
    except SignoffError as exc:
        await message.answer(_problem(exc, lang))
        return
    await message.answer(tr("done", lang, action=ACTION_LABEL[action].get(lang)))
    if data.get("chat") and data.get("message"):
        await _mark_decided(message.bot, int(data["chat"]), int(data["message"]),
                            data.get("text"), person, action, ctx, lang)


async def _mark_decided(bot: Any, chat_id: int, message_id: int, text: str | None,
                        person: ChatPerson, action: Action, ctx: Context, lang: str) -> None:
    """Edit the card that was tapped: who decided what and when, no buttons left."""
    if bot is None:
        return
    try:
        if text is None:
            await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id,
                                                reply_markup=None)
            return
        await bot.edit_message_text(
            chat_id=chat_id, message_id=message_id, reply_markup=None,
            text=decided_text(text, person.name, action, ctx.svc.now(), ctx.svc.zone, lang))
    except TelegramBadRequest:
        pass  # the message is gone or already shows it: the decision stands either way


async def on_error(event: ErrorEvent, signoff: Context | None = None) -> bool:
    """An unforeseen failure: logged with its traceback, and the person is told, never left
    waiting (a tap gets its answer, a message a reply), in the language they chose when they
    can still be looked up."""
    log.error("update %s failed", event.update.update_id, exc_info=event.exception)
    update = event.update
    user = update.event.from_user if update.event is not None else None  # type: ignore[union-attr]
    person = None
    if signoff is not None and user is not None:
        with contextlib.suppress(Exception):  # the failure may be the database's own
            person = await asyncio.to_thread(signoff.svc.chat.person_for, TELEGRAM, user.id)
    lang = language_of(person, user) if person is not None else \
        normalize_language(user.language_code if user else None)
    with contextlib.suppress(Exception):
        if update.callback_query is not None:
            await update.callback_query.answer(tr("busy", lang), show_alert=True)
        elif update.message is not None:
            await update.message.answer(tr("busy", lang))
    return True


@fallback_router.callback_query()
async def unknown_button(query: CallbackQuery, lang: str) -> None:
    """A button whose data no handler reads (another version's, cut short, forged): answered,
    so that the button does not spin, and nothing is done."""
    await query.answer(tr("unknown_button", lang), show_alert=True)


@fallback_router.message()
async def fallback(message: Message, lang: str) -> None:
    """Anything else: say what the bot understands."""
    await message.answer(tr("unknown_command", lang) if (message.text or "").startswith("/")
                         else tr("help", lang))
