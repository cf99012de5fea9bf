"""Console logins and API tokens: a password per person of the org chart, stored as a salted
scrypt hash; bearer tokens for the JSON API, stored as their SHA-256 (a token has 256 random
bits, so a fast hash loses nothing and lets a request find its token by an index)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from approvals.rules.errors import InvalidInput, NotFound, Text
from approvals.services.base import Deps
from approvals.services.state import resolve_person
from approvals.store import audit
from approvals.store import models as m

PASSWORD_MIN = 10
PASSWORD_MAX = 200  # what the login and invite forms read
TOKEN_PREFIX = "sgf_"
TOKEN_NAME_MAX = 100
# A token's last use is written at most this often (a busy client must not write on every call).
LAST_USED_EVERY_SECONDS = 60
# Checked against when the person is unknown or has no password, so that a wrong name takes as
# long as a wrong password.
_DUMMY = generate_password_hash("signoff-no-such-account")


class Accounts:
    """Set and check console passwords."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def set_password(self, person: str, password: str, *, by: str) -> str:
        """Give `person` (key or name) a new password; returns their key.

        Raises:
            NotFound: no such person. InvalidInput: a password too short or all one character.
        """
        key = resolve_person(self.deps.org, person)
        if len(password) < PASSWORD_MIN or len(set(password)) < 4:
            raise InvalidInput(Text(f"密码至少 {PASSWORD_MIN} 个字符，且不能过于简单。",
                                    f"A password needs at least {PASSWORD_MIN} characters and "
                                    "must not be trivial."))
        if len(password) > PASSWORD_MAX:  # the login form reads no more than this
            raise InvalidInput(Text(f"密码最多 {PASSWORD_MAX} 个字符。",
                                    f"A password has at most {PASSWORD_MAX} characters."))
        if not password.isprintable():  # control, format and surrogate characters alike
            # A line ending, a tab, bytes that were not UTF-8: nobody could type it at the login.
            raise InvalidInput(Text("密码含有无法在登录框输入的字符（换行、制表符或控制字符）。",
                                    "The password holds a character no one can type at the "
                                    "login (a line break, a tab or a control character)."))
        hashed = generate_password_hash(password)
        now = self.deps.now()
        with self.deps.uow() as uow:
            s = uow.session
            row = s.get(m.Account, key)
            if row is None:
                s.add(m.Account(person=key, password_hash=hashed, updated_at=now))
            else:
                row.password_hash, row.updated_at = hashed, now
            audit.append(s, actor=by, action="account.password_set", post_id=None, at=now,
                         detail={"person": key, "channel": self.deps.channel})
        return key

    def fingerprint(self, person: str) -> str:
        """What a one-time invite is bound to: the person's current password hash, hashed (""
        without one). Setting a password changes it, so an invite works once."""
        key = resolve_person(self.deps.org, person)
        with self.deps.sessions() as s:
            row = s.get(m.Account, key)
            return hashlib.sha256(row.password_hash.encode()).hexdigest()[:32] if row else ""

    def authenticate(self, person: str, password: str) -> str | None:
        """The person's key when the password is theirs, else None (never says which was wrong)."""
        found = self.deps.org.find_person(person.strip())
        with self.deps.sessions() as s:
            row = s.get(m.Account, found.key) if found else None
            stored = row.password_hash if row else _DUMMY
        ok = check_password_hash(stored, password)
        return found.key if ok and found is not None and row is not None else None


@dataclass(frozen=True)
class TokenInfo:
    """An API token as lists show it (never the token itself)."""

    id: int
    person: str
    name: str
    prefix: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Tokens:
    """Issue, list, revoke and check bearer tokens for the JSON API."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def issue(self, person: str, name: str, *, by: str) -> tuple[TokenInfo, str]:
        """A new token for `person` (key or name), labelled `name`; the token is returned once
        and only its hash is kept.

        Raises:
            NotFound: no such person. InvalidInput: an empty or over-long name.
        """
        key = resolve_person(self.deps.org, person)
        label = " ".join(name.split())
        if not label or len(label) > TOKEN_NAME_MAX or not label.isprintable():
            raise InvalidInput(Text(f"令牌名称不能为空，最多 {TOKEN_NAME_MAX} 个字符。",
                                    f"A token's name must not be empty and has at most "
                                    f"{TOKEN_NAME_MAX} characters."))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.deps.now()
        with self.deps.uow() as uow:
            s = uow.session
            row = m.ApiToken(person=key, name=label, prefix=token[:10], token_hash=token_hash(token),
                             created_at=now, created_by=by)
            s.add(row)
            s.flush()
            audit.append(s, actor=by, action="account.token_issued", post_id=None, at=now,
                         detail={"person": key, "token": row.id, "name": label,
                                 "channel": self.deps.channel})
            info = _info(row)
        return info, token

    def revoke(self, token_id: int, *, by: str) -> TokenInfo:
        """Revoke a token for good (revoking it again changes nothing).

        Raises:
            NotFound: no such token.
        """
        now = self.deps.now()
        with self.deps.uow() as uow:
            s = uow.session
            row = s.get(m.ApiToken, token_id)
            if row is None:
                raise NotFound(Text(f"没有编号为 {token_id} 的令牌。", f"There is no token {token_id}."))
            if row.revoked_at is None:
                row.revoked_at = now
                audit.append(s, actor=by, action="account.token_revoked", post_id=None, at=now,
                             detail={"person": row.person, "token": row.id,
                                     "channel": self.deps.channel})
            return _info(row)

    def list(self, person: str | None = None) -> list[TokenInfo]:
        """Every token (of one person), newest first."""
        key = resolve_person(self.deps.org, person) if person is not None else None
        with self.deps.sessions() as s:
            query = select(m.ApiToken).order_by(m.ApiToken.id.desc())
            if key is not None:
                query = query.where(m.ApiToken.person == key)
            return [_info(row) for row in s.scalars(query)]

    def person_for(self, token: str) -> str | None:
        """Whose token this is: None for an unknown or revoked token, or one whose person has
        left the org chart."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        digest = token_hash(token)
        now = self.deps.now()
        with self.deps.sessions() as s:
            row = s.scalars(select(m.ApiToken).where(m.ApiToken.token_hash == digest)).first()
            if row is None or row.revoked_at is not None or self.deps.org.find_person(row.person) is None:
                return None
            person, last = row.person, row.last_used_at
            token_id = row.id
        if last is None or (now - last).total_seconds() >= LAST_USED_EVERY_SECONDS:
            with self.deps.uow() as uow:
                uow.session.execute(update(m.ApiToken).where(m.ApiToken.id == token_id)
                                    .values(last_used_at=now))
        return person


def _info(row: m.ApiToken) -> TokenInfo:
    return TokenInfo(id=row.id, person=row.person, name=row.name, prefix=row.prefix,
                     created_at=row.created_at, created_by=row.created_by,
                     last_used_at=row.last_used_at, revoked_at=row.revoked_at)
