"""Use cases: load a post, run the pure rules, persist the outcome and its audit rows in one go."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from approvals.rules import chain, content, gates
from approvals.rules.deadlines import due_date
from approvals.rules.errors import (
    AlreadyDecided,
    GateBlocked,
    InvalidInput,
    NotFound,
    SignoffError,
    Text,
)
from approvals.rules.org import OrgChart
from approvals.rules.records import (
    Clearance,
    ClearanceBasis,
    DecisionRecord,
    Outcome,
    PostState,
    RevisionInfo,
)
from approvals.rules.revisions import (
    AUTHOR_MAX,
    CONTENT_MAX_CHARS,
    DIGEST_MAX,
    TITLE_MAX,
    RevisionContent,
)
from approvals.rules.states import Action, Category, Classification, PostStatus, Step
from approvals.store import audit
from approvals.store import models as m

Enqueue = Callable[[int], None]
E = TypeVar("E")

ALREADY_DECIDED = Text("本稿刚刚已被他人处理（或已更新），请刷新后查看最新状态。",
                       "Someone else acted on this post a moment ago (or it changed); "
                       "refresh to see where it stands.")


@dataclass(frozen=True)
class RevisionInput:
    """A layout revision as the operator hands it in; unset fields come from the material."""

    title: str | None = None
    body: str | None = None
    body_format: str = "html"
    author: str | None = None
    digest: str = ""
    cover_sha256: str | None = None
    repost_source: str | None = None


@dataclass(frozen=True)
class ActOutcome:
    """What an action did, for the adapter to render."""

    post_id: int
    action: Action
    status_before: PostStatus
    status_after: PostStatus
    step: Step | None
    on_behalf_of: str | None
    revision_number: int
    findings: tuple[gates.Finding, ...] = ()


@dataclass(frozen=True)
class TimelineEntry:
    """One audit row of a post, as people read it."""

    seq: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, object]


@dataclass
class PostView:
    """Everything `post show` and the console display about one post."""

    post: m.Post
    state: PostState
    revision: m.Revision | None
    step: Step | None
    assignee: gates.Assignment | None
    findings: list[gates.Finding] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    preview_url: str | None = None  # the WeChat draft's temporary link for this revision


class Service:
    """The core's use cases over one database and one org chart."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        org: OrgChart,
        *,
        zone: ZoneInfo | None = None,
        clock: Callable[[], datetime] = m.utcnow,
        enqueue: Enqueue | None = None,
    ) -> None:
        self.sessions = sessions
        self.org = org
        self.zone = zone or ZoneInfo("Asia/Shanghai")
        self.clock = clock
        # Signing hands the post over through this (the core never imports the queue).
        self.enqueue = enqueue

    # --- helpers ------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The current instant (UTC)."""
        return self.clock()

    def today(self) -> date:
        """Today in the unit's time zone: due dates and delegations are counted in it."""
        return self.now().astimezone(self.zone).date()

    def _person(self, key: str) -> str:
        person = self.org.find_person(key)
        if person is None:
            raise NotFound(Text("组织架构中没有“{p}”。", "“{p}” is not in the org chart.")
                           .format(p=key))
        return person.key

    # --- posts --------------------------------------------------------------------------------

    def create_post(
        self,
        *,
        drafter: str,
        title: str,
        body: str,
        body_format: str = "text",
        category: str = Category.PUBLICITY,
        classification: str = Classification.PROACTIVE,
        formed_on: date | None = None,
        department: str | None = None,
        repost_source: str | None = None,
        cover: tuple[str, bytes, str] | None = None,
    ) -> int:
        """A drafter hands in material; returns the new post's id.

        Raises:
            NotFound: the drafter is not in the org chart.
            InvalidInput: a field is missing or invalid (each message says which and why).
        """
        drafter = self._person(drafter)
        dept = self._department_for(drafter, department)
        title = (title or "").strip()
        if not title:
            raise InvalidInput(Text("标题不能为空。", "The title is empty."))
        if len(title) > 200:
            raise InvalidInput(Text("标题过长（{n} 字），最多 200 字。",
                                    "The title is too long ({n} characters; at most 200).")
                               .format(n=len(title)))
        if not (body or "").strip():
            raise InvalidInput(Text("正文不能为空。", "The body is empty."))
        content.to_html(body, body_format)  # validates the format and that something is left
        cat = _enum(Category, category, Text("类别", "category"))
        cls = _enum(Classification, classification, Text("公开属性", "classification"))
        today = self.today()
        formed_on = formed_on or today
        if formed_on > today:
            raise InvalidInput(Text("信息形成日期 {d} 晚于今天。", "The formation date {d} is in the "
                                    "future.").format(d=formed_on.isoformat()))
        source = (repost_source or "").strip() or None
        if cat is Category.REPOST and not source:
            raise InvalidInput(Text("转载信息必须注明信息来源（第二十八条）。",
                                    "A repost must name its source (art. 28)."))
        if source and not self.org.sources.allows(source):
            raise InvalidInput(Text("信息来源“{s}”不在官方渠道白名单中，转载来源必须为官方渠道（第二十八条）。",
                                    "The source “{s}” is not on the allowlist of official "
                                    "channels (art. 28).").format(s=source))
        due = due_date(formed_on)
        now = self.now()
        with self.sessions() as s, s.begin():
            cover_sha = _store_asset(s, *cover) if cover else None
            post = m.Post(
                title=title, department=dept, drafter=drafter, category=cat.value,
                classification=cls.value, formed_on=formed_on, due_on=due.due,
                due_estimated=due.estimated, status=PostStatus.DRAFT.value, run=0,
                revision_number=0, version=0, material_format=body_format, material_body=body,
                repost_source=source, cover_sha256=cover_sha, created_at=now, updated_at=now,
            )
            s.add(post)
            s.flush()
            audit.append(s, actor=drafter, action="post.created", post_id=post.id, at=now,
                         detail={"title": title, "department": dept, "category": cat.value,
                                 "classification": cls.value, "formed_on": formed_on,
                                 "due_on": due.due, "due_estimated": due.estimated})
            return post.id

    def _department_for(self, drafter: str, department: str | None) -> str:
        mine = self.org.departments_of(drafter)
        if department is not None:
            if department not in self.org.departments:
                raise InvalidInput(Text("没有科室“{d}”。", "There is no department “{d}”.")
                                   .format(d=department))
            return department
        if len(mine) == 1:
            return mine[0].code
        if not mine:
            raise InvalidInput(Text("{p}不属于任何科室，请指定科室。",
                                    "{p} belongs to no department; name the department.")
                               .format(p=self.org.name_of(drafter)))
        raise InvalidInput(Text("{p}属于多个科室（{d}），请指定科室。",
                                "{p} belongs to several departments ({d}); name one.")
                           .format(p=self.org.name_of(drafter),
                                   d=", ".join(d.code for d in mine)))

    # --- actions ------------------------------------------------------------------------------

    def act(
        self,
        post_id: int,
        action: Action | str,
        actor: str,
        *,
        comment: str = "",
        revision_hash: str | None = None,
        revision: RevisionInput | None = None,
        basis: str | None = None,
    ) -> ActOutcome:
        """Take `action` on a post as `actor`; the whole outcome commits or nothing does.

        Raises:
            NotFound, InvalidTransition (StaleRevision, AlreadyDecided), NotAllowed,
            InvalidInput, GateBlocked (its gate run is still written to the audit log).
        """
        action = _enum(Action, action, Text("操作", "action"))
        actor_key = self.org.find_person(actor).key if self.org.find_person(actor) else actor
        now, today = self.now(), self.today()
        refused: GateBlocked | None = None
        with self.sessions() as s, s.begin():
            post = _load(s, post_id)
            state = load_state(s, post)
            if revision_hash is not None:
                revision_hash = _expand_hash(s, post, revision_hash)
            try:
                result = self._dispatch(s, post, state, action, actor_key, today, now, comment,
                                        revision_hash, revision, basis)
            except GateBlocked as exc:
                # The refused gate run is part of the record too (one audit row per gate run).
                audit.append(s, actor=actor_key, action="gates.refused", post_id=post.id, at=now,
                             detail={"revision_hash": state.revision.content_hash
                                     if state.revision else None,
                                     "findings": [f.as_dict() for f in exc.findings]})
                refused = exc
            else:
                outcome = self._apply(s, post, state, result, now)
        if refused is not None:
            raise refused
        if outcome.status_after is PostStatus.SIGNED and self.enqueue is not None:
            self.enqueue(post_id)
        return outcome

    def _dispatch(
        self, s: Session, post: m.Post, state: PostState, action: Action, actor: str, today: date,
        now: datetime, comment: str, revision_hash: str | None, revision: RevisionInput | None,
        basis: str | None,
    ) -> chain.Result:
        org = self.org
        if action in chain.DECISION_ACTIONS:
            return chain.decide(state, action, actor, org, on=today, now=now,
                                revision_hash=revision_hash, comment=comment)
        if action is Action.WITHDRAW:
            return chain.withdraw(state, actor, org, on=today, comment=comment)
        if action is Action.RESUBMIT:
            return chain.resubmit(state, actor, org, on=today, comment=comment)
        if action is Action.RETRY:
            return chain.retry(state, actor, org, on=today, comment=comment)
        if action is Action.CLEAR_PII:
            return chain.clear_pii(state, actor, org, on=today, basis=basis or "",
                                   reason=comment, revision_hash=revision_hash)
        if action is Action.NEW_REVISION:
            # Check entitlement before doing any work on the content.
            chain.permit(state, action, actor, org, today)
            info = self._revision_info(post, state, revision or RevisionInput(), actor)
            return chain.new_revision(state, actor, org, info, on=today, comment=comment)
        chain.permit(state, action, actor, org, today)  # raises: only the worker does this
        raise AssertionError(action)  # pragma: no cover

    def _revision_info(self, post: m.Post, state: PostState, given: RevisionInput,
                       actor: str) -> RevisionInfo:
        title = (given.title if given.title is not None else post.title).strip()
        if given.body is not None:
            body_html = content.to_html(given.body, given.body_format)
        else:
            body_html = content.to_html(post.material_body, post.material_format)
        author = given.author if given.author is not None else self.org.unit_name[:AUTHOR_MAX]
        source = given.repost_source if given.repost_source is not None else post.repost_source
        problems = []
        if not title:
            problems.append(Text("标题不能为空", "the title is empty"))
        if len(title) > TITLE_MAX:
            problems.append(Text(f"标题 {len(title)} 字，公众号最多 {TITLE_MAX} 字",
                                 f"the title has {len(title)} characters; WeChat allows "
                                 f"{TITLE_MAX}"))
        if len(author) > AUTHOR_MAX:
            problems.append(Text(f"作者最多 {AUTHOR_MAX} 字", f"the author allows {AUTHOR_MAX} "
                                 "characters"))
        if len(given.digest) > DIGEST_MAX:
            problems.append(Text(f"摘要最多 {DIGEST_MAX} 字", f"the digest allows {DIGEST_MAX} "
                                 "characters"))
        if len(body_html) >= CONTENT_MAX_CHARS:
            problems.append(Text(f"正文须少于 {CONTENT_MAX_CHARS} 字符",
                                 f"the body must be under {CONTENT_MAX_CHARS} characters"))
        if problems:
            raise InvalidInput(Text("排版稿不符合要求：" + "；".join(p.zh for p in problems),
                                    "The revision does not fit: " +
                                    "; ".join(p.en for p in problems)))
        rc = RevisionContent(
            title=title, body_html=body_html, category=post.category, author=author,
            digest=given.digest, cover_sha256=given.cover_sha256 or post.cover_sha256,
            repost_source=(source or "").strip() or None,
        ).normalized()
        return RevisionInfo(post.revision_number + 1, rc, rc.content_hash(), actor)

    def _apply(self, s: Session, post: m.Post, state: PostState, result: chain.Result,
               now: datetime) -> ActOutcome:
        values: dict[str, object] = {"status": result.status_after.value,
                                     "version": post.version + 1, "updated_at": now}
        if result.restart:
            values["run"] = post.run + 1
        if result.status_after in (PostStatus.REJECTED, PostStatus.WITHDRAWN):
            values["archived"] = True  # nothing is deleted: archived posts keep every record
        new_rev = result.revision if result.action is Action.NEW_REVISION else None
        if new_rev is not None:
            values["revision_number"] = new_rev.number
            values["title"] = new_rev.content.title  # lists show the title as laid out
        changed = s.execute(
            update(m.Post).where(m.Post.id == post.id, m.Post.version == post.version)
            .values(**values).execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            raise AlreadyDecided(ALREADY_DECIDED)
        if new_rev is not None:
            c = new_rev.content
            s.add(m.Revision(post_id=post.id, number=new_rev.number, title=c.title,
                             author=c.author, digest=c.digest, body_html=c.body_html,
                             cover_sha256=c.cover_sha256, repost_source=c.repost_source,
                             category=c.category, content_hash=new_rev.content_hash,
                             made_by=new_rev.made_by, comment=result.comment, created_at=now))
        d = result.decision
        if d is not None:
            s.add(m.Decision(post_id=post.id, run=d.run, step=d.step.value, attempt=d.attempt,
                             outcome=d.outcome.value, actor=d.actor, on_behalf_of=d.on_behalf_of,
                             revision_hash=d.revision_hash, comment=d.comment, note=d.note,
                             decided_on=d.decided_on, decided_at=now))
        if result.clearance is not None:
            c2 = result.clearance
            s.add(m.Clearance(post_id=post.id, revision_hash=c2.revision_hash,
                              basis=c2.basis.value, reason=c2.reason, recorded_by=c2.recorded_by,
                              on_behalf_of=c2.on_behalf_of, recorded_on=c2.recorded_on,
                              recorded_at=now))
        try:
            s.flush()
        except IntegrityError:
            raise AlreadyDecided(ALREADY_DECIDED) from None
        rev = new_rev or state.revision
        self._outbox(s, post, result, rev, now)
        detail: dict[str, object] = {
            "from": result.status_before.value, "to": result.status_after.value,
            "run": values.get("run", post.run),
            "revision": rev.number if rev else None,
            "revision_hash": rev.content_hash if rev else None,
        }
        if result.step is not None:
            detail["step"] = result.step.value
        if d is not None:
            detail["outcome"] = d.outcome.value
            if d.on_behalf_of:
                detail["on_behalf_of"] = d.on_behalf_of  # 代签: signed for X by Y
            if d.note:
                detail["note"] = d.note
        if result.comment:
            detail["comment"] = result.comment
        if result.clearance is not None:
            detail["basis"] = result.clearance.basis.value
        audit.append(s, actor=result.actor, action=f"post.{result.action.value}",
                     post_id=post.id, at=now, detail=detail)
        if result.action is Action.SIGN:
            audit.append(s, actor=result.actor, action="gates.passed", post_id=post.id, at=now,
                         detail={"revision_hash": rev.content_hash if rev else None,
                                 "findings": [f.as_dict() for f in result.findings]})
        return ActOutcome(post.id, result.action, result.status_before, result.status_after,
                          result.step, d.on_behalf_of if d else None,
                          new_rev.number if new_rev else post.revision_number, result.findings)

    def _outbox(self, s: Session, post: m.Post, result: chain.Result, rev: RevisionInfo | None,
                now: datetime) -> None:
        # The publish intent is written in the same transaction as the sign-off: the database,
        # not the queue, is the source of truth (a dispatcher puts intents on the queue).
        if result.status_after is PostStatus.SIGNED and rev is not None:
            due = post.scheduled_at if post.scheduled_at is not None else now
            s.add(m.PublishIntent(post_id=post.id, kind="publish", revision_hash=rev.content_hash,
                                  due_at=due, created_at=now))
        elif result.action is Action.NEW_REVISION and rev is not None:
            s.add(m.PublishIntent(post_id=post.id, kind="preview", revision_hash=rev.content_hash,
                                  due_at=now, created_at=now))
        if result.action is Action.RETRY and rev is not None:
            # A new attempt after a failure: the failed attempt's WeChat ids (a dead draft, a
            # failed publish_id, a used clientmsgid) would only bring the same failure back.
            s.execute(update(m.Publication).where(
                m.Publication.post_id == post.id, m.Publication.revision_hash == rev.content_hash)
                .values(attempt=m.Publication.attempt + 1, thumb_media_id=None, images="{}",
                        content_sha256=None, draft_media_id=None, submit_started_at=None,
                        publish_id=None, clientmsgid=None, msg_id=None, article_id=None,
                        article_url=None, updated_at=now))
        if result.status_after is PostStatus.WITHDRAWN:
            s.execute(update(m.PublishIntent).where(
                m.PublishIntent.post_id == post.id, m.PublishIntent.state == "pending")
                .values(state="cancelled", done_at=now))

    # --- reading ------------------------------------------------------------------------------

    def view(self, post_id: int) -> PostView:
        """The post, its current state, open step and assignee, gate findings and timeline.

        Raises:
            NotFound: no such post.
        """
        with self.sessions() as s:
            post = _load(s, post_id)
            state = load_state(s, post)
            revision = s.scalars(select(m.Revision).where(
                m.Revision.post_id == post.id, m.Revision.number == post.revision_number)
            ).one_or_none()
            step = chain.current_step(state, self.org)
            assignee = gates.resolve_assignee(state, step, self.org) if step else None
            findings = gates.evaluate(state, self.org) if state.revision else []
            preview = None
            if revision is not None:
                preview = s.scalar(select(m.Publication.preview_url).where(
                    m.Publication.post_id == post.id,
                    m.Publication.revision_hash == revision.content_hash))
            return PostView(post, state, revision, step, assignee, findings,
                            self._timeline(s, post.id), preview)

    def allowed_actions(self, post_id: int, person: str) -> list[Action]:
        """What `person` may do on the post now (the buttons and forms are built from this)."""
        key = self._person(person)
        with self.sessions() as s:
            state = load_state(s, _load(s, post_id))
        return chain.allowed_actions(state, key, self.org, self.today())

    def list_posts(self, status: str | None = None, include_archived: bool = False
                   ) -> list[m.Post]:
        """Posts, newest first, optionally of one status."""
        q = select(m.Post).order_by(m.Post.id.desc())
        if status:
            q = q.where(m.Post.status == _enum(PostStatus, status, Text("状态", "status")).value)
        elif not include_archived:
            q = q.where(m.Post.archived.is_(False))
        with self.sessions() as s:
            return list(s.scalars(q))

    def _timeline(self, s: Session, post_id: int) -> list[TimelineEntry]:
        rows = s.scalars(select(m.AuditEntry).where(m.AuditEntry.post_id == post_id)
                         .order_by(m.AuditEntry.seq))
        return [TimelineEntry(r.seq, r.at, r.actor, r.action, json.loads(r.detail)) for r in rows]

    def verify_audit(self) -> audit.Report:
        """Check the whole audit chain."""
        with self.sessions() as s:
            return audit.verify(s)

    def count_posts(self) -> int:
        """How many posts exist (archived included)."""
        with self.sessions() as s:
            return s.scalar(select(func.count()).select_from(m.Post)) or 0


def _enum(kind: type[E], value: object, what: Text) -> E:
    try:
        return kind(value)  # type: ignore[call-arg]
    except ValueError:
        allowed = ", ".join(str(v.value) for v in kind)  # type: ignore[attr-defined]
        raise InvalidInput(Text("{w}“{v}”无效，可选：{a}。", "Invalid {w_en} “{v}”; expected one "
                                "of: {a}.").format(w=what.zh, w_en=what.en, v=value, a=allowed)
                           ) from None


def _load(s: Session, post_id: int) -> m.Post:
    post = s.get(m.Post, post_id)
    if post is None:
        raise NotFound(Text("没有编号为 {i} 的稿件。", "There is no post {i}.").format(i=post_id))
    return post


def _expand_hash(s: Session, post: m.Post, given: str) -> str:
    """Accept a hash prefix of at least 8 hex digits, as people copy it from a preview."""
    given = given.strip().lower()
    if len(given) == 64:
        return given
    if len(given) < 8:
        raise InvalidInput(Text("版本哈希至少需要 8 位。", "Give at least 8 characters of the "
                                "revision hash."))
    hashes = set(s.scalars(select(m.Revision.content_hash).where(m.Revision.post_id == post.id)))
    found = [h for h in hashes if h.startswith(given)]
    if len(found) == 1:
        return found[0]
    # Unknown or ambiguous: compare as given, so the chain reports it as stale.
    return given


def load_state(s: Session, post: m.Post) -> PostState:
    """The pure view of a stored post: current revision, this run's decisions, its clearance."""
    rev = s.scalars(select(m.Revision).where(m.Revision.post_id == post.id,
                                             m.Revision.number == post.revision_number)
                    ).one_or_none()
    info = None
    if rev is not None:
        info = RevisionInfo(rev.number, RevisionContent(
            title=rev.title, body_html=rev.body_html, category=rev.category, author=rev.author,
            digest=rev.digest, cover_sha256=rev.cover_sha256, repost_source=rev.repost_source),
            rev.content_hash, rev.made_by)
    decisions = tuple(
        DecisionRecord(step=Step(d.step), outcome=Outcome(d.outcome), actor=d.actor,
                       revision_hash=d.revision_hash, run=d.run, decided_on=d.decided_on,
                       decided_at=d.decided_at, on_behalf_of=d.on_behalf_of, comment=d.comment,
                       note=d.note, attempt=d.attempt)
        for d in s.scalars(select(m.Decision).where(m.Decision.post_id == post.id,
                                                    m.Decision.run == post.run)
                           .order_by(m.Decision.id))
    )
    clearance = None
    if info is not None:
        c = s.scalars(select(m.Clearance).where(m.Clearance.post_id == post.id,
                                                m.Clearance.revision_hash == info.content_hash)
                      .order_by(m.Clearance.id.desc()).limit(1)).one_or_none()
        if c is not None:
            clearance = Clearance(c.revision_hash, ClearanceBasis(c.basis), c.reason,
                                  c.recorded_by, c.recorded_on, c.on_behalf_of)
    return PostState(
        id=post.id, status=PostStatus(post.status), department=post.department,
        drafter=post.drafter, category=Category(post.category),
        classification=Classification(post.classification), run=post.run, revision=info,
        decisions=decisions, clearance=clearance,
    )


def _store_asset(s: Session, filename: str, data: bytes, mime: str) -> str:
    sha = hashlib.sha256(data).hexdigest()
    if s.get(m.Asset, sha) is None:
        s.add(m.Asset(sha256=sha, filename=filename, mime=mime, size=len(data), data=data))
    return sha


__all__ = ["ActOutcome", "PostView", "RevisionInput", "Service", "SignoffError", "load_state"]
