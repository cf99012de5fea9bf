"""Reading stored posts into the rules' plain values, and stored rows into the façade's values."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    Integer,
    and_,
    any_,
    bindparam,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from approvals.rules.errors import InvalidInput, NotFound, Text
from approvals.rules.gates import Finding
from approvals.rules.org import OrgChart
from approvals.rules.records import (
    Clearance,
    ClearanceBasis,
    DecisionRecord,
    Outcome,
    PostState,
    RevisionInfo,
)
from approvals.rules.revisions import RevisionContent
from approvals.rules.states import Category, Classification, PostStatus, PublishMode, Step
from approvals.store import ledger
from approvals.store import models as m
from approvals.views import PostSummary, PublicationIds, RevisionSummary, TimelineEntry

E = TypeVar("E")
MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL (beyond, it refuses to compare)
_HEX = re.compile(r"[0-9a-f]+")


def as_enum(kind: type[E], value: object, what: Text, *,
            labels: Mapping[Any, Text] | None = None, allowed: Iterable[E] | None = None) -> E:
    """`value` as a member of `kind` (one of `allowed`, when given), or InvalidInput listing
    what may be typed, each with its label in the person's language."""
    choices = list(allowed if allowed is not None else kind)  # type: ignore[call-overload]
    try:
        member = kind(value)  # type: ignore[call-arg]
    except ValueError:
        member = None
    if member is not None and member in choices:
        return member
    zh = "、".join(f"{c.value}（{labels[c].zh}）" if labels else str(c.value)  # type: ignore[attr-defined]
                  for c in choices)
    en = ", ".join(f"{c.value} ({labels[c].en})" if labels else str(c.value)  # type: ignore[attr-defined]
                   for c in choices)
    raise InvalidInput(Text("{w}“{v}”无效，可选：{a}。", "Invalid {w_en} “{v}”; expected one of: "
                            "{a_en}.").format(w=what.zh, w_en=what.en, v=value, a=zh, a_en=en)
                       ) from None


def resolve_person(org: OrgChart, key_or_name: str) -> str:
    """The org-chart key of a person named by key or display name.

    Raises:
        NotFound: nobody is called that; the message suggests the closest keys and names.
    """
    person = org.find_person(key_or_name.strip())
    if person is not None:
        return person.key
    names = {p.key: p.name for p in org.people.values()}
    typed = key_or_name.strip()
    # Keys are Latin and long, names two or three characters: one wrong character of a name
    # (王明 for 王敏) is half of it.
    close = [*difflib.get_close_matches(typed, list(names), n=3, cutoff=0.6),
             *difflib.get_close_matches(typed, list(names.values()), n=3, cutoff=0.5)]
    keys = list(dict.fromkeys(k for c in close for k, n in names.items() if c in (k, n)))
    if not keys:
        raise NotFound(Text("组织架构中没有“{p}”。", "“{p}” is not in the org chart.")
                       .format(p=key_or_name))
    zh = "、".join(f"{names[k]}（{k}）" for k in keys)
    en = ", ".join(f"{names[k]} ({k})" for k in keys)
    raise NotFound(Text("组织架构中没有“{p}”。您是不是要找：{s}？",
                        "“{p}” is not in the org chart. Did you mean {s_en}?")
                   .format(p=key_or_name, s=zh, s_en=en))


def load_post(s: Session, post_id: int, *, lock: bool = False) -> m.Post:
    """The stored post.

    Raises:
        NotFound: no such post.
    """
    fits = isinstance(post_id, int) and 0 < post_id <= MAX_ID  # a database integer at all
    post = s.get(m.Post, post_id, with_for_update=lock) if fits else None
    if post is None:
        raise NotFound(Text("没有编号为 {i} 的稿件。", "There is no post {i}.").format(i=post_id))
    return post


def current_revision(s: Session, post: m.Post) -> m.Revision | None:
    """The post's current revision row, if it has been laid out."""
    return s.scalars(select(m.Revision).where(m.Revision.post_id == post.id,
                                              m.Revision.number == post.revision_number)
                     ).one_or_none()


# What a RevisionInfo is read from: plain columns, no ORM entity.
REVISION_COLUMNS = (m.Revision.number, m.Revision.title, m.Revision.body_html,
                    m.Revision.category, m.Revision.author, m.Revision.digest,
                    m.Revision.cover_sha256, m.Revision.repost_source, m.Revision.content_hash,
                    m.Revision.made_by)


def revision_info(row: Any) -> RevisionInfo:
    """The rules' value for a row selected with REVISION_COLUMNS."""
    return RevisionInfo(row.number, RevisionContent(
        title=row.title, body_html=row.body_html, category=row.category, author=row.author,
        digest=row.digest, cover_sha256=row.cover_sha256, repost_source=row.repost_source),
        row.content_hash, row.made_by)


def load_state(s: Session, post: m.Post) -> PostState:
    """The pure view of a stored post: current revision, this run's decisions, its clearance.

    Plain column selects (no ORM entities): every action and every publish job reads this.
    """
    return load_states(s, [post])[post.id]


_REV, _CLR, _DEC = m.Revision.__table__, m.Clearance.__table__, m.Decision.__table__
_NEWEST_CLEARANCE = _CLR.alias("older")


def _newest_clearance(post_id: Any, revision_hash: Any) -> Any:
    """The join condition that picks a post's newest clearance of one revision (the newest
    wins: an issuer may record it again)."""
    older = _NEWEST_CLEARANCE
    return _CLR.c.id == select(func.max(older.c.id)).where(
        older.c.post_id == post_id, older.c.revision_hash == revision_hash).scalar_subquery()


# A revision's, a clearance's and a decision's columns as `read_post` and `load_states` select
# them beside other tables' (prefixed, so their names do not collide).
_REV_COLUMNS = tuple(_REV.c[c.key].label(f"rev_{c.key}") for c in REVISION_COLUMNS)
_CLR_COLUMNS = tuple(c.label(f"clr_{c.name}") for c in (
    _CLR.c.id, _CLR.c.revision_hash, _CLR.c.basis, _CLR.c.reason, _CLR.c.recorded_by,
    _CLR.c.recorded_on, _CLR.c.on_behalf_of))
_DEC_COLUMNS = tuple(c.label(f"dec_{c.name}") for c in (
    _DEC.c.id, _DEC.c.step, _DEC.c.outcome, _DEC.c.actor, _DEC.c.revision_hash, _DEC.c.run,
    _DEC.c.decided_on, _DEC.c.decided_at, _DEC.c.on_behalf_of, _DEC.c.comment, _DEC.c.note,
    _DEC.c.attempt))


def _revision(row: Any) -> RevisionInfo | None:
    if row.rev_number is None:
        return None
    return RevisionInfo(row.rev_number, RevisionContent(
        title=row.rev_title, body_html=row.rev_body_html, category=row.rev_category,
        author=row.rev_author, digest=row.rev_digest, cover_sha256=row.rev_cover_sha256,
        repost_source=row.rev_repost_source), row.rev_content_hash, row.rev_made_by)


def _clearance(row: Any) -> Clearance | None:
    if row.clr_id is None:
        return None
    return Clearance(row.clr_revision_hash, ClearanceBasis(row.clr_basis), row.clr_reason,
                     row.clr_recorded_by, row.clr_recorded_on, row.clr_on_behalf_of)


def _decision(row: Any) -> DecisionRecord:
    return DecisionRecord(
        step=_STEPS.get(row.dec_step) or Step(row.dec_step),
        outcome=_OUTCOMES.get(row.dec_outcome) or Outcome(row.dec_outcome), actor=row.dec_actor,
        revision_hash=row.dec_revision_hash, run=row.dec_run, decided_on=row.dec_decided_on,
        decided_at=row.dec_decided_at, on_behalf_of=row.dec_on_behalf_of,
        comment=row.dec_comment, note=row.dec_note, attempt=row.dec_attempt)


def _state(post: Any, revision: RevisionInfo | None, decisions: tuple[DecisionRecord, ...],
           clearance: Clearance | None) -> PostState:
    return PostState(
        id=post.id, status=_STATUSES.get(post.status) or PostStatus(post.status),
        department=post.department, drafter=post.drafter,
        category=_CATEGORIES.get(post.category) or Category(post.category),
        classification=_CLASSIFICATIONS.get(post.classification)
        or Classification(post.classification), run=post.run, revision=revision,
        decisions=decisions, clearance=clearance)


def load_states(s: Session, posts: list[m.Post]) -> dict[int, PostState]:
    """`load_state` for many posts in two queries (a page of the queue): their current
    revisions with each one's newest clearance, then their decisions."""
    if not posts:
        return {}
    ids = [p.id for p in posts]
    by_id = {p.id: p for p in posts}
    conn = s.connection()
    found = {row.post_id: row for row in conn.execute(_CURRENT_REVISIONS, {"ids": ids})}
    decisions: dict[int, list[DecisionRecord]] = {i: [] for i in ids}
    for row in _decisions_of(conn, ids):
        if row.dec_run == by_id[row.post_id].run:
            decisions[row.post_id].append(_decision(row))
    return {p.id: _state(p, _revision(found[p.id]) if p.id in found else None,
                         tuple(decisions[p.id]),
                         _clearance(found[p.id]) if p.id in found else None) for p in posts}


_CURRENT_REVISIONS = (
    select(_REV.c.post_id, *_REV_COLUMNS, *_CLR_COLUMNS)
    .select_from(_REV.outerjoin(_CLR, _newest_clearance(_REV.c.post_id, _REV.c.content_hash)))
    .where(_REV.c.post_id.in_(bindparam("ids", expanding=True)),
           _REV.c.number == select(m.Post.revision_number)
           .where(m.Post.id == _REV.c.post_id).scalar_subquery()))
_DECISIONS_OF = (select(_DEC.c.post_id, *_DEC_COLUMNS)
                 .where(_DEC.c.post_id.in_(bindparam("ids", expanding=True))).order_by(_DEC.c.id))
# PostgreSQL takes the ids as one array: an IN list of fifty is fifty parameters put into
# the statement's text at every execution.
_DECISIONS_OF_ANY = (select(_DEC.c.post_id, *_DEC_COLUMNS)
                     .where(_DEC.c.post_id == any_(bindparam("ids", type_=ARRAY(Integer))))
                     .order_by(_DEC.c.id))


def _decisions_of(conn: Connection, ids: list[int]) -> Any:
    """The decisions of these posts, in the order they were taken."""
    query = _DECISIONS_OF_ANY if conn.dialect.name == "postgresql" else _DECISIONS_OF
    return conn.execute(query, {"ids": ids})


# What a queue's line shows of a post (`summary`), and what its state is built from: not the
# handed-in material, the cover or the worker's claim.
_SUMMARY_COLUMNS = tuple(m.Post.__table__.c[name] for name in (
    "id", "title", "status", "department", "drafter", "category", "classification", "formed_on",
    "due_on", "due_estimated", "run", "revision_number", "version", "archived", "publish_mode",
    "scheduled_at", "article_url", "published_at", "problem_zh", "problem_en", "repost_source",
    "created_at", "updated_at"))


@dataclass(frozen=True)
class PageShape:
    """The statements of one shape of page (`page_shape`): built once, run with the values of
    their conditions, the page size and the offset bound."""

    page: Any
    count: Any


def page_shape(conditions: Sequence[Any], order: Sequence[Any]) -> PageShape:
    """The statements that read a page of the posts matching `conditions` in `order` (their
    values, and "limit" and "offset", as bound parameters): the page with its count and,
    beside each post in review, its current revision and that revision's newest clearance; and
    the count alone, for a page past the end."""
    posts = m.Post.__table__
    count = select(func.count()).select_from(posts).where(*conditions)
    in_review = posts.c.status == PostStatus.IN_REVIEW.value
    page = (select(*_SUMMARY_COLUMNS, count.correlate(None).scalar_subquery().label("total"),
                   *_REV_COLUMNS, *_CLR_COLUMNS)
            .select_from(posts
                         .outerjoin(_REV, and_(in_review, _REV.c.post_id == posts.c.id,
                                               _REV.c.number == posts.c.revision_number))
                         .outerjoin(_CLR, _newest_clearance(posts.c.id, _REV.c.content_hash)))
            .where(*conditions).order_by(*order)
            .limit(bindparam("limit")).offset(bindparam("offset")))
    return PageShape(page, count)


def read_page(s: Session, shape: PageShape, params: dict[str, Any], limit: int, offset: int
              ) -> tuple[list[Any], int, dict[int, PostState]]:
    """One page of posts (see `page_shape`): their rows (the columns `summary` reads), how many
    match in all, and the state of each post in review. Two statements: the page, then the
    decisions of its posts in review."""
    conn = s.connection()
    rows = conn.execute(shape.page, {**params, "limit": limit, "offset": offset}).all()
    # A page past the end brings no row, and so no count with it.
    count = rows[0].total if rows else (
        conn.execute(shape.count, params).scalar_one() if offset else 0)
    reviewed = {row.id: row for row in rows if row.status == PostStatus.IN_REVIEW.value}
    decisions: dict[int, list[DecisionRecord]] = {i: [] for i in reviewed}
    if reviewed:
        for row in _decisions_of(conn, list(reviewed)):
            if row.dec_run == reviewed[row.post_id].run:
                decisions[row.post_id].append(_decision(row))
    return rows, count, {pid: _state(row, _revision(row), tuple(decisions[pid]), _clearance(row))
                         for pid, row in reviewed.items()}


@dataclass(frozen=True)
class PostRead:
    """One post as an action or its page reads it, in one statement: the post's row (its
    columns by name), its state for the rules, the current revision's row and this run's
    decision rows as read (for the ledger check), and the revision's publication record."""

    post: Any
    state: PostState
    revision: Any | None
    decisions: tuple[Any, ...]
    publication: Any | None = None


_POSTS, _PUBS = m.Post.__table__, m.Publication.__table__
_PUB_COLUMNS = tuple(c.label(f"pub_{c.name}") for c in _PUBS.c)
_READ = (_POSTS
         .outerjoin(_REV, and_(_REV.c.post_id == _POSTS.c.id,
                               _REV.c.number == _POSTS.c.revision_number))
         .outerjoin(_CLR, _newest_clearance(_POSTS.c.id, _REV.c.content_hash))
         .outerjoin(_DEC, and_(_DEC.c.post_id == _POSTS.c.id, _DEC.c.run == _POSTS.c.run)))
# Built once, the post's id bound at each execution: SQLAlchemy then finds the statement's
# compiled form by a cache key it has computed once too (a statement built per call is walked
# whole, all its sixty-odd columns, every time to compute that key).
_READ_POST = (select(_POSTS, *_REV_COLUMNS, _REV.c.comment.label("rev_comment"),
                     _REV.c.created_at.label("rev_created_at"), *_CLR_COLUMNS, *_DEC_COLUMNS)
              .select_from(_READ).where(_POSTS.c.id == bindparam("post_id"))
              .order_by(_DEC.c.id))
_READ_POST_PUBLISHED = (
    _READ_POST.add_columns(*_PUB_COLUMNS)
    .select_from(_READ.outerjoin(_PUBS, and_(_PUBS.c.post_id == _POSTS.c.id,
                                             _PUBS.c.revision_hash == _REV.c.content_hash))))


def read_post(s: Session, post_id: int, *, publication: bool = False) -> PostRead:
    """The post, its current revision, that revision's newest clearance and this run's
    decisions (and with `publication`, the revision's publication record), in one statement:
    one round trip, and all of it as of one moment.

    Raises:
        NotFound: no such post.
    """
    fits = isinstance(post_id, int) and 0 < post_id <= MAX_ID  # a database integer at all
    query = _READ_POST_PUBLISHED if publication else _READ_POST
    rows = s.connection().execute(query, {"post_id": post_id}).all() if fits else []
    if not rows:
        raise NotFound(Text("没有编号为 {i} 的稿件。", "There is no post {i}.").format(i=post_id))
    first = rows[0]
    decided = tuple(row for row in rows if row.dec_id is not None)
    state = _state(first, _revision(first), tuple(_decision(row) for row in decided),
                   _clearance(first))
    pub = None
    if publication and first.pub_id is not None:
        pub = _Prefixed(first, "pub_")
    return PostRead(first, state, _Prefixed(first, "rev_") if first.rev_number is not None
                    else None, tuple(_Prefixed(row, "dec_") for row in decided), pub)


class _Prefixed:
    """The columns of a row that carry one prefix, by their own names (rev_title as title)."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)


def unbacked(s: Session, post_id: int, read: PostRead | None = None,
             log: tuple[Sequence[Any], list[Text]] | None = None) -> list[Finding]:
    """What the rules would read of this post that its audit rows did not write (art. 28: the
    record of who drafted, reviewed and signed must be the real one); empty when all is backed.

    With `read` (the post as `read_post` read it) the rules' rows are not read again, only the
    clearances and publish intents the check needs besides; with `log` (`ledger.post_log`), the
    audit rows are not either."""
    if read is None:
        problems = ledger.check_post(s, post_id)
    else:
        conn = s.connection()
        rows, links = log if log is not None else ledger.post_log(conn, post_id)
        clearances, intents = [], []
        for row in conn.execute(_CLEARANCES_AND_INTENTS, {"post_id": post_id}):
            (intents if row.intent else clearances).append(row)
        stored = ledger.stored_ledger(read.post, [read.revision] if read.revision else [],
                                      read.decisions, clearances, intents)
        problems = links + ledger.compare_post(rows, stored)
    return [Finding("not_in_audit_log",
                    Text("与审计日志不符（第二十八条）：" + p.zh, "Not backed by the audit log "
                         "(art. 28): " + p.en), "28")
            for p in problems]


def expand_hash(s: Session, post: m.Post, given: str) -> str:
    """The full hash of one of this post's revisions, from the whole hash or a prefix of at
    least 8 hex digits as people copy it from a preview. An older revision of this post comes
    back as it is: the chain then says it is not the current one.

    Raises:
        InvalidInput: not a hash, too short, ambiguous, another post's revision, or no revision.
    """
    wanted = given.strip().lower()
    if not _HEX.fullmatch(wanted) or len(wanted) > 64:
        raise InvalidInput(Text("“{g}”不是版本哈希：应为预览中显示的十六进制编号（至少 8 位）。",
                                "“{g}” is not a revision hash: copy the hexadecimal number the "
                                "preview shows (8 characters or more).").format(g=given[:70]))
    if len(wanted) < 8:
        raise InvalidInput(Text("版本哈希至少需要 8 位。", "Give at least 8 characters of the "
                                "revision hash."))
    mine = s.execute(select(m.Revision.content_hash, m.Revision.number)
                     .where(m.Revision.post_id == post.id)).all()
    found = sorted({(n, h) for h, n in mine if h.startswith(wanted)})
    if len(found) == 1:
        return found[0][1]
    if len(found) > 1:
        raise InvalidInput(Text("“{g}”同时对应本稿的第{ns}版，请多给几位。",
                                "“{g}” matches revisions {ns_en} of this post; give more "
                                "characters.").format(
            g=given, ns="、".join(str(n) for n, _ in found),
            ns_en=", ".join(str(n) for n, _ in found)))
    other = s.scalars(select(m.Revision.post_id).where(
        m.Revision.content_hash.startswith(wanted, autoescape=True)).limit(1)).first()
    if other is not None:
        raise InvalidInput(Text("版本 {g} 属于稿件 #{o}，不是稿件 #{p} 的版本。",
                                "Revision {g} belongs to post #{o}, not to post #{p}.")
                           .format(g=wanted[:12], o=other, p=post.id))
    raise InvalidInput(Text("稿件 #{p} 没有版本 {g}：请从本稿最新预览复制版本哈希。",
                            "Post #{p} has no revision {g}: copy the hash from its latest "
                            "preview.").format(g=wanted[:12], p=post.id))


# Stored values to enum members by a dict lookup (a page builds hundreds of them; calling the
# enum class is several times slower). An unknown value still fails as the enum fails.
def _members(kind: type[E]) -> dict[str, E]:
    return {str(member.value): member for member in kind}  # type: ignore[attr-defined]


_STATUSES, _CATEGORIES = _members(PostStatus), _members(Category)
_CLASSIFICATIONS, _MODES = _members(Classification), _members(PublishMode)
_STEPS, _OUTCOMES = _members(Step), _members(Outcome)


def summary(post: m.Post) -> PostSummary:
    """The façade's value for a stored post."""
    return PostSummary(
        id=post.id, title=post.title,
        status=_STATUSES.get(post.status) or PostStatus(post.status),
        department=post.department, drafter=post.drafter,
        category=_CATEGORIES.get(post.category) or Category(post.category),
        classification=_CLASSIFICATIONS.get(post.classification)
        or Classification(post.classification), formed_on=post.formed_on,
        due_on=post.due_on, due_estimated=post.due_estimated, run=post.run,
        revision_number=post.revision_number, version=post.version, archived=post.archived,
        publish_mode=_MODES.get(post.publish_mode) or PublishMode(post.publish_mode),
        scheduled_at=post.scheduled_at, article_url=post.article_url,
        published_at=post.published_at, problem=Text(post.problem_zh, post.problem_en),
        repost_source=post.repost_source, created_at=post.created_at,
        updated_at=post.updated_at,
    )


def revision_summary(rev: m.Revision) -> RevisionSummary:
    """The façade's value for a stored revision."""
    return RevisionSummary(rev.number, rev.content_hash, rev.title, rev.author, rev.digest,
                           rev.made_by, rev.comment, rev.created_at)


def _clearances_and_intents() -> Any:
    # A post's clearances and publish intents, each in the order written, in one statement
    # (what the ledger check reads besides the rows the rules read); what one kind of row
    # lacks is NULL.
    c, i = _CLR.c, m.PublishIntent.__table__.c
    none = {column.name: null().cast(column.type) for column in (
        c.basis, c.reason, c.recorded_by, c.on_behalf_of, c.recorded_on, i.kind)}
    clearances = select(literal(0).label("intent"), c.id, c.revision_hash, c.basis, c.reason,
                        c.recorded_by, c.on_behalf_of, c.recorded_on,
                        none["kind"].label("kind")).where(c.post_id == bindparam("post_id"))
    intents = select(literal(1).label("intent"), i.id, i.revision_hash,
                     *(none[n].label(n) for n in ("basis", "reason", "recorded_by",
                                                  "on_behalf_of", "recorded_on")),
                     i.kind).where(i.post_id == bindparam("post_id"))
    both = union_all(clearances, intents).subquery()
    return select(both).order_by(both.c.intent, both.c.id)


_CLEARANCES_AND_INTENTS = _clearances_and_intents()


def timeline(rows: Iterable[Any]) -> tuple[TimelineEntry, ...]:
    """The post's audit rows (as `ledger.post_log` reads them), oldest first."""
    return tuple(TimelineEntry(r.seq, r.at, r.actor, r.action, json.loads(r.detail), r.hash)
                 for r in rows)


def publication_ids(pub: m.Publication) -> PublicationIds:
    """The façade's value for a stored publication record."""
    return PublicationIds(
        post_id=pub.post_id, revision_hash=pub.revision_hash, attempt=pub.attempt,
        thumb_media_id=pub.thumb_media_id, images=json.loads(pub.images or "{}"),
        content_sha256=pub.content_sha256, draft_media_id=pub.draft_media_id,
        preview_url=pub.preview_url, submit_started_at=pub.submit_started_at,
        publish_id=pub.publish_id, clientmsgid=pub.clientmsgid, msg_id=pub.msg_id,
        article_id=pub.article_id, article_url=pub.article_url, wechat_status=pub.wechat_status,
        last_error=pub.last_error,
    )
