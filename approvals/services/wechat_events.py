"""WeChat's own word on a submission — the events its callback pushes — fed into the very
bookkeeping the worker's poller uses (`Publishing.mark_published`, `mark_failed`,
`mark_unconfirmed`, `record_wechat_status`, `record_error`).

Whichever learns the outcome first wins: finishing a post is a conditional update of a post that
is still publishing, so the second (the poller after the callback, the callback after the poller,
or WeChat pushing the same event again) changes nothing. An event for an id this database does
not know is answered as handled too, so WeChat stops retrying it.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from sqlalchemy import select, update

from approvals.rules import reported
from approvals.rules.states import WORKER, PostStatus
from approvals.services.publishing import Publishing
from approvals.store import audit
from approvals.store import models as m
from approvals.views import MassSendFinished, PublishFinished, Reported, WeChatEvent

log = logging.getLogger(__name__)
POSTS, PUBS = m.Post.__table__, m.Publication.__table__
ARTICLE_URL = "post.article_url"  # the audit row of a link learned after publishing


class _Target(NamedTuple):
    post_id: int
    revision_hash: str
    status: str
    current: bool  # the publication is of the post's current revision
    post_url: str | None


class WeChatReports:
    """What WeChat reported, applied once (a part of the façade)."""

    def __init__(self, publishing: Publishing) -> None:
        self.publishing = publishing

    def apply(self, event: WeChatEvent) -> Reported:
        """Apply one pushed event; says what it changed (`Reported.UNKNOWN`: not ours)."""
        if isinstance(event, PublishFinished):
            outcome = self._publish(event)
            ref = f"publish_id {event.publish_id} status {event.status}"
        else:
            outcome = self._mass_send(event)
            ref = f"msg_id {event.msg_id} status {event.status!r}"
        if outcome is Reported.UNKNOWN:
            # Answered as handled all the same: WeChat would only retry it.
            log.warning("WeChat callback: %s is none of this database's publications", ref)
        else:
            log.info("WeChat callback: %s: %s", ref, outcome.value)
        return outcome

    def _find(self, *, publish_id: str | None = None, msg_id: str | None = None
              ) -> _Target | None:
        column = PUBS.c.publish_id if publish_id is not None else PUBS.c.msg_id
        query = (select(PUBS.c.post_id, PUBS.c.revision_hash, POSTS.c.status,
                        POSTS.c.revision_number, POSTS.c.article_url)
                 .join(POSTS, POSTS.c.id == PUBS.c.post_id)
                 .where(column == (publish_id if publish_id is not None else msg_id))
                 .order_by(PUBS.c.id.desc()).limit(1))
        with self.publishing.deps.sessions() as s:
            conn = s.connection()
            # The publication by its id (ix_publications_publish_id, ix_publications_msg_id),
            # among the posts still open first (ix_posts_open): where a post being published is.
            row = conn.execute(query.where(~POSTS.c.archived)).one_or_none() or \
                conn.execute(query).one_or_none()
            if row is None:
                return None
            current = s.scalar(select(m.Revision.content_hash).where(
                m.Revision.post_id == row.post_id, m.Revision.number == row.revision_number))
            return _Target(row.post_id, row.revision_hash, row.status,
                           current == row.revision_hash, row.article_url)

    def _publish(self, ev: PublishFinished) -> Reported:
        target = self._find(publish_id=ev.publish_id)
        if target is None:
            return Reported.UNKNOWN
        if ev.status == reported.PUBLISHING:
            return Reported.PENDING
        if target.status != PostStatus.PUBLISHING.value or not target.current:
            return Reported.ALREADY
        p, pid, h = self.publishing, target.post_id, target.revision_hash
        if ev.status == reported.PUBLISHED:
            done = p.mark_published(pid, None, url=ev.url, article_id=ev.article_id,
                                    detail={"publish_id": ev.publish_id, "via": "callback"},
                                    wechat_status="0")
            return Reported.PUBLISHED if done else Reported.ALREADY
        p.record_wechat_status(pid, h, str(ev.status))
        if ev.status not in reported.FAILED_STATUS:  # published then gone, or undocumented
            why = reported.publish_gone(ev.publish_id, ev.status) \
                if ev.status in reported.GONE_STATUS else \
                reported.publish_unclear(ev.publish_id, ev.status)
            p.record_error(pid, h, why.en)
            return Reported.UNCONFIRMED if p.mark_unconfirmed(pid, None, why) \
                else Reported.ALREADY
        why = reported.publish_failed(ev.publish_id, ev.status, list(ev.fail_idx))
        p.record_error(pid, h, why.en)
        return Reported.FAILED if p.mark_failed(pid, None, why) else Reported.ALREADY

    def _mass_send(self, ev: MassSendFinished) -> Reported:
        target = self._find(msg_id=ev.msg_id)
        if target is None:
            return Reported.UNKNOWN
        p, pid, h = self.publishing, target.post_id, target.revision_hash
        success = ev.status.strip().lower() == "send success"
        if target.status == PostStatus.PUBLISHED.value and success and target.current:
            # The poller (mass/get) finished it first, without a link: the event brings it.
            return Reported.URL_RECORDED if self._late_url(target, ev.url, ev.msg_id) else Reported.ALREADY
        if target.status != PostStatus.PUBLISHING.value or not target.current:
            return Reported.ALREADY
        if success:
            done = p.mark_published(pid, None, url=ev.url, article_id=None,
                                    detail={"msg_id": ev.msg_id, "mode": "mass_send",
                                            "via": "callback"},
                                    wechat_status=reported.SEND_SUCCESS)
            return Reported.PUBLISHED if done else Reported.ALREADY
        if not reported.mass_send_failed(ev.status):
            # No status, or one WeChat does not document: it may have reached every follower,
            # and a retry would send it again. A person checks.
            p.record_wechat_status(pid, h, ev.status.strip()[:16] or "?")
            why = reported.mass_unclear(ev.msg_id, ev.status)
            p.record_error(pid, h, why.en)
            return Reported.UNCONFIRMED if p.mark_unconfirmed(pid, None, why) \
                else Reported.ALREADY
        # "send fail", or "err(N)": refused by the platform's review; both as mass/get's SEND_FAIL,
        # so an admin's retry sends it again.
        p.record_wechat_status(pid, h, reported.SEND_FAIL)
        why = reported.mass_failed(ev.msg_id, ev.status)
        p.record_error(pid, h, why.en)
        return Reported.FAILED if p.mark_failed(pid, None, why) else Reported.ALREADY

    def _late_url(self, target: _Target, url: str | None, msg_id: str) -> bool:
        """Record a mass send's article link on a post published without one (once)."""
        if url is None or target.post_url is not None:
            return False
        now = self.publishing.deps.now()
        with self.publishing.deps.uow() as uow:
            conn = uow.session.connection()
            changed = conn.execute(update(POSTS).where(
                POSTS.c.id == target.post_id, POSTS.c.article_url.is_(None))
                .values(article_url=url, updated_at=now)).rowcount
            if changed:
                conn.execute(update(PUBS).where(PUBS.c.post_id == target.post_id,
                                                PUBS.c.revision_hash == target.revision_hash)
                             .values(article_url=url, updated_at=now))
                audit.append(uow.session, actor=WORKER, action=ARTICLE_URL,
                             post_id=target.post_id, at=now,
                             detail={"url": url, "msg_id": msg_id, "via": "callback"})
            return changed == 1


__all__ = ["WeChatReports"]
