"""Console logins: a password per person of the org chart, stored as a salted scrypt hash."""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

from approvals.rules.errors import InvalidInput, Text
from approvals.services.base import Deps
from approvals.services.state import resolve_person
from approvals.store import audit
from approvals.store import models as m

PASSWORD_MIN = 10
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

    def authenticate(self, person: str, password: str) -> str | None:
        """The person's key when the password is theirs, else None (never says which was wrong)."""
        found = self.deps.org.find_person(person.strip())
        with self.deps.sessions() as s:
            row = s.get(m.Account, found.key) if found else None
            stored = row.password_hash if row else _DUMMY
        ok = check_password_hash(stored, password)
        return found.key if ok and found is not None and row is not None else None
