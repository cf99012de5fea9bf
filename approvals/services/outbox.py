"""The publishing outbox as the dispatcher and the reconciler read it: pending intents, their
jobs, posts whose worker died, and drafts that will never be used."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from approvals.rules.states import IntentKind, IntentState, PostStatus
from approvals.services.base import Deps
from approvals.store import models as m
from approvals.views import (
    DraftRef,
    OutboxKind,
    Pending,
)


class Outbox:
    """Reading and marking the publish intents (a part of `Publishing`)."""

    deps: Deps

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
        self.deps.record_enqueued(m.PublishIntent.__table__, jobs)

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


def _pending(intent: m.PublishIntent) -> Pending:
    return Pending(OutboxKind(intent.kind), intent.id, intent.post_id, intent.due_at,
                   intent.job_id, intent.enqueue_count, intent.revision_hash)
