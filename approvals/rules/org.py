"""The org chart as plain values: people, departments, roles, delegations, chain and allowlist."""

from __future__ import annotations

import fnmatch
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlsplit

from approvals.rules.deadlines import WorkCalendar
from approvals.rules.states import Step


@dataclass(frozen=True)
class Person:
    """A member of staff (or the operator) known to the org chart."""

    key: str
    name: str
    title: str = ""
    language: str | None = None  # None: the unit's language (settings)
    telegram_id: int | None = None


@dataclass(frozen=True)
class Department:
    """A 科室 with its head (科室负责人) and supervising leader (分管领导)."""

    code: str
    name: str
    head: str
    supervising_leader: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delegation:
    """`deputy` may act for `principal` on `steps` (all steps when empty) from start to end."""

    deputy: str
    principal: str
    start: date
    end: date
    steps: tuple[Step, ...] = ()
    reason: str = ""

    def covers(self, step: Step, on: date) -> bool:
        """Whether this delegation lets the deputy act on `step` on day `on`."""
        return self.start <= on <= self.end and (not self.steps or step in self.steps)


@dataclass(frozen=True)
class ChainConfig:
    """Which steps a post walks, and the four-eyes policy."""

    steps: tuple[Step, ...] = (Step.DRAFTER_CONFIRM, Step.DEPT_HEAD, Step.REVIEWER, Step.ISSUER)
    reject_allowed_at: tuple[Step, ...] = (Step.DEPT_HEAD, Step.REVIEWER, Step.ISSUER)
    # Four eyes: one person fills two steps of one post only where this is switched on.
    allow_same_person_in_two_steps: bool = False
    # Who takes a step when the org chart resolves someone already in the chain, in order: the
    # first of them not already in the post's chain takes it (主要领导, then a named alternate).
    fallback: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceAllowlist:
    """Art. 28: official channels a repost may come from."""

    domains: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    def allows(self, source: str) -> bool:
        """Whether `source` (a URL or an official account's name) is an allowlisted channel."""
        source = source.strip()
        if not source:
            return False
        if "://" in source:
            host = _host_of(source)
            return host is not None and any(_domain_matches(host, d) for d in self.domains)
        wanted = _fold(source)
        return any(_fold(a) == wanted for a in self.accounts)


def _host_of(url: str) -> str | None:
    # Official links need no backslashes, whitespace or user info; browsers read those
    # differently from urlsplit (a backslash ends the host), so refuse them outright.
    if "\\" in url or any(ch.isspace() for ch in url.strip()):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return parts.hostname.rstrip(".").lower()


def _domain_matches(host: str, pattern: str) -> bool:
    pattern = pattern.strip().lower().rstrip(".")
    if pattern.startswith("*."):
        # "*.gov.cn" covers every subdomain of gov.cn and gov.cn itself, never "evilgov.cn"
        base = pattern[2:]
        return host == base or host.endswith("." + base)
    return fnmatch.fnmatchcase(host, pattern)


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().casefold()


@dataclass(frozen=True)
class Footer:
    """The article footer (art. 28: drafter, reviewer, issuer; source for reposts)."""

    template: str = "拟稿：{drafter}　审核：{reviewer}　签发：{issuer}"
    source_template: str = "来源：{source}"

    def render(self, drafter: str, reviewer: str, issuer: str, source: str | None) -> str:
        """The footer lines for one article."""
        lines = [self.template.format(drafter=drafter, reviewer=reviewer, issuer=issuer)]
        if source:
            lines.append(self.source_template.format(source=source))
        return "\n".join(lines)


@dataclass(frozen=True)
class OrgChart:
    """Everything the chain and the gates need to know about the unit."""

    unit_name: str
    people: dict[str, Person]
    departments: dict[str, Department]
    issuer: str
    principal_leader: str | None = None
    publicity_department: str | None = None
    admins: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    delegations: tuple[Delegation, ...] = ()
    chain: ChainConfig = field(default_factory=ChainConfig)
    sources: SourceAllowlist = field(default_factory=SourceAllowlist)
    footer: Footer = field(default_factory=Footer)
    # The State Council's holiday schedules the bureau entered ([calendar.YEAR]): they win over
    # the calendars the software ships with (art. 14 deadlines).
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    def speaking(self, language: str) -> OrgChart:
        """The same chart with `language` for everyone who did not choose one."""
        people = {k: p if p.language else replace(p, language=language)
                  for k, p in self.people.items()}
        return replace(self, people=people)

    def person(self, key: str) -> Person | None:
        """The person with this key, or None."""
        return self.people.get(key)

    def find_person(self, key_or_name: str) -> Person | None:
        """The person with this key, or the only person with this display name."""
        if key_or_name in self.people:
            return self.people[key_or_name]
        named = [p for p in self.people.values() if p.name == key_or_name]
        if named:
            return named[0] if len(named) == 1 else None
        # As typed on a phone or with caps lock: full-width letters, upper case (ＬＩ＿ＮＡ).
        folded = unicodedata.normalize("NFKC", key_or_name).strip().casefold()
        same = [p for p in self.people.values()
                if folded in (p.key.casefold(), unicodedata.normalize("NFKC", p.name).casefold())]
        return same[0] if len(same) == 1 else None

    def name_of(self, key: str | None) -> str:
        """Display name of a person key (the key itself when unknown)."""
        if key is None:
            return "—"
        person = self.people.get(key)
        return person.name if person else key

    def departments_of(self, key: str) -> list[Department]:
        """Departments the person is a member of."""
        return [d for d in self.departments.values() if key in d.members]

    def is_admin(self, key: str) -> bool:
        """Whether the person is a 法宣科 admin (管理员)."""
        return key in self.admins

    def is_operator(self, key: str) -> bool:
        """Whether the person lays out posts (运营方)."""
        return key in self.operators

    def fallbacks(self) -> tuple[str, ...]:
        """Who may take a step whose usual holder is already in the chain, first choice first:
        `[chain] fallback`, or else the principal leader."""
        if self.chain.fallback:
            return self.chain.fallback
        return (self.principal_leader,) if self.principal_leader else ()

    def holder(self, step: Step, department: str, drafter: str) -> str | None:
        """Who normally holds `step` for a post of `department` drafted by `drafter`."""
        if step is Step.DRAFTER_CONFIRM:
            return drafter
        dept = self.departments.get(department)
        if step is Step.DEPT_HEAD:
            return dept.head if dept else None
        if step is Step.REVIEWER:
            return dept.supervising_leader if dept else None
        return self.issuer

    def deputies_for(self, principal: str, step: Step, on: date) -> list[Delegation]:
        """Delegations that let someone act for `principal` on `step` on day `on`."""
        return [d for d in self.delegations if d.principal == principal and d.covers(step, on)]

    def keys_with_role(self) -> Iterable[str]:
        """Every person key the chart refers to anywhere."""
        yield self.issuer
        if self.principal_leader:
            yield self.principal_leader
        yield from self.chain.fallback
        yield from self.admins
        yield from self.operators
        for d in self.departments.values():
            yield d.head
            yield d.supervising_leader
            yield from d.members
        for g in self.delegations:
            yield g.deputy
            yield g.principal
