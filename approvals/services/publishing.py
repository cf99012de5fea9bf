"""Publishing bookkeeping for the worker: the outbox, claims under a lease, every external id.

The worker (RQ + wechatpy) calls these typed methods with plain values; nothing here imports the
queue or the WeChat client, and no ORM row leaves this module. Every status change goes through
the one transition table (`approvals.rules.states.advance`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from approvals.rules import gates
from approvals.rules.article import ASSET_SRC
from approvals.rules.errors import InvalidTransition, Text
from approvals.rules.records import PostState
from approvals.rules.states import WORKER, Action, IntentKind, IntentState, PostStatus, PublishMode, Step, advance
from approvals.services.base import Deps, UnitOfWork
from approvals.services.notifications import Notifications
from approvals.services.state import load_state, publication_ids
from approvals.store import audit
from approvals.store import models as m
from approvals.views import (
    Asset,
    Claim,
    DraftRef,
    OutboxKind,
    Pending,
    PublicationIds,
    Snapshot,
)

POSTS = m.Post.__table__  # plain table statements for the worker's frequent writes
# Failures WeChat itself reported (publish_status 2, 3, 4; a mass send's SEND_FAIL): only these let
# a retry submit again. Anything else a retry follows by its publish_id or clientmsgid.
REPORTED_FAILED = frozenset({"2", "3", "4", "SEND_FAIL"})


class Publishing:
    """The worker-side use cases over the same database and org chart as the façade."""

    def __init__(self, deps: Deps, notifications: Notifications) -> None:
        self.deps = deps
        self.notifications = notifications

    # --- the outbox ---------------------------------------------------------------------------

    def pending(self) -> list[Pending]:
        """Every publish or preview intent not yet done or cancelled, oldest first."""
        with self.deps.sessions() as s:
            rows = s.scalars(select(m.PublishIntent).where(
                m.PublishIntent.state == IntentState.PENDING.value).order_by(m.PublishIntent.id))
            return [_pending(i) for i in rows]

    def get_pending(self, ids: Sequence[int]) -> list[Pending]:
        """These intents as the dispatcher needs them, those still pending."""
        if not ids:
            return []
        with self.deps.sessions() as s:
            rows = s.scalars(select(m.PublishIntent).where(
                m.PublishIntent.id.in_(ids), m.PublishIntent.state == IntentState.PENDING.value)
                .order_by(m.PublishIntent.id))
            return [_pending(i) for i in rows]

    def job_id_of(self, intent_id: int) -> str | None:
        """The job last enqueued for an intent (to cancel it)."""
        with self.deps.sessions() as s:
            return s.scalar(select(m.PublishIntent.job_id).where(m.PublishIntent.id == intent_id))

    def mark_enqueued(self, jobs: Sequence[tuple[int, str, int]]) -> None:
        """Record that the dispatcher put each intent on the queue: (id, job id, times enqueued)."""
        if not jobs:
            return
        now = self.deps.now()
        with self.deps.uow() as uow:
            # One UPDATE by primary key for all of them.
            uow.session.execute(update(m.PublishIntent), [
                {"id": item_id, "job_id": job_id, "enqueued_at": now, "enqueue_count": count}
                for item_id, job_id, count in jobs])

    def recently_cancelled_job_ids(self) -> list[str]:
        """Jobs of intents cancelled in the last day (withdrawn or rescheduled posts)."""
        since = self.deps.now() - timedelta(days=1)
        with self.deps.sessions() as s:
            return [j for j in s.scalars(select(m.PublishIntent.job_id).where(
                m.PublishIntent.state == IntentState.CANCELLED.value,
                m.PublishIntent.job_id.is_not(None), m.PublishIntent.done_at >= since)) if j]

    def obsolete_drafts(self) -> list[DraftRef]:
        """Drafts that will never be used: of a revision no longer current, or of a post
        withdrawn or rejected. A draft WeChat took (a publish_id or a clientmsgid) is never one."""
        with self.deps.sessions() as s:
            rows = s.execute(
                select(m.Publication.post_id, m.Publication.revision_hash,
                       m.Publication.draft_media_id, m.Post.status, m.Revision.content_hash)
                .join(m.Post, m.Post.id == m.Publication.post_id)
                .outerjoin(m.Revision, (m.Revision.post_id == m.Post.id)
                           & (m.Revision.number == m.Post.revision_number))
                .where(m.Publication.draft_media_id.is_not(None),
                       m.Publication.publish_id.is_(None), m.Publication.msg_id.is_(None),
                       m.Publication.clientmsgid.is_(None),
                       m.Publication.submit_started_at.is_(None))).all()
        closed = (PostStatus.WITHDRAWN.value, PostStatus.REJECTED.value)
        return [DraftRef(pid, h, media_id) for pid, h, media_id, status, current in rows
                if h != current or status in closed]

    def is_obsolete(self, post_id: int, revision_hash: str, media_id: str) -> bool:
        """Whether this draft is (still) one that will never be used."""
        return DraftRef(post_id, revision_hash, media_id) in self.obsolete_drafts()

    def forget_draft(self, post_id: int, revision_hash: str, media_id: str) -> None:
        """The draft was deleted from the draft box."""
        with self.deps.uow() as uow:
            uow.session.execute(update(m.Publication).where(
                m.Publication.post_id == post_id, m.Publication.revision_hash == revision_hash,
                m.Publication.draft_media_id == media_id)
                .values(draft_media_id=None, content_sha256=None, updated_at=self.deps.now()))

    def stuck_posts(self) -> list[int]:
        """Posts PUBLISHING under an expired lease: their worker died."""
        now = self.deps.now()
        with self.deps.sessions() as s:
            rows = s.execute(select(m.Post.id, m.Post.lease_until).where(
                m.Post.status == PostStatus.PUBLISHING.value)).all()
        return [pid for pid, lease in rows if lease is None or lease <= now]

    def _finish_intents(self, s: Session, post_id: int, kind: IntentKind,
                        state: IntentState = IntentState.DONE) -> None:
        intents = m.PublishIntent.__table__
        s.connection().execute(update(intents).where(
            intents.c.post_id == post_id, intents.c.kind == kind.value,
            intents.c.state == IntentState.PENDING.value)
            .values(state=state.value, done_at=self.deps.now()))

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
        problem = Text("发布前复核未通过，已暂缓发布：" + "；".join(f.text.zh for f in blocking),
                       "The publish-time check failed; the post is on hold: "
                       + " ".join(f.text.en for f in blocking))
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
        names = self.deps.org.name_of
        reviewer, issuer = state.decision_for(Step.REVIEWER), state.decision_for(Step.ISSUER)
        footer = self.deps.org.footer.render(
            drafter=names(post.drafter),
            reviewer=names(reviewer.principal) if reviewer else "",
            issuer=names(issuer.principal) if issuer else "",
            source=c.repost_source)
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

    # --- recording results --------------------------------------------------------------------

    def publication(self, post_id: int, revision_hash: str) -> PublicationIds:
        """The ids saved so far for this revision (an empty record is created when none)."""
        with self.deps.uow() as uow:
            return self._publication(uow.session, post_id, revision_hash)

    def _publication(self, s: Session, post_id: int, revision_hash: str) -> PublicationIds:
        pubs, conn = m.Publication.__table__, s.connection()
        mine = select(pubs).where(pubs.c.post_id == post_id, pubs.c.revision_hash == revision_hash)
        pub = conn.execute(mine).one_or_none()
        if pub is None:
            conn.execute(insert(pubs).values(post_id=post_id, revision_hash=revision_hash,
                                             attempt=0, images="{}", last_error="",
                                             updated_at=self.deps.now()))
            pub = conn.execute(mine).one()
        return publication_ids(pub)

    def _save(self, post_id: int, revision_hash: str, values: dict[str, Any]) -> None:
        now = self.deps.now()
        pubs = m.Publication.__table__
        with self.deps.uow() as uow:
            # A plain table update on the transaction's connection: the worker saves ids often.
            saved = uow.session.connection().execute(update(pubs).where(
                pubs.c.post_id == post_id, pubs.c.revision_hash == revision_hash)
                .values(updated_at=now, **values)).rowcount
            if saved == 0:  # the first id of this revision: the record starts with it
                uow.session.add(m.Publication(post_id=post_id, revision_hash=revision_hash,
                                              images="{}", last_error="", updated_at=now,
                                              **values))

    def media(self, sha256: str, kind: str) -> tuple[str | None, str | None] | None:
        """(media_id, url) of an image already uploaded to the account, by its content hash."""
        with self.deps.sessions() as s:
            row = s.get(m.WeChatMedia, (sha256, kind))
            return (row.media_id, row.url) if row is not None else None

    def record_media(self, sha256: str, kind: str, media_id: str | None, url: str | None) -> None:
        """An image the account now holds: every later post reuses it."""
        with self.deps.uow() as uow:
            if uow.session.get(m.WeChatMedia, (sha256, kind)) is None:
                uow.session.add(m.WeChatMedia(sha256=sha256, kind=kind, media_id=media_id,
                                              url=url, created_at=self.deps.now()))

    def forget_media(self, sha256: str, kind: str) -> None:
        """WeChat no longer knows this upload (deleted in the backend): upload it again."""
        with self.deps.uow() as uow:
            uow.session.execute(delete(m.WeChatMedia).where(
                m.WeChatMedia.sha256 == sha256, m.WeChatMedia.kind == kind))

    # Each id is saved the moment WeChat returns it, so a retried job resumes, never repeats.

    def record_cover(self, post_id: int, revision_hash: str, thumb_media_id: str | None) -> None:
        """The cover's permanent material id."""
        self._save(post_id, revision_hash, {"thumb_media_id": thumb_media_id})

    def record_images(self, post_id: int, revision_hash: str, images: dict[str, str]) -> None:
        """In-article images uploaded so far: asset sha256 -> WeChat URL."""
        self._save(post_id, revision_hash, {"images": json.dumps(images, sort_keys=True)})

    def record_draft(self, post_id: int, revision_hash: str, media_id: str | None,
                     content_sha256: str | None, *, thumb: str | None = None,
                     submit_started: bool = False) -> None:
        """The draft and the content it holds (both None: the draft is gone, make a new one);
        the cover it uses when that was not saved before; and, when it is submitted next, the
        mark that a submission is starting."""
        values: dict[str, Any] = {"draft_media_id": media_id, "content_sha256": content_sha256}
        if thumb is not None:
            values["thumb_media_id"] = thumb
        if submit_started:
            values["submit_started_at"] = self.deps.now()
        self._save(post_id, revision_hash, values)

    def record_preview_url(self, post_id: int, revision_hash: str, url: str | None) -> None:
        """The draft's temporary preview link (art. 27)."""
        self._save(post_id, revision_hash, {"preview_url": url})

    def record_submit_started(self, post_id: int, revision_hash: str) -> None:
        """A submission is about to be sent: from now on its outcome may be unknown."""
        self._save(post_id, revision_hash, {"submit_started_at": self.deps.now()})

    def record_publish_id(self, post_id: int, revision_hash: str, publish_id: str) -> None:
        """WeChat took the submission under this publish_id."""
        self._save(post_id, revision_hash, {"publish_id": publish_id})

    def record_clientmsgid(self, post_id: int, revision_hash: str, clientmsgid: str) -> None:
        """The mass send's de-duplication key, saved before the send."""
        self._save(post_id, revision_hash, {"clientmsgid": clientmsgid})

    def record_msg_id(self, post_id: int, revision_hash: str, msg_id: str) -> None:
        """WeChat took the mass send under this msg_id."""
        self._save(post_id, revision_hash, {"msg_id": msg_id})

    def record_article(self, post_id: int, revision_hash: str, article_id: str | None,
                       url: str | None, wechat_status: str | None = None) -> None:
        """The published article (and the status WeChat reported it with)."""
        values: dict[str, Any] = {"article_id": article_id, "article_url": url}
        if wechat_status is not None:
            values["wechat_status"] = wechat_status
        self._save(post_id, revision_hash, values)

    def record_submit_refused(self, post_id: int, revision_hash: str, *,
                              draft_gone: bool = False) -> None:
        """WeChat answered the submission with an error: it did not take it (a clear "no")."""
        values: dict[str, Any] = {"submit_started_at": None}
        if draft_gone:  # 40007: the draft left the box; the next attempt makes a new one
            values.update(draft_media_id=None, content_sha256=None)
        self._save(post_id, revision_hash, values)

    def record_wechat_status(self, post_id: int, revision_hash: str, status: str) -> None:
        """What WeChat reported of the submission (publish_status, or a mass send's msg_status)."""
        self._save(post_id, revision_hash, {"wechat_status": status})

    def record_error(self, post_id: int, revision_hash: str, error: str) -> None:
        """The last error, for people looking at a failed or retried post."""
        self._save(post_id, revision_hash, {"last_error": error})

    def mark_published(self, post_id: int, worker: str, *, url: str | None,
                       article_id: str | None, detail: dict[str, Any] | None = None,
                       wechat_status: str | None = None) -> bool:
        """PUBLISHING → PUBLISHED, with the article URL (saved on the publication record in the
        same transaction); False when the post is not this worker's."""
        now = self.deps.now()
        return self._finish(post_id, worker, Action.MARK_PUBLISHED,
                            {"article_url": url, "published_at": now, "problem_zh": "",
                             "problem_en": ""},
                            {"url": url, "article_id": article_id, **(detail or {})}, url=url,
                            article={"article_id": article_id, "article_url": url,
                                     "wechat_status": wechat_status})

    def mark_failed(self, post_id: int, worker: str, reason: Text) -> bool:
        """PUBLISHING → FAILED with the reason in both languages, for an admin to retry."""
        return self._finish(post_id, worker, Action.FAIL,
                            {"problem_zh": reason.zh, "problem_en": reason.en},
                            {"reason_zh": reason.zh, "reason_en": reason.en}, problem=reason)

    def mark_unconfirmed(self, post_id: int, worker: str, reason: Text) -> bool:
        """PUBLISHING → UNCONFIRMED: WeChat may hold it, nothing can confirm it; a person checks."""
        return self._finish(post_id, worker, Action.CANNOT_CONFIRM,
                            {"problem_zh": reason.zh, "problem_en": reason.en},
                            {"reason_zh": reason.zh, "reason_en": reason.en}, problem=reason)

    def _finish(self, post_id: int, worker: str, action: Action, values: dict[str, Any],
                detail: dict[str, Any], *, url: str | None = None,
                problem: Text | None = None, article: dict[str, Any] | None = None) -> bool:
        now = self.deps.now()
        with self.deps.uow() as uow:
            s = uow.session
            post = s.connection().execute(select(POSTS).where(POSTS.c.id == post_id)).one_or_none()
            if post is None or post.status != PostStatus.PUBLISHING.value or post.claimed_by != worker:
                return False
            after = advance(PostStatus(post.status), action)
            state = load_state(s, post)
            s.connection().execute(update(POSTS).where(
                POSTS.c.id == post_id, POSTS.c.version == post.version).values(
                status=after.value, version=post.version + 1, lease_until=None, updated_at=now,
                **values))
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


def start_new_attempt(s: Session, post_id: int, revision_hash: str, now: datetime, *,
                      always: bool) -> bool:
    """Let the next job submit afresh, if WeChat reported this attempt failed (or `always`: a
    person checked the account and found nothing). Uploads and the draft are kept for reuse.

    Returns whether a new attempt starts; otherwise every id is kept, so a retry follows them.
    """
    pub = s.scalars(select(m.Publication).where(
        m.Publication.post_id == post_id, m.Publication.revision_hash == revision_hash)
    ).one_or_none()
    if pub is None or not (always or pub.wechat_status in REPORTED_FAILED):
        return False
    s.execute(update(m.Publication).where(m.Publication.id == pub.id).values(
        attempt=m.Publication.attempt + 1, submit_started_at=None, publish_id=None,
        clientmsgid=None, msg_id=None, article_id=None, article_url=None, wechat_status=None,
        updated_at=now))
    return True


def _pending(intent: m.PublishIntent) -> Pending:
    return Pending(OutboxKind(intent.kind), intent.id, intent.post_id, intent.due_at,
                   intent.job_id, intent.enqueue_count, intent.revision_hash)


__all__ = ["REPORTED_FAILED", "Publishing", "start_new_attempt"]
