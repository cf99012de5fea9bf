"""Publish one signed post: claim, re-check, upload, draft, submit, learn the result — resumably.

The submission itself lives in `worker.freepublish` (发布) and `worker.masssend` (群发); this module
claims the post, makes the draft, and turns every ending into the post's next state.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from wechatpy.exceptions import WeChatClientException

from approvals.rules.article import render
from approvals.rules.errors import Text
from approvals.services import Publishing
from approvals.views import PublishMode, Snapshot
from worker import freepublish, masssend
from worker.client import SignoffWeChatClient
from worker.covers import default_cover
from worker.errors import PublishError, Unconfirmed, from_network, from_wechat
from worker.scrub import redact

T = TypeVar("T")

UPLOAD_COVER = Text("上传封面", "uploading the cover")
UPLOAD_IMAGE = Text("上传正文图片", "uploading an in-article image")
DRAFT_ADD = Text("创建草稿", "creating the draft")
DRAFT_UPDATE = Text("更新草稿", "updating the draft")
DRAFT_GET = Text("读取草稿", "reading the draft")


class LostClaim(Exception):
    """Another worker took the post over (our lease expired): stop without touching it."""


class Publisher:
    """Runs the publishing steps for one post, saving every external id as soon as it is known."""

    def __init__(self, publishing: Publishing, client: SignoffWeChatClient, *,
                 lease_seconds: float = 120.0, poll_seconds: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.publishing = publishing
        self.client = client
        self.lease = lease_seconds
        self.poll_seconds = poll_seconds
        self.sleep = sleep

    def publish(self, post_id: int, worker: str, *, intent_id: int | None = None,
                final_attempt: bool = True) -> str:
        """Publish the post; returns what happened. Raises PublishError when a retry should follow."""
        claim = self.publishing.claim(post_id, worker, self.lease, intent_id=intent_id)
        if claim.snapshot is None:
            return "held" if claim.held else f"skipped ({claim.reason})"
        snap = claim.snapshot
        mass = snap.mode is PublishMode.MASS_SEND
        try:
            done = masssend.send(self, snap, worker) if mass else \
                freepublish.publish(self, snap, worker)
        except LostClaim:
            return "skipped (another worker took over)"
        except Unconfirmed as exc:
            return self._unconfirmed(snap, worker, exc.text)
        except Exception as exc:
            said = redact(str(exc))  # never a token or the secret in a stored error text
            err = exc if isinstance(exc, PublishError) else PublishError(
                Text(f"发布时出现意外错误：{type(exc).__name__}: {said}",
                     f"unexpected error while publishing: {type(exc).__name__}: {said}"),
                permanent=False)
            self.publishing.record_error(post_id, snap.revision_hash, err.text.en)
            if not (err.permanent or final_attempt):
                self.publishing.release(post_id, worker)
                raise
            pub = self.publishing.publication(post_id, snap.revision_hash)
            if not mass and pub.publish_id is None and pub.submit_started_at is not None:
                # Out of attempts with a submission whose reply was lost: a person decides.
                return self._unconfirmed(snap, worker, Text(
                    f"{err.text.zh}。{freepublish.CHECK_BACKEND.zh}",
                    f"{err.text.en}. {freepublish.CHECK_BACKEND.en}"))
            note = masssend.note_for(pub) if mass else freepublish.note_for(pub)
            reason = err.text if note is None else Text(err.text.zh + note.zh,
                                                        err.text.en + note.en)
            self.publishing.mark_failed(post_id, worker, reason)
            return "failed"
        if not self.publishing.mark_published(post_id, worker, url=done.url,
                                              article_id=done.article_id, detail=done.detail):
            return "skipped (another worker took over)"
        return "published"

    def _unconfirmed(self, snap: Snapshot, worker: str, why: Text) -> str:
        self.publishing.record_error(snap.post_id, snap.revision_hash, why.en)
        self.publishing.mark_unconfirmed(snap.post_id, worker, why)
        return "unconfirmed"

    # --- steps shared by both ways of publishing -----------------------------------------------

    def call(self, doing: Text, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Call the WeChat client, turning its failures into PublishError."""
        try:
            return fn(*args, **kw)
        except WeChatClientException as exc:
            raise from_wechat(exc, doing) from exc
        except requests.RequestException as exc:
            raise from_network(exc, doing) from exc

    def keep(self, snap: Snapshot, worker: str) -> None:
        """Renew this worker's lease on the post, or stop if another worker took it over."""
        if not self.publishing.renew(snap.post_id, worker, self.lease):
            raise LostClaim

    def ensure_draft(self, snap: Snapshot, worker: str | None = None) -> str:
        """The draft media_id for this revision: created, or reused and brought up to date."""
        pid, h = snap.post_id, snap.revision_hash
        pub = self.publishing.publication(pid, h)
        thumb = pub.thumb_media_id
        if thumb is None:
            cover = (snap.cover.filename, snap.cover.data, snap.cover.mime) if snap.cover \
                else default_cover()
            # Bytes, not a file object: a retried upload must send the bytes again.
            thumb = self.call(UPLOAD_COVER, self.client.material.add, "image", cover)["media_id"]
            self.publishing.record_cover(pid, h, thumb)
        images = dict(pub.images)
        for sha, asset in snap.images.items():
            if sha not in images:
                images[sha] = self.call(UPLOAD_IMAGE, self.client.media.upload_image,
                                         (asset.filename, asset.data, asset.mime))
                self.publishing.record_images(pid, h, images)
                if worker is not None:
                    self.keep(snap, worker)
        if worker is not None:
            self.keep(snap, worker)
        content = render(snap.body_html, snap.footer, images)  # the article layout checked
        digest = hashlib.sha256(content.encode()).hexdigest()
        article = {
            "title": snap.title, "author": snap.author, "digest": snap.digest, "content": content,
            "content_source_url": snap.repost_source if (snap.repost_source or "").startswith(
                ("http://", "https://")) else "",
            "thumb_media_id": thumb, "need_open_comment": 0, "only_fans_can_comment": 0,
        }
        if pub.draft_media_id is None:
            media_id = self.call(DRAFT_ADD, self.client.draft.add, [article])["media_id"]
            self.publishing.record_draft(pid, h, media_id, digest)
            return str(media_id)
        if pub.content_sha256 != digest:
            # The preview draft of this revision, brought up to date with the final footer.
            try:
                self.call(DRAFT_UPDATE, self.client.draft.update, pub.draft_media_id, 0, article)
            except PublishError as err:
                if err.errcode != 40007:
                    raise
                # The draft left the box (deleted by hand, or used up): make a new one.
                media_id = self.call(DRAFT_ADD, self.client.draft.add, [article])["media_id"]
                self.publishing.record_draft(pid, h, media_id, digest)
                return str(media_id)
            self.publishing.record_draft_content(pid, h, digest)
        return pub.draft_media_id

    def poll(self, snap: Snapshot, worker: str, check: Callable[[], T | None], pending: Text) -> T:
        """Call `check` with growing pauses until it answers, or give up for a later retry."""
        deadline, delay = time.monotonic() + self.poll_seconds, 0.2
        while True:
            self.keep(snap, worker)
            result = check()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise PublishError(pending, permanent=False)
            self.sleep(delay)
            delay = min(delay * 2, 5.0)

    def draft_exists(self, media_id: str) -> bool:
        """Whether the draft is still in the draft box."""
        try:
            self.client.draft.get(media_id)
        except WeChatClientException as exc:
            if exc.errcode == 40007:
                return False
            raise from_wechat(exc, DRAFT_GET) from exc
        except requests.RequestException as exc:
            raise from_network(exc, DRAFT_GET) from exc
        return True
