"""Everything a person does to a post: what they may do now, and doing it in one transaction.

`act` loads the post, runs the pure verb, and writes its outcome, its audit row, its outbox items
(publish intents) and its notifications together; the queue hears of them after the commit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from approvals.rules import chain, content, permits
from approvals.rules.article import (
    ASSET_SRC,
    bad_character,
    check_cover,
    check_fits,
    check_inline_image,
)
from approvals.rules.errors import (
    AlreadyDecided,
    GateBlocked,
    InvalidInput,
    InvalidRevision,
    StaleRevision,
    Text,
    sentences,
)
from approvals.rules.ledger import clearance_record, decision_record, intent_record
from approvals.rules.org import OrgChart
from approvals.rules.records import PostState, RevisionInfo
from approvals.rules.revisions import AUTHOR_MAX, RevisionContent
from approvals.rules.states import (
    ACTION_LABEL,
    PERSON_ACTIONS,
    SYSTEM_ACTIONS,
    Action,
    IntentKind,
    IntentState,
    PostStatus,
    PublishMode,
)
from approvals.services.base import Deps, UnitOfWork
from approvals.services.notifications import Notifications
from approvals.services.records import start_new_attempt, wechat_holds
from approvals.services.state import (
    PostRead,
    as_enum,
    expand_hash,
    read_post,
    resolve_person,
    unbacked,
)
from approvals.store import audit
from approvals.store import models as m
from approvals.views import ActOutcome, OutboxKind, Pending, RevisionInput, ScheduleInput

COMMENT_MAX = 2000  # a comment is read in a chat message and on every face


def check_comment(comment: str) -> None:
    """A comment is text people read: no control or invisible characters, at most COMMENT_MAX.

    Raises:
        InvalidInput: saying which.
    """
    ch = bad_character(comment, allow="\n\t")
    if ch is not None:
        raise InvalidInput(Text(f"意见含控制字符或不可见字符（U+{ord(ch):04X}），请删去。",
                                f"The comment contains a control or invisible character "
                                f"(U+{ord(ch):04X}); remove it."))
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(Text(f"意见过长（{len(comment)} 字），最多 {COMMENT_MAX} 字。",
                                f"The comment is too long ({len(comment)} characters; at most "
                                f"{COMMENT_MAX})."))


_POSTS = m.Post.__table__
# The post's columns to set are the parameters' keys (besides the two the WHERE binds).
_UPDATE_POST = update(_POSTS).where(_POSTS.c.id == bindparam("post_id"),
                                    _POSTS.c.version == bindparam("seen_version"))
_INSERT_REVISION = insert(m.Revision.__table__)
_INSERT_DECISION = insert(m.Decision.__table__)
_INSERT_CLEARANCE = insert(m.Clearance.__table__)

ALREADY_DECIDED = Text("本稿刚刚已被他人处理（或已更新），请刷新后查看最新状态。",
                       "Someone else acted on this post a moment ago (or it changed); "
                       "refresh to see where it stands.")


class Actions:
    """The chain's verbs over the database: `allowed_actions`, then `act`."""

    def __init__(self, deps: Deps, notifications: Notifications) -> None:
        self.deps = deps
        self.notifications = notifications

    def allowed_actions(self, post_id: int, person_key: str) -> list[Action]:
        """What the person may do on the post now (the buttons and forms are built from this)."""
        with self.deps.sessions() as s:
            state = read_post(s, post_id).state
        return self.allowed_in(state, person_key)

    def allowed_in(self, state: PostState, person_key: str) -> list[Action]:
        """What the person may do on a post in `state` (as just read)."""
        allowed = permits.allowed_actions(state, person_key, self.deps.org, self.deps.today())
        if Action.CANCEL in allowed and state.revision is not None:
            with self.deps.sessions() as s:
                if wechat_holds(s, state.id, state.revision.content_hash) is not None:
                    allowed.remove(Action.CANCEL)  # refused with its reason if tried anyway
        return allowed

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
        schedule: ScheduleInput | None = None,
        url: str | None = None,
    ) -> ActOutcome:
        """Take `action` on a post as `actor`; the whole outcome commits or nothing does.

        Raises:
            NotFound, InvalidTransition (StaleRevision, AlreadyDecided), NotAllowed,
            InvalidInput, GateBlocked (its gate run is still written to the audit log).
        """
        if str(action) not in {a.value for a in SYSTEM_ACTIONS}:  # those are refused below
            action = as_enum(Action, action, Text("操作", "action"), labels=ACTION_LABEL,
                             allowed=PERSON_ACTIONS)
        action = Action(action)
        actor_key = resolve_person(self.deps.org, actor)
        check_comment(comment)
        now, today = self.deps.now(), self.deps.today()
        refused: GateBlocked | None = None
        with self.deps.uow() as uow:
            s = uow.session
            read = read_post(s, post_id)
            post, state = read.post, read.state
            current = state.revision.content_hash if state.revision else None
            if revision_hash is not None and revision_hash != current:  # else it is whole
                revision_hash = expand_hash(s, post, revision_hash)
            try:
                result = self._decide(s, read, action, actor_key, today, now, comment,
                                      revision_hash, revision, basis, schedule, url)
            except GateBlocked as exc:
                # The refused gate run is part of the record too (one audit row per gate run).
                audit.append(s, actor=actor_key, action="gates.refused", post_id=post.id, at=now,
                             detail={"revision_hash": state.revision.content_hash
                                     if state.revision else None,
                                     "findings": [f.as_dict() for f in exc.findings],
                                     "channel": self.deps.channel})
                refused = exc
            else:
                outcome = self._apply(uow, post, state, result, now)
        if refused is not None:
            raise refused
        return outcome

    def _decide(
        self, s: Session, read: PostRead, action: Action, actor: str, today: date,
        now: datetime, comment: str, revision_hash: str | None, revision: RevisionInput | None,
        basis: str | None, schedule: ScheduleInput | None, url: str | None,
    ) -> chain.Result:
        org, post, state = self.deps.org, read.post, read.state
        if action is Action.SIGN:
            # What the rules are about to read must be what the audit log says was written.
            refused = unbacked(s, post.id, read)
            if refused:
                raise GateBlocked(sentences(
                    Text("本稿的记录与审计日志不符，不能签发：",
                         "This post's records do not match the audit log; it cannot be signed: "),
                    [f.text for f in refused],
                    Text("请管理员运行 signoff audit verify 核查。",
                         "An admin should run signoff audit verify.")), tuple(refused))
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
        if action is Action.SCHEDULE:
            given = schedule or ScheduleInput()
            return chain.schedule(state, actor, org, on=today, now=now, at=given.at,
                                  mode=given.mode or post.publish_mode, comment=comment)
        if action is Action.CONFIRM_PUBLISHED:
            return chain.confirm_published(state, actor, org, on=today, url=url or "",
                                           comment=comment)
        if action is Action.CONFIRM_ABSENT:
            return chain.confirm_absent(state, actor, org, on=today, comment=comment)
        if action is Action.CANCEL:
            held = wechat_holds(s, post.id, state.revision.content_hash) if state.revision \
                else None
            return chain.cancel(state, actor, org, on=today, comment=comment,
                                mode=post.publish_mode, wechat_holds=held)
        if action is Action.NEW_REVISION:
            # Check entitlement before doing any work on the content.
            permits.permit(state, action, actor, org, today)
            if revision is not None and revision.based_on is not None:
                _check_based_on(s, post, state, revision.based_on, org)
            info = self._revision_info(s, post, revision or RevisionInput(), actor)
            return chain.new_revision(state, actor, org, info, on=today, comment=comment)
        permits.permit(state, action, actor, org, today)  # raises: only the worker does this
        raise AssertionError(action)  # pragma: no cover

    def _revision_info(self, s: Session, post: m.Post, given: RevisionInput,
                       actor: str) -> RevisionInfo:
        title = (given.title if given.title is not None else post.title).strip()
        if given.body is not None:
            try:
                body_html = content.to_html(given.body, given.body_format)
            except InvalidInput as exc:  # an empty body, a control character: the body's
                raise InvalidRevision(exc.text, (("body", exc.text),)) from None
        else:
            body_html = content.to_html(post.material_body, post.material_format)
        # Spaces around the author are none of it; only spaces is no author (WeChat's is optional).
        author = (given.author if given.author is not None
                  else self.deps.org.unit_name[:AUTHOR_MAX]).strip()
        source = given.repost_source if given.repost_source is not None else post.repost_source
        rc = RevisionContent(
            title=title, body_html=body_html, category=post.category, author=author,
            digest=given.digest, cover_sha256=given.cover_sha256 or post.cover_sha256,
            repost_source=(source or "").strip() or None,
        ).normalized()
        # Every WeChat limit, against the article as it will be sent: footer included.
        check_fits(rc, self._longest_footer(post, rc.repost_source))
        self._check_images(s, rc)
        return RevisionInfo(post.revision_number + 1, rc, rc.content_hash(), actor)

    def _longest_footer(self, post: m.Post, source: str | None) -> str:
        return longest_footer(self.deps.org, post.drafter, source)

    def _check_images(self, s: Session, rc: RevisionContent) -> None:
        wanted = [(rc.cover_sha256, True)] if rc.cover_sha256 else []
        wanted += [(sha, False) for sha in dict.fromkeys(ASSET_SRC.findall(rc.body_html))]
        for sha, is_cover in wanted:
            # Held (FOR SHARE) until the revision commits: a prune of unsaved uploads running
            # now waits for it, then sees the revision refer to the asset.
            asset = s.get(m.Asset, sha, with_for_update={"read": True})
            if asset is None:
                raise InvalidInput(Text("排版稿引用了未上传的图片（{h}）。", "The revision refers to an "
                                        "image that was never uploaded ({h}).").format(h=sha[:12]))
            (check_cover if is_cover else check_inline_image)(asset.data, asset.filename)

    def _apply(self, uow: UnitOfWork, post: m.Post, state: PostState, result: chain.Result,
               now: datetime) -> ActOutcome:
        s = uow.session
        values: dict[str, Any] = {"status": result.status_after.value,
                                  "version": post.version + 1, "updated_at": now}
        if result.restart:
            values["run"] = post.run + 1
        if result.status_after in (PostStatus.REJECTED, PostStatus.WITHDRAWN):
            values["archived"] = True  # nothing is deleted: archived posts keep every record
        new_rev = result.revision if result.action is Action.NEW_REVISION else None
        if new_rev is not None:
            values["revision_number"] = new_rev.number
            values["title"] = new_rev.content.title  # lists show the title as laid out
        if result.schedule is not None:
            values["scheduled_at"] = result.schedule.at
            values["publish_mode"] = result.schedule.mode.value
        if result.status_after in (PostStatus.SIGNED, PostStatus.PUBLISHED):
            values.update(problem_zh="", problem_en="")
        if result.action is Action.CONFIRM_PUBLISHED:
            values.update(article_url=result.url, published_at=now)
        if result.problem is not None:
            values.update(problem_zh=result.problem.zh, problem_en=result.problem.en)
        if result.action is Action.CANCEL:
            # A worker that claimed it loses the claim: it checks before submitting.
            values.update(claimed_by=None, lease_until=None)
        # Plain statements on the transaction's connection, built once (no ORM unit of work,
        # no statement walked again for its cache key): an action writes a handful of rows.
        conn = s.connection()
        changed = conn.execute(_UPDATE_POST, {**values, "post_id": post.id,
                                              "seen_version": post.version}).rowcount
        if changed != 1:
            raise AlreadyDecided(ALREADY_DECIDED)
        try:
            if new_rev is not None:
                c = new_rev.content
                conn.execute(_INSERT_REVISION, {
                    "post_id": post.id, "number": new_rev.number, "title": c.title,
                    "author": c.author, "digest": c.digest, "body_html": c.body_html,
                    "cover_sha256": c.cover_sha256, "repost_source": c.repost_source,
                    "category": c.category, "content_hash": new_rev.content_hash,
                    "made_by": new_rev.made_by, "comment": result.comment, "created_at": now})
            d = result.decision
            if d is not None:
                conn.execute(_INSERT_DECISION, {
                    "post_id": post.id, "run": d.run, "step": d.step.value, "attempt": d.attempt,
                    "outcome": d.outcome.value, "actor": d.actor, "on_behalf_of": d.on_behalf_of,
                    "revision_hash": d.revision_hash, "comment": d.comment, "note": d.note,
                    "decided_on": d.decided_on, "decided_at": now})
            if result.clearance is not None:
                c2 = result.clearance
                conn.execute(_INSERT_CLEARANCE, {
                    "post_id": post.id, "revision_hash": c2.revision_hash,
                    "basis": c2.basis.value, "reason": c2.reason, "recorded_by": c2.recorded_by,
                    "on_behalf_of": c2.on_behalf_of, "recorded_on": c2.recorded_on,
                    "recorded_at": now})
        except IntegrityError:
            raise AlreadyDecided(ALREADY_DECIDED) from None
        rev = new_rev or state.revision
        post_after = {**values, "scheduled_at": values.get("scheduled_at", post.scheduled_at)}
        intent = self._outbox(uow, post, result, rev, post_after["scheduled_at"], now)
        detail = _detail(result, rev, values, post)
        detail["channel"] = self.deps.channel
        if intent is not None:
            detail["intent"] = intent
        # Who is told what is worked out before the audit row: from the append to the commit
        # the log's head is locked, and every other change waits for it.
        told = self.notifications.prepare(uow, post, state, chain.apply(state, result),
                                          result.actor, comment=result.comment, title=values.get("title"),
                                          url=result.url, problem=result.problem)
        seq = audit.append(s, actor=result.actor, action=f"post.{result.action.value}",
                           post_id=post.id, at=now, detail=detail)
        if result.action is Action.SIGN:
            audit.append(s, actor=result.actor, action="gates.passed", post_id=post.id, at=now,
                         detail={"revision_hash": rev.content_hash if rev else None,
                                 "findings": [f.as_dict() for f in result.findings],
                                 "channel": self.deps.channel})
        told.write(uow, seq)
        sched = result.schedule
        return ActOutcome(post.id, result.action, result.status_before, result.status_after,
                          result.step, d.on_behalf_of if d else None,
                          new_rev.number if new_rev else post.revision_number, result.findings,
                          sched.at if sched else None, sched.mode if sched else None)

    def _outbox(self, uow: UnitOfWork, post: m.Post, result: chain.Result,
                rev: RevisionInfo | None, scheduled_at: datetime | None, now: datetime
                ) -> dict[str, object] | None:
        """Write the publish or preview intent the change calls for; returns its record for the
        audit row (or None)."""
        # Publish intents are written in the same transaction as the change: the database, not
        # the queue, is the source of truth. The queue hears of them after the commit.
        s = uow.session
        cancel_pending = result.status_after is PostStatus.WITHDRAWN or (
            result.action is Action.SCHEDULE and result.status_after is PostStatus.SIGNED) or \
            result.action is Action.CANCEL
        if cancel_pending:
            # Withdrawn, or rescheduled: the waiting publish job must not run.
            cancelled = s.execute(update(m.PublishIntent).where(
                m.PublishIntent.post_id == post.id,
                m.PublishIntent.state == IntentState.PENDING.value)
                .values(state=IntentState.CANCELLED.value, done_at=now)
                .returning(m.PublishIntent.id, m.PublishIntent.kind)
                .execution_options(synchronize_session=False)).all()
            for intent_id, pending_kind in sorted(cancelled):
                uow.hand_off(OutboxKind(pending_kind), intent_id, cancel=True)
        kind: IntentKind | None = None
        if result.status_after is PostStatus.SIGNED and rev is not None and (
                result.status_before is not PostStatus.SIGNED or result.action is Action.SCHEDULE):
            kind, due = IntentKind.PUBLISH, scheduled_at or now
        elif result.action is Action.NEW_REVISION and rev is not None:
            kind, due = IntentKind.PREVIEW, now
        if kind is not None and rev is not None:
            intent_id = s.execute(insert(m.PublishIntent).values(
                post_id=post.id, kind=kind.value, revision_hash=rev.content_hash, due_at=due,
                created_at=now).returning(m.PublishIntent.id)).scalar_one()
            uow.hand_off(OutboxKind(kind.value), intent_id, pending=Pending(
                OutboxKind(kind.value), intent_id, post.id, due, None, 0, rev.content_hash))
        if result.action in (Action.RETRY, Action.CONFIRM_ABSENT) and rev is not None:
            # Once WeChat holds a publish_id or a clientmsgid, a retry follows it: a new
            # submission only when WeChat reported that one failed, or a person checked the
            # account and found nothing (confirm_absent).
            start_new_attempt(s, post.id, rev.content_hash, now,
                              always=result.action is Action.CONFIRM_ABSENT)
        if result.action is Action.CONFIRM_PUBLISHED and rev is not None:
            s.execute(update(m.Publication).where(
                m.Publication.post_id == post.id, m.Publication.revision_hash == rev.content_hash)
                .values(article_url=result.url, updated_at=now))
        return intent_record(kind, rev.content_hash) if kind is not None and rev is not None \
            else None


def longest_footer(org: OrgChart, drafter: str, source: str | None) -> str:
    """The longest art. 28 footer a post of `drafter` can get, for checking WeChat's limits."""
    # Who reviews and signs is known only later: count the longest name in the org chart.
    longest = max((p.name for p in org.people.values()), key=len, default="")
    return org.footer.render(drafter=org.name_of(drafter), reviewer=longest, issuer=longest,
                             source=source)


def _check_based_on(s: Session, post: m.Post, state: PostState, based_on: str,
                    org: OrgChart) -> None:
    """Refuse a layout saved on top of a revision someone else made after the editor opened.

    Raises:
        StaleRevision: the post's current revision is not the one the editor was opened on.
        InvalidInput: `based_on` is not a hash of this post's revisions.
    """
    opened = expand_hash(s, post, based_on) if based_on.strip() else None
    current = state.revision
    if current is None or opened == current.content_hash:
        return
    raise StaleRevision(Text(
        "您打开编辑后，本稿已有新版本（第{n}版 {h}，{who}）；为免覆盖他人的修改，本次保存未执行。"
        "请对照最新版本后再保存。",
        "This post got a new revision after you opened the editor (revision {n}, {h}, by "
        "{who_en}); your save was not made so as not to overwrite it. Compare with the latest "
        "revision and save again.").format(n=current.number, h=current.content_hash[:12],
                                           who=org.name_of(current.made_by),
                                           who_en=org.name_of(current.made_by)))


def _detail(result: chain.Result, rev: RevisionInfo | None, values: dict[str, Any],
            post: m.Post) -> dict[str, object]:
    detail: dict[str, object] = {
        "from": result.status_before.value, "to": result.status_after.value,
        "run": values.get("run", post.run),
        "revision": rev.number if rev else None,
        "revision_hash": rev.content_hash if rev else None,
    }
    if result.step is not None:
        detail["step"] = result.step.value
    d = result.decision
    if d is not None:
        detail["outcome"] = d.outcome.value
        if d.on_behalf_of:
            detail["on_behalf_of"] = d.on_behalf_of  # 代签: signed for X by Y
        if d.note:
            detail["note"] = d.note
        detail["decision"] = decision_record(d)  # the row as written: checked against the table
    if result.comment:
        detail["comment"] = result.comment
    if result.clearance is not None:
        detail["basis"] = result.clearance.basis.value
        detail["clearance"] = clearance_record(result.clearance)
    if result.schedule is not None:
        detail["at"] = result.schedule.at.isoformat() if result.schedule.at else None
        detail["mode"] = result.schedule.mode.value
    if result.url:
        detail["url"] = result.url
    return detail


__all__ = ["ActOutcome", "Actions", "PublishMode", "RevisionInput", "ScheduleInput"]
