"""Who a chat user is: people linked to their chat accounts (Telegram now, another messenger later).

A person is reached in chat either through the telegram_id the org file gives them, or through a
one-time binding code an admin issues (`signoff people bind-code PERSON`) and the person sends to
the bot (`/start CODE`). Codes are kept as their SHA-256 only, expire, and work once. The language
a person chooses in chat (`/lang`) is kept with their link and used for everything they are told;
until they choose, a chat app in English has them told in English, as the bot answers them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from approvals.rules.errors import InvalidInput, NotAllowed, NotFound, Text, normalize_language
from approvals.services.base import Deps
from approvals.services.state import resolve_person
from approvals.store import audit
from approvals.store import models as m

TELEGRAM = "telegram"
CODE_DAYS = 3
_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class ChatPerson:
    """The person behind a chat user, and the language they read in."""

    key: str
    name: str
    language: str
    chosen: bool = False  # chosen in chat (/lang): it wins over the chat app's language
    app_language: str | None = None  # as last seen: "en" when the chat app is in English


def app_language(language_code: str | None) -> str | None:
    """What a chat app's language means here: "en" for English, None for anything else (the
    person then reads the language the org file gives them, the unit's by default)."""
    return "en" if (language_code or "").strip().lower().startswith("en") else None


@dataclass(frozen=True)
class ChatLinkView:
    """A chat account as the people page lists it."""

    person: str
    service: str
    user_id: int
    display: str
    language: str | None
    linked_at: datetime | None
    linked_by: str


def code_hash(code: str) -> str:
    """What is stored of a binding code."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def _bad_code() -> InvalidInput:
    return InvalidInput(Text("绑定码无效、已过期或已使用。请向管理员索取新的绑定码。",
                             "This binding code is invalid, expired or already used. "
                             "Ask an admin for a new one."))


class ChatAccounts:
    """Binding codes, links and the language people chose in chat."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # --- codes ------------------------------------------------------------------------------------

    def issue_code(self, person: str, *, by: str) -> tuple[str, datetime]:
        """A one-time code that links the first chat account to send it to `person` (key or
        name); returns the code (shown only now) and when it expires.

        Raises:
            NotFound: no such person.
        """
        key = resolve_person(self.deps.org, person)
        code = secrets.token_urlsafe(18)  # 24 characters, all allowed in a /start deep link
        now = self.deps.now()
        expires = now + timedelta(days=CODE_DAYS)
        with self.deps.uow() as uow:
            s = uow.session
            s.add(m.ChatCode(code_hash=code_hash(code), person=key, created_at=now, created_by=by,
                             expires_at=expires))
            audit.append(s, actor=by, action="chat.code_issued", post_id=None, at=now,
                         detail={"person": key, "channel": self.deps.channel})
        return code, expires

    def link_with_code(self, code: str, *, service: str, user_id: int, chat_id: int,
                       display: str = "") -> ChatPerson:
        """Link a chat user to the person a code was issued for; the code is spent.

        Raises:
            InvalidInput: an unknown, expired or used code.
            NotAllowed: this chat user already belongs to someone else.
        """
        code = code.strip()
        if not 8 <= len(code) <= 64 or not set(code) <= _CODE_CHARS:
            raise _bad_code()
        now = self.deps.now()
        with self.deps.uow() as uow:
            s = uow.session
            row = s.get(m.ChatCode, code_hash(code), with_for_update=True)
            if row is None or row.used_at is not None or row.expires_at <= now \
                    or row.person not in self.deps.org.people:
                raise _bad_code()
            taken = self._owner(s, service, user_id)
            if taken is not None and taken != row.person:
                raise NotAllowed(Text("这个聊天账号已绑定到另一位人员。请联系管理员。",
                                    "This chat account is already linked to someone else. "
                                    "Ask an admin."))
            row.used_at = now
            # One account per person and service: a new binding replaces the old one.
            s.execute(delete(m.ChatLink).where(m.ChatLink.service == service,
                                               (m.ChatLink.person == row.person)
                                               | (m.ChatLink.user_id == user_id)))
            s.add(m.ChatLink(service=service, person=row.person, user_id=user_id, chat_id=chat_id,
                             display=display[:128], linked_at=now, linked_by=row.created_by))
            audit.append(s, actor=row.person, action="chat.linked", post_id=None, at=now,
                         detail={"person": row.person, "service": service,
                                 "channel": self.deps.channel})
            person = row.person
        return self._chat_person(person, None)

    # --- who is who -------------------------------------------------------------------------------

    def person_for(self, service: str, user_id: int) -> ChatPerson | None:
        """The person behind a chat user, or None for a stranger (or someone who left)."""
        with self.deps.standalone() as s:
            row = s.scalars(select(m.ChatLink).where(m.ChatLink.service == service,
                                                     m.ChatLink.user_id == user_id)).first()
            key, chosen, app = (row.person, row.language, row.app_language) if row is not None \
                else (None, None, None)
        if key is None and service == TELEGRAM:
            found = next((p for p in self.deps.org.people.values() if p.telegram_id == user_id), None)
            key = found.key if found else None
        if key is None or key not in self.deps.org.people:
            return None
        return self._chat_person(key, chosen, app)

    def note_app_language(self, service: str, user_id: int, language_code: str | None
                          ) -> ChatPerson | None:
        """Remember the language a chat user's app reports (`app_language`), for what they are
        told until they choose one with /lang; None for a stranger. A face calls this only when
        it differs from the person's `app_language`, so nothing is written on every message."""
        person = self.person_for(service, user_id)
        if person is None:
            return None
        app = app_language(language_code)
        if app == person.app_language:
            return person
        try:
            with self.deps.uow() as uow:
                self._link_of(uow.session, service, person.key, user_id, user_id).app_language = app
        except IntegrityError:  # their first two messages at once: the other one wrote it
            return self.person_for(service, user_id)
        return self._chat_person(person.key, person.language if person.chosen else None, app)

    def set_language(self, service: str, user_id: int, chat_id: int, language: str) -> ChatPerson:
        """Keep the language a chat user chose for everything they are told from now on.

        Raises:
            InvalidInput: not zh-CN or en. NotFound: a stranger.
        """
        lang = normalize_language(language)
        if language.strip().lower() not in {"zh", "zh-cn", "cn", "中文", "en", "english"}:
            raise InvalidInput(Text("可选语言：zh-CN（中文）或 en（English）。",
                                    "Languages: zh-CN (Chinese) or en (English)."))
        person = self.person_for(service, user_id)
        if person is None:
            raise NotFound(Text("您尚未绑定。", "You are not linked yet."))
        with self.deps.uow() as uow:
            self._link_of(uow.session, service, person.key, user_id, chat_id).language = lang
        return ChatPerson(person.key, person.name, lang, True, person.app_language)

    def address(self, service: str, person: str) -> int | None:
        """Where `person` is reached on `service`: their linked chat, else the org file's id."""
        with self.deps.sessions() as s:
            return self.address_in(s, service, person)

    def address_in(self, s: Session, service: str, person: str) -> int | None:
        """`address`, inside an open session."""
        return self.addresses_in(s, {(service, person)})[(service, person)]

    def addresses_in(self, s: Session, wanted: set[tuple[str, str]]
                     ) -> dict[tuple[str, str], int | None]:
        """`address` of each (service, person), read in one statement inside an open session."""
        linked: dict[tuple[str, str], int] = {}
        if wanted:
            for service, person, chat in s.execute(
                    select(m.ChatLink.service, m.ChatLink.person, m.ChatLink.chat_id)
                    .where(m.ChatLink.person.in_({p for _, p in wanted}))):
                linked.setdefault((service, person), int(chat))
        found: dict[tuple[str, str], int | None] = {}
        for service, person in wanted:
            chat = linked.get((service, person))
            if chat is None:
                who = self.deps.org.people.get(person)
                chat = who.telegram_id if who is not None and service == TELEGRAM else None
            found[(service, person)] = chat
        return found

    def links(self) -> list[ChatLinkView]:
        """Every chat account: those linked by code or language choice, then the org file's ids
        nobody has used yet."""
        with self.deps.sessions() as s:
            rows = s.scalars(select(m.ChatLink).order_by(m.ChatLink.person)).all()
            found = [ChatLinkView(r.person, r.service, r.user_id, r.display, r.language,
                                  r.linked_at, r.linked_by) for r in rows]
        seen = {(v.service, v.person) for v in found}
        found += [ChatLinkView(p.key, TELEGRAM, p.telegram_id, "", None, None, "org-file")
                  for p in self.deps.org.people.values()
                  if p.telegram_id and (TELEGRAM, p.key) not in seen]
        return found

    def _link_of(self, s: Session, service: str, person: str, user_id: int, chat_id: int
                 ) -> m.ChatLink:
        """The person's link on `service`; someone the org file names gets theirs now."""
        row = s.scalars(select(m.ChatLink).where(m.ChatLink.service == service,
                                                 m.ChatLink.person == person)).first()
        if row is None:
            row = m.ChatLink(service=service, person=person, user_id=user_id, chat_id=chat_id,
                             linked_at=self.deps.now(), linked_by="org-file")
            s.add(row)
        return row

    def _owner(self, s: Session, service: str, user_id: int) -> str | None:
        owner = s.scalars(select(m.ChatLink.person).where(m.ChatLink.service == service,
                                                          m.ChatLink.user_id == user_id)).first()
        if owner is None and service == TELEGRAM:
            owner = next((p.key for p in self.deps.org.people.values()
                          if p.telegram_id == user_id), None)
        return owner

    def _chat_person(self, key: str, chosen: str | None, app: str | None = None) -> ChatPerson:
        person = self.deps.org.people[key]
        return ChatPerson(key, person.name, normalize_language(chosen or app or person.language),
                          chosen is not None, app)

