"""Publishing bookkeeping for the worker: the outbox, claims under a lease, every external id.

The worker (RQ + wechatpy) calls these typed methods with plain values; nothing here imports the
queue or the WeChat client, and no ORM row leaves this module. Every status change goes through
the one transition table (`approvals.rules.states.advance`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from approvals.rules import gates
from approvals.rules.article import ASSET_SRC, footer_for
from approvals.rules.errors import InvalidTransition, Text, sentences
from approvals.rules.records import PostState
from approvals.rules.states import WORKER, Action, IntentKind, IntentState, PostStatus, PublishMode, advance
from approvals.services.base import Deps, UnitOfWork
from approvals.services.notifications import Notifications
from approvals.services.outbox import Outbox
from approvals.services.records import Records
from approvals.services.state import load_state, unbacked
from approvals.store import audit
from approvals.store import models as m
from approvals.views import (
    Asset,
    Claim,
    Snapshot,
)

POSTS = m.Post.__table__  # plain table statements for the worker's frequent writes


class Publishing(Outbox, Records):
    """The worker-side use cases over the same database and org chart as the façade: the outbox
    (`Outbox`), the ids WeChat returns (`Records`), and here claiming and finishing a post."""

    def __init__(self, deps: Deps, notifications: Notifications) -> None:
        self.deps = deps
        self.notifications = notifications

    # --- claiming -----------------------------------------------------------------------------

    def claim(self, post_id: int, worker: str, lease_seconds: float, *,
              intent_id: int | None = None, cover_sha256: str | None = None) -> Claim:
        """Claim the post for publishing with a conditional update, after re-running every gate.

        A post PUBLISHING under an expired lease (its worker died) is taken over; a post whose
        gates no longer hold under the org chart as it stands is put on hold, not published.
        `cover_sha256` is the cover to use when the post has none of its own (the default): the
        claim also says whether the account holds that cover already.
        """
        now = self.deps.now()
        with self.deps.uow() as uow:
            s = uow.session
            post = s.connection().execute(select(POSTS).where(POSTS.c.id == post_id)).one_or_none()
            if post is None:
                return Claim(reason="no such post")
            if intent_id is not None:
                # A job for a cancelled or rescheduled intent must not publish early.
                i = m.PublishIntent
                intent = s.execute(select(i.post_id, i.state, i.due_at)
                                   .where(i.id == intent_id)).one_or_none()
                if intent is None or intent.post_id != post_id or \
                        intent.state != IntentState.PENDING.value:
                    return Claim(reason="the publish intent was cancelled or is done")
                if intent.due_at > now + timedelta(seconds=5):
                    return Claim(reason=f"not due until {intent.due_at.isoformat()}")
            status = PostStatus(post.status)
            if status is PostStatus.PUBLISHING:
                lease = post.lease_until  # stored and read back as aware UTC
                if post.claimed_by != worker and lease is not None and lease > now:
                    return Claim(reason=f"claimed by {post.claimed_by} until {lease.isoformat()}")
            try:
                after = advance(status, Action.CLAIM)
            except InvalidTransition:
                return Claim(reason=f"status is {status.value}")
            state = load_state(s, post)
            findings = gates.evaluate(state, self.deps.org)
            # The rows the gates just read must be the ones the audit log says were written.
            findings += unbacked(s, post_id)
            blocking = gates.blocking(findings)
            if blocking and not self._submitted(s, post_id, state):
                if not self._hold(uow, post, state, blocking, now):
                    return Claim(reason="another process changed the post first")
                return Claim(held=tuple(blocking))
            # Once WeChat has the submission, a taken-over job only follows it to its end: the
            # article may already be live, and holding the post would hide that.
            changed = s.connection().execute(
                update(POSTS).where(POSTS.c.id == post_id, POSTS.c.version == post.version)
                .values(status=after.value, claimed_by=worker,
                        lease_until=now + timedelta(seconds=lease_seconds),
                        version=post.version + 1, updated_at=now)).rowcount
            if changed != 1:
                return Claim(reason="another process got there first")
            audit.append(s, actor=WORKER, action=f"post.{Action.CLAIM.value}", post_id=post_id,
                         at=now, detail={"from": status.value, "to": after.value,
                                         "worker": worker,
                                         "revision_hash": state.revision.content_hash
                                         if state.revision else None,
                                         "findings": [f.as_dict() for f in findings]})
            assert state.revision is not None
            ids = self._publication(s, post_id, state.revision.content_hash)
            snapshot = self._snapshot(s, post, state)
            cover = None
            if ids.thumb_media_id is None and cover_sha256 is not None:
                # Read with the claim: whether the account holds the cover already.
                cover = s.scalar(select(m.WeChatMedia.media_id).where(
                    m.WeChatMedia.sha256 == (snapshot.cover.sha256 if snapshot.cover
                                             else cover_sha256), m.WeChatMedia.kind == "image"))
            return Claim(snapshot=snapshot, ids=ids, cover_media_id=cover)

    def renew(self, post_id: int, worker: str, lease_seconds: float) -> bool:
        """Extend this worker's lease; False when the post is no longer this worker's."""
        now = self.deps.now()
        with self.deps.uow() as uow:
            return uow.session.execute(update(m.Post).where(
                m.Post.id == post_id, m.Post.status == PostStatus.PUBLISHING.value,
                m.Post.claimed_by == worker).values(lease_until=now + timedelta(seconds=lease_seconds))
                .execution_options(synchronize_session=False)).rowcount == 1

    def release(self, post_id: int, worker: str) -> None:
        """Give the lease up at once (a transient failure): the retry may start anywhere."""
        with self.deps.uow() as uow:
            uow.session.execute(update(m.Post).where(
                m.Post.id == post_id, m.Post.claimed_by == worker,
                m.Post.status == PostStatus.PUBLISHING.value)
                .values(lease_until=self.deps.now()).execution_options(synchronize_session=False))

    def _submitted(self, s: Session, post_id: int, state: PostState) -> bool:
        if state.revision is None:
            return False
        pub = s.scalars(select(m.Publication).where(
            m.Publication.post_id == post_id,
            m.Publication.revision_hash == state.revision.content_hash)).one_or_none()
        return pub is not None and bool(pub.publish_id or pub.msg_id or pub.submit_started_at
                                        or pub.clientmsgid)

    def _hold(self, uow: UnitOfWork, post: m.Post, state: PostState,
              blocking: list[gates.Finding], now: datetime) -> bool:
        s = uow.session
        after = advance(PostStatus(post.status), Action.HOLD)
        problem = sentences(Text("发布前复核未通过，已暂缓发布：",
                                 "The publish-time check failed; the post is on hold: "),
                            [f.text for f in blocking])
        changed = s.execute(update(m.Post).where(m.Post.id == post.id, m.Post.version == post.version)
                            .values(status=after.value, version=post.version + 1,
                                    problem_zh=problem.zh, problem_en=problem.en, claimed_by=None,
                                    lease_until=None, updated_at=now)
                            .execution_options(synchronize_session=False)).rowcount
        if changed != 1:
            return False
        self._finish_intents(s, post.id, IntentKind.PUBLISH, IntentState.CANCELLED)
        seq = audit.append(s, actor=WORKER, action=f"post.{Action.HOLD.value}", post_id=post.id,
                             at=now, detail={"from": post.status, "to": after.value,
                                             "findings": [f.as_dict() for f in blocking]})
        self.notifications.record_status_change(uow, post, state, after, WORKER, seq,
                                                problem=problem)
        return True

    def _snapshot(self, s: Session, post: m.Post, state: PostState) -> Snapshot:
        assert state.revision is not None
        c = state.revision.content
        footer = footer_for(state, self.deps.org)
        cover = None
        if c.cover_sha256:
            a = s.get(m.Asset, c.cover_sha256)
            cover = Asset(a.sha256, a.filename, a.mime, a.data) if a else None
        images = {}
        for sha in dict.fromkeys(ASSET_SRC.findall(c.body_html)):
            a = s.get(m.Asset, sha)
            if a is not None:
                images[sha] = Asset(a.sha256, a.filename, a.mime, a.data)
        return Snapshot(post.id, state.revision.content_hash, PublishMode(post.publish_mode),
                        c.title, c.author, c.digest, c.body_html, c.repost_source, footer, cover,
                        images)

    def mark_published(self, post_id: int, worker: str | None, *, url: str | None,
                       article_id: str | None, detail: dict[str, Any] | None = None,
                       wechat_status: str | None = None) -> bool:
        """PUBLISHING → PUBLISHED, with the article URL (saved on the publication record in the
        same transaction); False when the post is not this worker's (`worker` None: WeChat's
        callback, which finishes the post whoever holds the claim) or was finished already."""
        now = self.deps.now()
        return self._finish(post_id, worker, Action.MARK_PUBLISHED,
                            {"article_url": url, "published_at": now, "problem_zh": "",
                             "problem_en": ""},
                            {"url": url, "article_id": article_id, **(detail or {})}, url=url,
                            article={"article_id": article_id, "article_url": url,
                                     "wechat_status": wechat_status})

    def mark_failed(self, post_id: int, worker: str | None, reason: Text) -> bool:
        """PUBLISHING → FAILED with the reason in both languages, for an admin to retry."""
        return self._finish(post_id, worker, Action.FAIL,
                            {"problem_zh": reason.zh, "problem_en": reason.en},
                            {"reason_zh": reason.zh, "reason_en": reason.en}, problem=reason)

    def mark_unconfirmed(self, post_id: int, worker: str | None, reason: Text) -> bool:
        """PUBLISHING → UNCONFIRMED: WeChat may hold it, nothing can confirm it; a person checks."""
        return self._finish(post_id, worker, Action.CANNOT_CONFIRM,
                            {"problem_zh": reason.zh, "problem_en": reason.en},
                            {"reason_zh": reason.zh, "reason_en": reason.en}, problem=reason)

    def _finish(self, post_id: int, worker: str | None, action: Action, values: dict[str, Any],
                detail: dict[str, Any], *, url: str | None = None,
                problem: Text | None = None, article: dict[str, Any] | None = None) -> bool:
        now = self.deps.now()
        with self.deps.uow() as uow:
            s = uow.session
            post = s.connection().execute(select(POSTS).where(POSTS.c.id == post_id)).one_or_none()
            if post is None or post.status != PostStatus.PUBLISHING.value or \
                    (worker is not None and post.claimed_by != worker):
                return False
            after = advance(PostStatus(post.status), action)
            state = load_state(s, post)
            changed = s.connection().execute(update(POSTS).where(
                POSTS.c.id == post_id, POSTS.c.version == post.version).values(
                status=after.value, version=post.version + 1, lease_until=None, updated_at=now,
                **values)).rowcount
            if changed != 1:
                # The poller and WeChat's callback raced: the first one finished it.
                return False
            self._finish_intents(s, post_id, IntentKind.PUBLISH)
            if article is not None and state.revision is not None:
                kept = {k: v for k, v in article.items() if v is not None}
                if kept:
                    pubs = m.Publication.__table__
                    s.connection().execute(update(pubs).where(
                        pubs.c.post_id == post_id,
                        pubs.c.revision_hash == state.revision.content_hash)
                        .values(updated_at=now, **kept))
            seq = audit.append(s, actor=WORKER, action=f"post.{action.value}", post_id=post_id,
                                 at=now, detail={"from": PostStatus.PUBLISHING.value,
                                                 "to": after.value, **detail})
            self.notifications.record_status_change(uow, post, state, after, WORKER, seq,
                                                    url=url, problem=problem)
            return True

    def preview_snapshot(self, post_id: int, revision_hash: str) -> Snapshot | None:
        """The snapshot for a preview draft, or None when the revision is no longer current."""
        with self.deps.sessions() as s:
            post = s.get(m.Post, post_id)
            if post is None:
                return None
            state = load_state(s, post)
            if state.revision is None or state.revision.content_hash != revision_hash:
                return None
            if state.status not in (PostStatus.IN_REVIEW, PostStatus.CHANGES_REQUESTED):
                return None  # signed already: the publish job makes the draft itself
            return self._snapshot(s, post, state)

    def finish_preview(self, post_id: int, revision_hash: str,
                       state: IntentState = IntentState.DONE) -> None:
        """Close the preview intent of this revision."""
        with self.deps.uow() as uow:
            uow.session.execute(update(m.PublishIntent).where(
                m.PublishIntent.post_id == post_id,
                m.PublishIntent.kind == IntentKind.PREVIEW.value,
                m.PublishIntent.revision_hash == revision_hash,
                m.PublishIntent.state == IntentState.PENDING.value)
                .values(state=state.value, done_at=self.deps.now()))




__all__ = ["Publishing"]
