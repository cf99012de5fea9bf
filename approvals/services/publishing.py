"""Publishing use cases: the outbox, claiming a post with a lease, recording every external id.

The worker (RQ + wechatpy) calls these; nothing here imports the queue or the WeChat client.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from approvals.rules import gates
from approvals.rules.errors import AlreadyDecided, InvalidInput, InvalidTransition, NotAllowed, NotFound, Text
from approvals.rules.records import PostState
from approvals.rules.states import PostStatus, Step
from approvals.services.actions import Service, load_state
from approvals.store import audit
from approvals.store import models as m

PUBLISH_MODES = ("publish", "mass_send")
# In-article images are stored assets, referenced from the body as /assets/<sha256>.
ASSET_SRC = re.compile(r'src="/assets/([0-9a-f]{64})"')
OPEN_FOR_SCHEDULING = (PostStatus.DRAFT, PostStatus.IN_REVIEW, PostStatus.CHANGES_REQUESTED,
                       PostStatus.SIGNED, PostStatus.ON_HOLD, PostStatus.FAILED)


@dataclass(frozen=True)
class Asset:
    """A stored file to upload."""

    sha256: str
    filename: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class Snapshot:
    """Everything a worker needs to publish one claimed post, read fresh from the database."""

    post_id: int
    revision_hash: str
    mode: str
    title: str
    author: str
    digest: str
    body_html: str
    repost_source: str | None
    footer: str
    cover: Asset | None
    images: dict[str, Asset] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """The outcome of trying to claim a post for publishing."""

    snapshot: Snapshot | None = None  # set when this worker now holds the post
    held: tuple[gates.Finding, ...] = ()  # blocking findings: the post was put on hold
    reason: str = ""  # why nothing is to be done (published, taken by another worker, ...)


class Publishing:
    """The worker-side use cases over the same database and org chart as the Service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.sessions = service.sessions
        self.org = service.org

    # --- the outbox ---------------------------------------------------------------------------

    def pending_intents(self) -> list[m.PublishIntent]:
        """Every intent not yet done or cancelled, oldest first."""
        with self.sessions() as s:
            return list(s.scalars(select(m.PublishIntent).where(m.PublishIntent.state == "pending")
                                  .order_by(m.PublishIntent.id)))

    def mark_enqueued(self, intent_id: int, job_id: str) -> None:
        """Record that the dispatcher put the intent on the queue under `job_id`."""
        now = self.service.now()
        with self.sessions() as s, s.begin():
            s.execute(update(m.PublishIntent).where(m.PublishIntent.id == intent_id).values(
                job_id=job_id, enqueued_at=now, enqueue_count=m.PublishIntent.enqueue_count + 1))

    def finish_intents(self, s: Session, post_id: int, kind: str, state: str = "done") -> None:
        """Close the post's pending intents of `kind` (in the caller's transaction)."""
        s.execute(update(m.PublishIntent).where(
            m.PublishIntent.post_id == post_id, m.PublishIntent.kind == kind,
            m.PublishIntent.state == "pending").values(state=state, done_at=self.service.now()))

    # --- scheduling ---------------------------------------------------------------------------

    def schedule(self, post_id: int, actor: str, *, at: datetime | None,
                 mode: str | None = None) -> None:
        """An admin or the operator sets (or clears) the publishing time and mode.

        Raises:
            NotFound, NotAllowed, InvalidTransition, InvalidInput.
        """
        org, now = self.org, self.service.now()
        if not (org.is_admin(actor) or org.is_operator(actor)):
            raise NotAllowed(Text("只有管理员或运营方可以安排发布时间（第二十五条）。",
                                  "Only an admin or the operator schedules publishing (art. 25)."))
        if mode is not None and mode not in PUBLISH_MODES:
            raise InvalidInput(Text("发布方式须为 publish（发布）或 mass_send（群发）。",
                                    "The mode must be publish or mass_send."))
        if at is not None and at.tzinfo is None:
            raise InvalidInput(Text("发布时间须带时区。", "The publishing time needs a time zone."))
        with self.sessions() as s, s.begin():
            post = s.get(m.Post, post_id)
            if post is None:
                raise NotFound(Text("没有编号为 {i} 的稿件。", "There is no post {i}.").format(i=post_id))
            if PostStatus(post.status) not in OPEN_FOR_SCHEDULING:
                raise InvalidTransition(Text("稿件已在发布或已结束，不能再改发布时间。",
                                             "The post is being published or closed; its time "
                                             "can no longer change."))
            values: dict[str, Any] = {"scheduled_at": at, "version": post.version + 1,
                                      "updated_at": now}
            if mode is not None:
                values["publish_mode"] = mode
            changed = s.execute(update(m.Post).where(m.Post.id == post_id,
                                                     m.Post.version == post.version)
                                .values(**values).execution_options(synchronize_session=False)).rowcount
            if changed != 1:
                raise AlreadyDecided(Text("稿件刚刚已被他人处理，请刷新后再安排。",
                                          "Someone changed the post a moment ago; refresh and "
                                          "schedule again."))
            if post.status == PostStatus.SIGNED:
                # Reschedule: the pending intent is replaced; the dispatcher cancels its job.
                self.finish_intents(s, post_id, "publish", "cancelled")
                rev = s.scalars(select(m.Revision).where(
                    m.Revision.post_id == post_id, m.Revision.number == post.revision_number)).one()
                s.add(m.PublishIntent(post_id=post_id, kind="publish", revision_hash=rev.content_hash,
                                      due_at=at or now, created_at=now))
            audit.append(s, actor=actor, action="post.schedule", post_id=post_id, at=now,
                         detail={"at": at.isoformat() if at else None,
                                 "mode": mode or post.publish_mode})

    # --- claiming -----------------------------------------------------------------------------

    def claim(self, post_id: int, worker: str, lease_seconds: float, *,
              intent_id: int | None = None) -> Claim:
        """Claim the post for publishing with a conditional update, after re-running every gate.

        A post PUBLISHING under an expired lease (its worker died) is taken over; a post whose
        gates no longer hold under the org chart as it stands is put on hold, not published.
        """
        now = self.service.now()
        with self.sessions() as s, s.begin():
            post = s.get(m.Post, post_id)
            if post is None:
                return Claim(reason="no such post")
            if intent_id is not None:
                # A job for a cancelled or rescheduled intent must not publish early.
                intent = s.get(m.PublishIntent, intent_id)
                if intent is None or intent.post_id != post_id or intent.state != "pending":
                    return Claim(reason="the publish intent was cancelled or is done")
                if intent.due_at > now + timedelta(seconds=5):
                    return Claim(reason=f"not due until {intent.due_at.isoformat()}")
            status = PostStatus(post.status)
            if status is PostStatus.PUBLISHING:
                lease = post.lease_until  # stored and read back as aware UTC
                if post.claimed_by != worker and lease is not None and lease > now:
                    return Claim(reason=f"claimed by {post.claimed_by} until {lease.isoformat()}")
            elif status is not PostStatus.SIGNED:
                return Claim(reason=f"status is {status.value}")
            state = load_state(s, post)
            findings = gates.evaluate(state, self.org)
            blocking = gates.blocking(findings)
            if blocking and not self._submitted(s, post_id, state):
                if not self._hold(s, post, blocking, now):
                    return Claim(reason="another process changed the post first")
                return Claim(held=tuple(blocking))
            # Once WeChat has the submission, a taken-over job only follows it to its end: the
            # article may already be live, and holding the post would hide that.
            changed = s.execute(
                update(m.Post).where(m.Post.id == post_id, m.Post.version == post.version)
                .values(status=PostStatus.PUBLISHING.value, claimed_by=worker,
                        lease_until=now + timedelta(seconds=lease_seconds),
                        version=post.version + 1, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount
            if changed != 1:
                return Claim(reason="another process got there first")
            audit.append(s, actor="worker", action="post.claim", post_id=post_id, at=now,
                         detail={"from": status.value, "to": PostStatus.PUBLISHING.value,
                                 "worker": worker, "revision_hash": state.revision.content_hash
                                 if state.revision else None,
                                 "findings": [f.as_dict() for f in findings]})
            return Claim(snapshot=self._snapshot(s, post, state))

    def renew(self, post_id: int, worker: str, lease_seconds: float) -> bool:
        """Extend this worker's lease; False when the post is no longer this worker's."""
        now = self.service.now()
        with self.sessions() as s, s.begin():
            return s.execute(update(m.Post).where(
                m.Post.id == post_id, m.Post.status == PostStatus.PUBLISHING.value,
                m.Post.claimed_by == worker).values(lease_until=now + timedelta(seconds=lease_seconds))
                .execution_options(synchronize_session=False)).rowcount == 1

    def release(self, post_id: int, worker: str) -> None:
        """Give the lease up at once (a transient failure): the retry may start anywhere."""
        with self.sessions() as s, s.begin():
            s.execute(update(m.Post).where(m.Post.id == post_id, m.Post.claimed_by == worker,
                                           m.Post.status == PostStatus.PUBLISHING.value)
                      .values(lease_until=self.service.now())
                      .execution_options(synchronize_session=False))

    def _submitted(self, s: Session, post_id: int, state: PostState) -> bool:
        if state.revision is None:
            return False
        pub = s.scalars(select(m.Publication).where(
            m.Publication.post_id == post_id,
            m.Publication.revision_hash == state.revision.content_hash)).one_or_none()
        return pub is not None and bool(pub.publish_id or pub.msg_id or pub.submit_started_at
                                        or pub.clientmsgid)

    def _hold(self, s: Session, post: m.Post, blocking: list[gates.Finding], now: datetime) -> bool:
        zh = "发布前复核未通过，已暂缓发布：" + "；".join(f.text.zh for f in blocking)
        en = "The publish-time check failed; the post is on hold: " + " ".join(f.text.en for f in blocking)
        changed = s.execute(update(m.Post).where(m.Post.id == post.id, m.Post.version == post.version)
                            .values(status=PostStatus.ON_HOLD.value, version=post.version + 1,
                                    problem_zh=zh, problem_en=en, claimed_by=None, lease_until=None,
                                    updated_at=now)
                            .execution_options(synchronize_session=False)).rowcount
        if changed != 1:
            return False
        self.finish_intents(s, post.id, "publish", "cancelled")
        audit.append(s, actor="worker", action="post.hold", post_id=post.id, at=now,
                     detail={"from": post.status, "to": PostStatus.ON_HOLD.value,
                             "findings": [f.as_dict() for f in blocking]})
        return True

    def _snapshot(self, s: Session, post: m.Post, state: PostState) -> Snapshot:
        assert state.revision is not None
        c = state.revision.content
        names = self.org.name_of
        reviewer, issuer = state.decision_for(Step.REVIEWER), state.decision_for(Step.ISSUER)
        footer = self.org.footer.render(
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
        return Snapshot(post.id, state.revision.content_hash, post.publish_mode, c.title, c.author,
                        c.digest, c.body_html, c.repost_source, footer, cover, images)

    # --- recording results --------------------------------------------------------------------

    def publication(self, post_id: int, revision_hash: str) -> m.Publication:
        """The publication record for this revision, created empty when there is none."""
        with self.sessions() as s, s.begin():
            pub = s.scalars(select(m.Publication).where(
                m.Publication.post_id == post_id,
                m.Publication.revision_hash == revision_hash)).one_or_none()
            if pub is None:
                pub = m.Publication(post_id=post_id, revision_hash=revision_hash, images="{}",
                                    last_error="", updated_at=self.service.now())
                s.add(pub)
                s.flush()
            return pub

    def record(self, post_id: int, revision_hash: str, **ids: Any) -> None:
        """Save external ids the moment they are known, so a retried job resumes, never repeats."""
        if "images" in ids and not isinstance(ids["images"], str):
            ids["images"] = json.dumps(ids["images"], sort_keys=True)
        with self.sessions() as s, s.begin():
            s.execute(update(m.Publication).where(
                m.Publication.post_id == post_id, m.Publication.revision_hash == revision_hash)
                .values(updated_at=self.service.now(), **ids))

    def mark_published(self, post_id: int, worker: str, *, url: str | None,
                       article_id: str | None, detail: dict[str, Any] | None = None) -> bool:
        """PUBLISHING → PUBLISHED, with the article URL; False when the post is not this worker's."""
        now = self.service.now()
        return self._finish(post_id, worker, PostStatus.PUBLISHED, "post.mark_published",
                            {"article_url": url, "published_at": now, "problem_zh": "",
                             "problem_en": ""},
                            {"url": url, "article_id": article_id, **(detail or {})})

    def mark_failed(self, post_id: int, worker: str, reason: Text) -> bool:
        """PUBLISHING → FAILED with the reason in both languages, for an admin to retry."""
        return self._finish(post_id, worker, PostStatus.FAILED, "post.fail",
                            {"problem_zh": reason.zh, "problem_en": reason.en},
                            {"reason_zh": reason.zh, "reason_en": reason.en})

    def _finish(self, post_id: int, worker: str, status: PostStatus, action: str,
                values: dict[str, Any], detail: dict[str, Any]) -> bool:
        now = self.service.now()
        with self.sessions() as s, s.begin():
            post = s.get(m.Post, post_id)
            if post is None or post.status != PostStatus.PUBLISHING.value or post.claimed_by != worker:
                return False
            s.execute(update(m.Post).where(m.Post.id == post_id, m.Post.version == post.version).values(
                status=status.value, version=post.version + 1, lease_until=None, updated_at=now,
                **values).execution_options(synchronize_session=False))
            self.finish_intents(s, post_id, "publish")
            audit.append(s, actor="worker", action=action, post_id=post_id, at=now,
                         detail={"from": PostStatus.PUBLISHING.value, "to": status.value, **detail})
            return True

    def preview_snapshot(self, post_id: int, revision_hash: str) -> Snapshot | None:
        """The snapshot for a preview draft, or None when the revision is no longer current."""
        with self.sessions() as s:
            post = s.get(m.Post, post_id)
            if post is None:
                return None
            state = load_state(s, post)
            if state.revision is None or state.revision.content_hash != revision_hash:
                return None
            if state.status not in (PostStatus.IN_REVIEW, PostStatus.CHANGES_REQUESTED):
                return None  # signed already: the publish job makes the draft itself
            return self._snapshot(s, post, state)

    def finish_preview(self, post_id: int, revision_hash: str, state: str = "done") -> None:
        """Close the preview intent of this revision."""
        with self.sessions() as s, s.begin():
            s.execute(update(m.PublishIntent).where(
                m.PublishIntent.post_id == post_id, m.PublishIntent.kind == "preview",
                m.PublishIntent.revision_hash == revision_hash, m.PublishIntent.state == "pending")
                .values(state=state, done_at=self.service.now()))

    def recently_cancelled_job_ids(self) -> list[str]:
        """Jobs of intents cancelled in the last day (withdrawn or rescheduled posts)."""
        since = self.service.now() - timedelta(days=1)
        with self.sessions() as s:
            return [j for j in s.scalars(select(m.PublishIntent.job_id).where(
                m.PublishIntent.state == "cancelled", m.PublishIntent.job_id.is_not(None),
                m.PublishIntent.done_at >= since)) if j]

    def stuck_posts(self) -> list[int]:
        """Posts PUBLISHING under an expired lease: their worker died."""
        now = self.service.now()
        with self.sessions() as s:
            rows = s.execute(select(m.Post.id, m.Post.lease_until).where(
                m.Post.status == PostStatus.PUBLISHING.value)).all()
        return [pid for pid, lease in rows if lease is None or lease <= now]


__all__ = ["Asset", "Claim", "Publishing", "Snapshot"]
