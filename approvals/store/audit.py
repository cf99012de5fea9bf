"""The append-only audit log: every row hash-chained to the one before, and its verification."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, insert, select, update
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from approvals.rules.errors import InvalidInput, Text
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
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    detail_text = canonical_json(detail)
    if conn.dialect.name == "postgresql":
        seq = _append_on_postgresql(conn, actor, action, post_id, detail_text, at)
        if seq is not None:
            return seq
    head = conn.execute(
        select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()
    ).one_or_none()
    if head is None:
        conn.execute(insert(HEAD).values(id=1, seq=0, hash=GENESIS))
        prev_seq, prev_hash = 0, GENESIS
    else:
        prev_seq, prev_hash = head.seq, head.hash
    seq = prev_seq + 1
    digest = row_hash(prev_hash, seq, at, actor, post_id, action, detail_text)
    conn.execute(insert(LOG).values(seq=seq, at=at, actor=actor, post_id=post_id, action=action,
                                    detail=detail_text, prev_hash=prev_hash, hash=digest))
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=seq, hash=digest))
    return seq


def hashed_text(seq: int, at: datetime, actor: str, post_id: int | None, action: str,
                detail: str, prev_hash: str) -> str:
    """What `row_hash` hashes, put together as the database puts it together in
    `_append_on_postgresql`: "[" seq `hashed_middle` prev_hash "\"]"."""
    return "[" + str(seq) + hashed_middle(at, actor, post_id, action, detail) + prev_hash + '"]'


def hashed_middle(at: datetime, actor: str, post_id: int | None, action: str,
                  detail: str) -> str:
    """The part of a row's hashed text between its sequence number and the previous hash.

    `row_hash` hashes the canonical JSON of [seq, at, actor, post_id, action, detail,
    prev_hash]; seq is a plain integer and prev_hash 64 hex digits, so both are written in it as
    they are, and the rest of the text does not depend on them.
    """
    return "," + canonical_json([_utc_text(at), actor, post_id, action, detail])[1:-1] + ',"'


# One round trip for the whole append: the head is locked and read, the row is inserted with
# its hash (SHA-256 of its hashed text, put together around the head's seq and hash as
# `hashed_text` shows) and the head moved to it. A concurrent appender waits at the lock and
# then reads the head as the first one left it (READ COMMITTED re-reads a locked row).
_APPEND = sql("""
WITH prev AS (
    SELECT seq + 1 AS seq, hash AS prev_hash FROM audit_head WHERE id = 1 FOR UPDATE
), appended AS (
    INSERT INTO audit_log (seq, at, actor, post_id, action, detail, prev_hash, hash)
    SELECT seq, :at, :actor, :post_id, :action, :detail, prev_hash,
           encode(sha256(convert_to('[' || seq::text || :middle || prev_hash || '"]', 'UTF8')),
                  'hex')
    FROM prev
    RETURNING seq, hash
)
UPDATE audit_head SET seq = appended.seq, hash = appended.hash FROM appended
WHERE audit_head.id = 1
RETURNING audit_head.seq
""").bindparams(bindparam("at", type_=LOG.c.at.type), bindparam("post_id", type_=Integer))


def _append_on_postgresql(conn: Connection, actor: str, action: str, post_id: int | None,
                          detail: str, at: datetime) -> int | None:
    """`append` in one statement; None when there is no head row to append after."""
    return conn.execute(_APPEND, {
        "at": at, "actor": actor, "post_id": post_id, "action": action, "detail": detail,
        "middle": hashed_middle(at, actor, post_id, action, detail)}).scalar_one_or_none()


@dataclass(frozen=True)
class Anchor:
    """The chain's newest row: kept elsewhere, it proves later that nothing up to it changed."""

    seq: int
    hash: str
    at: datetime | None

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def anchor(session: Session) -> Anchor:
    """The current head of the chain."""
    head = session.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)).one_or_none()
    if head is None or head.seq == 0:
        return Anchor(0, GENESIS, None)
    at = session.scalar(select(LOG.c.at).where(LOG.c.seq == head.seq))
    return Anchor(head.seq, head.hash, at)


def parse_anchor(text: str) -> tuple[int, str]:
    """"SEQ:HASH" as `signoff audit anchor` prints it.

    Raises:
        InvalidInput: not in that form.
    """
    seq, _, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if not seq.isascii() or not seq.isdigit() or not 0 < int(seq) < 2**63 or len(digest) != 64 \
            or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(Text("锚点“{a}”格式不对，应为 signoff audit anchor 输出的“序号:哈希”。",
                                "The anchor “{a}” is not “SEQ:HASH” as signoff audit anchor "
                                "prints it.").format(a=text.strip()[:80]))
    return int(seq), digest


@dataclass
class Report:
    """What `verify` found: rows read, the head hash, every problem with the log row it names,
    and every stored row the log does not back (with its post)."""

    rows: int = 0
    head_hash: str = GENESIS
    problems: list[tuple[int, Text]] = field(default_factory=list)
    rows_problems: list[tuple[int, Text]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the chain is intact and every row it covers is backed."""
        return not self.problems and not self.rows_problems


def verify(session: Session, anchor: str | None = None) -> Report:
    """Walk the log in order and name every edited, inserted or deleted row; with `anchor`
    ("SEQ:HASH"), also that this row is still in the chain as it was.

    Raises:
        InvalidInput: a malformed anchor.
    """
    anchored = parse_anchor(anchor) if anchor is not None else None
    report = Report()
    seen_anchor = False
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
        if anchored is not None and row.seq == anchored[0]:
            seen_anchor = row.hash == anchored[1]
        prev, expected_seq = row.hash, row.seq + 1
    if anchored is not None and not seen_anchor:
        report.problems.append((anchored[0], Text(
            f"锚定的第 {anchored[0]} 条记录已不在链中或已改变：日志被重写，或最新的记录连同链头被删除",
            f"the anchored row {anchored[0]} is no longer in the chain as it was: the log was "
            "rewritten, or its newest rows were deleted together with the head")))
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
