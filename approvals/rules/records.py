"""Plain values the chain and the gates work on: a post's state, its revision and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from approvals.rules.errors import Text
from approvals.rules.revisions import RevisionContent
from approvals.rules.states import Category, Classification, PostStatus, Step


class Outcome(StrEnum):
    """What one person decided at one step."""

    APPROVED = "approved"  # confirm, approve and sign all record this
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"


class ClearanceBasis(StrEnum):
    """Art. 16: personal data may go out with the holder's consent or in the public interest."""

    CONSENT = "consent"  # 经权利人同意公开
    PUBLIC_INTEREST = "public_interest"  # 不公开可能对公共利益造成重大影响


BASIS_LABEL: dict[ClearanceBasis, Text] = {
    ClearanceBasis.CONSENT: Text("权利人同意公开", "the holder's consent"),
    ClearanceBasis.PUBLIC_INTEREST: Text("不公开将对公共利益造成重大影响",
                                         "overriding public interest"),
}


@dataclass(frozen=True)
class DecisionRecord:
    """One step's decision on one exact revision (its content hash)."""

    step: Step
    outcome: Outcome
    actor: str
    revision_hash: str
    run: int
    decided_on: date
    decided_at: datetime | None = None
    on_behalf_of: str | None = None  # 代签: `actor` signed for `on_behalf_of`
    comment: str = ""
    note: str = ""
    attempt: int = 0

    @property
    def principal(self) -> str:
        """The person whose step this was (the leader a deputy signed for)."""
        return self.on_behalf_of or self.actor


@dataclass(frozen=True)
class Clearance:
    """The issuer's record that personal data in one revision may be published (art. 16)."""

    revision_hash: str
    basis: ClearanceBasis
    reason: str
    recorded_by: str
    recorded_on: date
    on_behalf_of: str | None = None

    @property
    def principal(self) -> str:
        """The issuer the clearance was recorded as."""
        return self.on_behalf_of or self.recorded_by


@dataclass(frozen=True)
class RevisionInfo:
    """A stored revision: its number, content, hash and who made it."""

    number: int
    content: RevisionContent
    content_hash: str
    made_by: str


@dataclass(frozen=True)
class PostState:
    """A post as the pure rules see it; decisions are those of the current run only."""

    id: int
    status: PostStatus
    department: str
    drafter: str
    category: Category
    classification: Classification
    run: int = 0
    revision: RevisionInfo | None = None
    decisions: tuple[DecisionRecord, ...] = field(default_factory=tuple)
    clearance: Clearance | None = None

    def decision_for(self, step: Step) -> DecisionRecord | None:
        """The latest decision recorded for `step` in this run."""
        found = [d for d in self.decisions if d.step == step]
        return max(found, key=lambda d: d.attempt) if found else None

    def approved_steps(self) -> set[Step]:
        """Steps approved in this run."""
        return {d.step for d in self.decisions if d.outcome is Outcome.APPROVED}
