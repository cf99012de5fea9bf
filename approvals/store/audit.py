"""The append-only audit log: every row hash-chained to the one before, and its verification."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from approvals.rules.errors import Text
from approvals.store.models import AuditEntry, AuditHead

GENESIS = "0" * 64
LOG, HEAD = AuditEntry.__table__, AuditHead.__table__


def canonical_json(value: Any) -> str:
    """Compact, sorted-key JSON with Chinese kept as is: the form that is hashed and stored."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str)


def _utc_text(at: datetime) -> str:
    # SQLite hands timestamps back naive, PostgreSQL aware: hash a form both give back alike.
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def row_hash(prev_hash: str, seq: int, at: datetime, actor: str, post_id: int | None,
             action: str, detail: str) -> str:
    """SHA-256 over the row's fields and the previous row's hash."""
    payload = canonical_json([seq, _utc_text(at), actor, post_id, action, detail, prev_hash])
    return hashlib.sha256(payload.encode()).hexdigest()


def append(session: Session, *, actor: str, action: str, post_id: int | None,
           detail: dict[str, Any], at: datetime) -> int:
    """Append one row in the caller's transaction; returns its sequence number.

    The head row is locked first, so concurrent appenders queue and keep one unbroken chain.
    """
    conn = session.connection()  # plain statements: every change appends a row
    head = conn.execute(
        select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()
    ).one_or_none()
    if head is None:
        conn.execute(insert(HEAD).values(id=1, seq=0, hash=GENESIS))
        prev_seq, prev_hash = 0, GENESIS
    else:
        prev_seq, prev_hash = head.seq, head.hash
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    text = canonical_json(detail)
    seq = prev_seq + 1
    digest = row_hash(prev_hash, seq, at, actor, post_id, action, text)
    conn.execute(insert(LOG).values(seq=seq, at=at, actor=actor, post_id=post_id, action=action,
                                    detail=text, prev_hash=prev_hash, hash=digest))
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=seq, hash=digest))
    return seq


@dataclass
class Report:
    """What `verify` found: rows read, the head hash, and every problem with the row it names."""

    rows: int = 0
    head_hash: str = GENESIS
    problems: list[tuple[int, Text]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return not self.problems


def verify(session: Session) -> Report:
    """Walk the log in order and name every edited, inserted or deleted row."""
    report = Report()
    expected_seq, prev = 1, GENESIS
    rows = session.scalars(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000))
    for row in rows:
        report.rows += 1
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                report.problems.append((row.seq, Text(
                    f"第 {expected_seq}–{row.seq - 1} 条记录缺失（被删除）",
                    f"rows {expected_seq}–{row.seq - 1} are missing (deleted)")))
            else:
                report.problems.append((row.seq, Text(
                    f"第 {row.seq} 条记录序号重复或乱序（被插入）",
                    f"row {row.seq} is out of sequence (inserted)")))
        if row.prev_hash != prev:
            report.problems.append((row.seq, Text(
                f"第 {row.seq} 条记录与前一条的哈希链接断开（前一条被改动、删除或有记录被插入）",
                f"row {row.seq} no longer links to the row before it (that row was edited or "
                "deleted, or a row was inserted)")))
        actual = row_hash(row.prev_hash, row.seq, row.at, row.actor, row.post_id, row.action,
                          row.detail)
        if actual != row.hash:
            report.problems.append((row.seq, Text(
                f"第 {row.seq} 条记录内容已被改动（与其哈希不符）",
                f"row {row.seq} was edited (its content no longer matches its hash)")))
        prev, expected_seq = row.hash, row.seq + 1
    head = session.get(AuditHead, 1)
    last_seq = expected_seq - 1
    if head is None and report.rows:
        report.problems.append((last_seq, Text("链头记录缺失（被删除）", "the chain head row is missing (deleted)")))
    if head is not None and (head.seq != last_seq or head.hash != prev):
        if head.seq > last_seq:
            report.problems.append((head.seq, Text(
                f"第 {last_seq + 1}–{head.seq} 条（最后的）记录缺失（被删除）",
                f"the last rows {last_seq + 1}–{head.seq} are missing (deleted)")))
        else:
            report.problems.append((last_seq, Text(
                f"第 {last_seq} 条记录不是链头记录的那一条（被插入或改动）",
                f"row {last_seq} is not the row the chain head recorded (inserted or edited)")))
    report.head_hash = prev
    return report
