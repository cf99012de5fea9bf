"""Every id WeChat returns, saved the moment it is known, so a retried job resumes, never repeats;
and the images the account already holds, reused by content hash."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from approvals.rules.errors import Text
from approvals.rules.states import PostStatus
from approvals.services.base import Deps
from approvals.services.state import publication_ids
from approvals.store import models as m
from approvals.views import (
    PublicationIds,
)

# Failures WeChat itself reported (publish_status 2, 3, 4; a mass send's SEND_FAIL): only these let
# a retry submit again. Anything else a retry follows by its publish_id or clientmsgid.
REPORTED_FAILED = frozenset({"2", "3", "4", "SEND_FAIL"})


class Records:
    """The publication record of a revision (a part of `Publishing`)."""

    deps: Deps

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
        with self.deps.uow() as uow:
            self._save_in(uow.session, post_id, revision_hash, values)

    def _save_in(self, s: Session, post_id: int, revision_hash: str,
                 values: dict[str, Any]) -> None:
        now = self.deps.now()
        pubs = m.Publication.__table__
        # A plain table update on the transaction's connection: the worker saves ids often.
        saved = s.connection().execute(update(pubs).where(
            pubs.c.post_id == post_id, pubs.c.revision_hash == revision_hash)
            .values(updated_at=now, **values)).rowcount
        if saved == 0:  # the first id of this revision: the record starts with it
            s.add(m.Publication(post_id=post_id, revision_hash=revision_hash, images="{}",
                                last_error="", updated_at=now, **values))

    def _still_claimed(self, s: Session, post_id: int, worker: str) -> bool:
        """Whether `worker` still holds the post's claim, re-asserted in this transaction.

        The post's version is bumped, so a person's action that read the post before (a cancel
        racing this submission) fails its own conditional update instead of passing unseen; and
        an action that committed first (the post is no longer PUBLISHING by this worker) makes
        this False. The row lock taken here orders the two on every database.
        """
        posts = m.Post.__table__
        return s.connection().execute(update(posts).where(
            posts.c.id == post_id, posts.c.status == PostStatus.PUBLISHING.value,
            posts.c.claimed_by == worker).values(version=posts.c.version + 1)).rowcount == 1

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
                     submit_started: bool = False, claimed_by: str | None = None) -> bool:
        """The draft and the content it holds (both None: the draft is gone, make a new one);
        the cover it uses when that was not saved before; and, when it is submitted next, the
        mark that a submission is starting.

        With `claimed_by`, the mark is set only while that worker still holds the post's claim
        (checked in the same transaction); returns False when it does not (the publication was
        cancelled, or another worker took over): the caller must not submit. The draft's ids are
        kept either way, so the draft box never holds one nobody knows of.
        """
        values: dict[str, Any] = {"draft_media_id": media_id, "content_sha256": content_sha256}
        if thumb is not None:
            values["thumb_media_id"] = thumb
        with self.deps.uow() as uow:
            go = claimed_by is None or not submit_started or \
                self._still_claimed(uow.session, post_id, claimed_by)
            if submit_started and go:
                values["submit_started_at"] = self.deps.now()
            self._save_in(uow.session, post_id, revision_hash, values)
        return go

    def record_preview_url(self, post_id: int, revision_hash: str, url: str | None) -> None:
        """The draft's temporary preview link (art. 27)."""
        self._save(post_id, revision_hash, {"preview_url": url})

    def record_submit_started(self, post_id: int, revision_hash: str) -> None:
        """A submission is about to be sent: from now on its outcome may be unknown."""
        self._save(post_id, revision_hash, {"submit_started_at": self.deps.now()})

    def record_publish_id(self, post_id: int, revision_hash: str, publish_id: str) -> None:
        """WeChat took the submission under this publish_id."""
        self._save(post_id, revision_hash, {"publish_id": publish_id})

    def record_clientmsgid(self, post_id: int, revision_hash: str, clientmsgid: str, *,
                           claimed_by: str | None = None) -> bool:
        """The mass send's de-duplication key, saved before the send; with `claimed_by`, only
        while that worker still holds the claim (False: do not send; see `record_draft`)."""
        with self.deps.uow() as uow:
            if claimed_by is not None and not self._still_claimed(uow.session, post_id,
                                                                  claimed_by):
                return False
            self._save_in(uow.session, post_id, revision_hash, {"clientmsgid": clientmsgid})
        return True

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


def wechat_holds(s: Session, post_id: int, revision_hash: str) -> Text | None:
    """What WeChat holds of this revision's current attempt (a publish_id, a mass send, or a
    submission whose reply was lost), or None when nothing was submitted: what decides whether
    its publication may still be cancelled."""
    pub = s.execute(select(m.Publication.publish_id, m.Publication.msg_id,
                           m.Publication.clientmsgid, m.Publication.submit_started_at).where(
        m.Publication.post_id == post_id, m.Publication.revision_hash == revision_hash)
    ).one_or_none()
    if pub is None:
        return None
    if pub.publish_id:
        return Text(f"publish_id {pub.publish_id}", f"publish_id {pub.publish_id}")
    if pub.msg_id:
        return Text(f"群发 msg_id {pub.msg_id}", f"mass send msg_id {pub.msg_id}")
    if pub.clientmsgid:
        return Text(f"群发 clientmsgid {pub.clientmsgid}", f"mass send clientmsgid {pub.clientmsgid}")
    if pub.submit_started_at is not None:
        return Text("提交已发出，回复未知", "a submission was sent and its reply is unknown")
    return None
