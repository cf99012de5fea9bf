"""Reading the rows the rules read and the audit rows that wrote them, to compare the two.

`check_post` is what a sign-off and the worker's claim run on one post (a few rows); `verify_rows`
is what `signoff audit verify` runs on every post.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, literal, null, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from approvals.rules.errors import Text
from approvals.rules.ledger import Entry, Ledger, compare, replay, revision_record, utc_text
from approvals.rules.revisions import RevisionContent
from approvals.store.audit import HEAD, LOG, row_hash
from approvals.store.models import Clearance, Decision, Post, PublishIntent, Revision

POSTS, REVISIONS = Post.__table__, Revision.__table__
DECISIONS, CLEARANCES, INTENTS = Decision.__table__, Clearance.__table__, PublishIntent.__table__


def check_post(session: Session, post_id: int, *, whole: bool = False) -> list[Text]:
    """Whether what the rules read of this post is what its audit rows wrote.

    By default the current run's decisions, the current revision and its clearances, the post's
    own fields and its publish intents; `whole` compares every row of the post. The post's audit
    rows are also checked against their hashes and their neighbours' links, so an edited row is
    caught here without walking the whole chain.
    """
    conn = session.connection()
    rows, problems = post_log(conn, post_id)
    stored = _stored(conn, [post_id], current_only=not whole)
    if post_id not in stored:
        return problems
    return problems + compare_post(rows, stored[post_id], whole=whole)


def compare_post(rows: Sequence[Row[Any]], stored: tuple[Ledger, list[tuple[str, Text]]], *,
                 whole: bool = False) -> list[Text]:
    """`check_post` on rows already read: the post's audit rows (`post_log`) against its stored
    rows (`stored_ledger`; without `whole`, those of the current run and revision suffice)."""
    mine, bad_content = stored
    logged = replay(_entries(rows))
    if whole:
        return [t for _, t in bad_content] + compare(logged, mine)
    facts = mine.facts or {}
    current = next((r["content_hash"] for r in mine.revisions
                    if r["number"] == facts.get("revision")), None)
    return [t for h, t in bad_content if h == current] + compare(
        logged, mine, runs={facts.get("run", 0)}, revision_hash=current)


def verify_rows(session: Session) -> list[tuple[int, Text]]:
    """Every post's rows against the audit log, both ways: (post id, problem)."""
    conn = session.connection()
    by_post: dict[int, list[Entry]] = defaultdict(list)
    for row in conn.execute(select(LOG.c.seq, LOG.c.actor, LOG.c.post_id, LOG.c.action,
                                   LOG.c.detail).where(LOG.c.post_id.is_not(None))
                            .order_by(LOG.c.seq).execution_options(yield_per=2000)):
        by_post[row.post_id].extend(_entries([row]))
    post_ids = list(conn.scalars(select(POSTS.c.id).order_by(POSTS.c.id)))
    stored = _stored(conn, post_ids)
    problems: list[tuple[int, Text]] = []
    for pid in post_ids:
        mine, bad_content = stored[pid]
        problems += [(pid, p) for _, p in bad_content]
        problems += [(pid, p) for p in compare(replay(by_post.get(pid, [])), mine)]
    for pid in sorted(set(by_post) - set(post_ids)):
        if any(e.action == "post.created" for e in by_post[pid]):
            problems.append((pid, Text("审计日志记载的稿件 #{i} 在数据库中已不存在（被删除）。",
                                       "Post {i}, which the audit log records, is no longer in the "
                                       "database (deleted).").format(i=pid)))
    return problems


def _entries(rows: Iterable[Row[Any]]) -> list[Entry]:
    return [Entry(r.seq, r.actor, r.action, json.loads(r.detail)) for r in rows]


def post_log(conn: Connection, post_id: int) -> tuple[list[Row[Any]], list[Text]]:
    """The post's audit rows, oldest first, and what is wrong with them: a row that no longer
    matches its hash, or that the row after it (or the chain head) does not link to.

    One statement reads the post's rows, the rows right after each and the chain head, so all
    three are seen as of one moment (a row appended meanwhile is either in all or in none).
    """
    rows, links, chain_head = [], {}, None
    for row in conn.execute(_POST_LOG, {"post_id": post_id}):
        if row.kind == 0:
            rows.append(row)
        elif row.kind == 1:
            links[row.seq] = row.prev_hash
        else:
            chain_head = (row.seq, row.hash)
    rows.sort(key=lambda r: r.seq)
    return rows, _chain_links(rows, links, chain_head)


_LOG_COLUMNS = (LOG.c.seq, LOG.c.at, LOG.c.actor, LOG.c.post_id, LOG.c.action, LOG.c.detail,
                LOG.c.prev_hash, LOG.c.hash)
# What the rows after the post's and the chain head leave empty: at, actor, post_id, action,
# detail; and prev_hash (the head's) or hash (a later row's).
_NO_LOG_VALUES = (null().cast(LOG.c.at.type), null().cast(LOG.c.actor.type),
                  null().cast(LOG.c.post_id.type), null().cast(LOG.c.action.type),
                  null().cast(LOG.c.detail.type), null().cast(LOG.c.hash.type))


def _post_log() -> Any:
    mine = select(literal(0).label("kind"), *_LOG_COLUMNS).where(
        LOG.c.post_id == bindparam("post_id"))
    later = LOG.alias("later")
    nexts = (select(literal(1).label("kind"), later.c.seq, *_NO_LOG_VALUES[:5],
                    later.c.prev_hash, _NO_LOG_VALUES[5])
             .select_from(later.join(LOG, later.c.seq == LOG.c.seq + 1))
             .where(LOG.c.post_id == bindparam("post_id")))
    head = select(literal(2).label("kind"), HEAD.c.seq, *_NO_LOG_VALUES[:5], _NO_LOG_VALUES[5],
                  HEAD.c.hash).where(HEAD.c.id == 1)
    return union_all(mine, nexts, head)


_POST_LOG = _post_log()


def _chain_links(rows: Sequence[Row[Any]], links: dict[int, str],
                 head: tuple[int, str] | None) -> list[Text]:
    """Each of these audit rows matches its hash, and the row after it links to it
    (`links`: seq -> prev_hash of the rows after them)."""
    problems = [
        Text("第 {s} 条审计记录已被改动（与其哈希不符）。",
             "Audit row {s} was edited (it no longer matches its hash).").format(s=r.seq)
        for r in rows
        if row_hash(r.prev_hash, r.seq, r.at, r.actor, r.post_id, r.action, r.detail) != r.hash]
    for r in rows:
        # The newest row has no row after it: the chain head must name it instead.
        after = links.get(r.seq + 1)
        linked = after == r.hash if after is not None else head == (r.seq, r.hash)
        if not linked:
            problems.append(Text("第 {s} 条审计记录与其后的记录或链头对不上（被改动或删除）；"
                                 "请运行 signoff audit verify。",
                                 "Audit row {s} does not link to the row after it or to the "
                                 "chain head (edited or deleted); run signoff audit verify.")
                            .format(s=r.seq))
    return problems


def _day(value: Any) -> str | None:
    # A DATE column, as the audit row's JSON keeps it (SQLite may hand back the text itself).
    return value.isoformat() if hasattr(value, "isoformat") else value


def stored_ledger(post: Any, revisions: Iterable[Any], decisions: Iterable[Any],
                  clearances: Iterable[Any], intents: Iterable[Any]
                  ) -> tuple[Ledger, list[tuple[str, Text]]]:
    """One post's stored rows (anything with the tables' column names as attributes) in the
    replay's form, and the revisions among them whose content no longer matches their hash."""
    ledger = Ledger(facts={
        "status": post.status, "run": post.run, "revision": post.revision_number,
        "department": post.department, "drafter": post.drafter, "category": post.category,
        "classification": post.classification, "publish_mode": post.publish_mode,
        "scheduled_at": utc_text(post.scheduled_at), "formed_on": _day(post.formed_on),
        "due_on": _day(post.due_on), "archived": bool(post.archived)})
    for r in decisions:
        ledger.decisions.append({
            "run": r.run, "step": r.step, "attempt": r.attempt, "outcome": r.outcome,
            "actor": r.actor, "on_behalf_of": r.on_behalf_of, "revision_hash": r.revision_hash,
            "decided_on": r.decided_on.isoformat()})
    for r in clearances:
        ledger.clearances.append({
            "revision_hash": r.revision_hash, "basis": r.basis, "reason": r.reason,
            "recorded_by": r.recorded_by, "on_behalf_of": r.on_behalf_of,
            "recorded_on": r.recorded_on.isoformat()})
    for r in intents:
        ledger.intents.append({"kind": r.kind, "revision_hash": r.revision_hash})
    bad: list[tuple[str, Text]] = []
    for r in revisions:
        ledger.revisions.append(revision_record(r.number, r.content_hash, r.made_by))
        content = RevisionContent(title=r.title, body_html=r.body_html, category=r.category,
                                  author=r.author, digest=r.digest, cover_sha256=r.cover_sha256,
                                  repost_source=r.repost_source)
        if content.content_hash() != r.content_hash:
            bad.append((r.content_hash, Text("第{n}版（{h}）的内容已被改动，与其哈希不符。",
                            "The content of revision {n} ({h}) was changed; it no longer "
                            "matches its hash.").format(n=r.number, h=r.content_hash[:8])))
    return ledger, bad


def _stored(conn: Connection, post_ids: Sequence[int], *, current_only: bool = False
            ) -> dict[int, tuple[Ledger, list[tuple[str, Text]]]]:
    """The stored rows of these posts in the replay's form, and revisions whose content no
    longer matches their hash (`current_only`: of each post's current revision alone)."""
    if not post_ids:
        return {}
    ids = list(post_ids)
    posts = {p.id: p for p in conn.execute(select(POSTS).where(POSTS.c.id.in_(ids)))}
    rows: dict[str, dict[int, list[Any]]] = {k: defaultdict(list) for k in
                                              ("decisions", "clearances", "intents", "revisions")}
    d = DECISIONS.c
    for r in conn.execute(select(d.post_id, d.run, d.step, d.attempt, d.outcome, d.actor,
                                 d.on_behalf_of, d.revision_hash, d.decided_on)
                          .where(d.post_id.in_(ids)).order_by(d.id)):
        rows["decisions"][r.post_id].append(r)
    c = CLEARANCES.c
    for r in conn.execute(select(c.post_id, c.revision_hash, c.basis, c.reason, c.recorded_by,
                                 c.on_behalf_of, c.recorded_on)
                          .where(c.post_id.in_(ids)).order_by(c.id)):
        rows["clearances"][r.post_id].append(r)
    i = INTENTS.c
    for r in conn.execute(select(i.post_id, i.kind, i.revision_hash)
                          .where(i.post_id.in_(ids)).order_by(i.id)):
        rows["intents"][r.post_id].append(r)
    v = REVISIONS.c
    revisions = select(v.post_id, v.number, v.title, v.body_html, v.category, v.author, v.digest,
                       v.cover_sha256, v.repost_source, v.content_hash, v.made_by
                       ).where(v.post_id.in_(ids)).order_by(v.id)
    if current_only:
        revisions = revisions.where(v.number == select(POSTS.c.revision_number).where(
            POSTS.c.id == v.post_id).scalar_subquery())
    for r in conn.execute(revisions):
        rows["revisions"][r.post_id].append(r)
    return {pid: stored_ledger(p, rows["revisions"][pid], rows["decisions"][pid],
                               rows["clearances"][pid], rows["intents"][pid])
            for pid, p in posts.items()}
