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

from approvals.rules.article import image_kind, render
from approvals.rules.errors import Text
from approvals.services import Publishing
from approvals.views import PublicationIds, PublishMode, Snapshot
from worker import freepublish, masssend
from worker.client import SignoffWeChatClient
from worker.covers import default_cover, default_cover_sha256
from worker.errors import LostClaim, PublishError, Unconfirmed, from_network, from_wechat
from worker.scrub import redact

T = TypeVar("T")

UPLOAD_COVER = Text("上传封面", "uploading the cover")
UPLOAD_IMAGE = Text("上传正文图片", "uploading an in-article image")
DRAFT_ADD = Text("创建草稿", "creating the draft")
DRAFT_UPDATE = Text("更新草稿", "updating the draft")
DRAFT_GET = Text("读取草稿", "reading the draft")


def upload_name(stem: str, data: bytes) -> str:
    """The file name an image goes to WeChat under: WeChat judges the type by the name's
    extension, and people's names for their files may be "封面" or "cover.jfif"
    (checked by content when they were handed in, but refused by WeChat under that name)."""
    kind = image_kind(data) or "jpeg"
    return f"{stem}.{'jpg' if kind == 'jpeg' else kind}"


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
        self._renew_after = 0.0  # when the lease needs renewing (monotonic seconds)
        self._known_cover: str | None = None  # the cover's media_id, when the claim found it

    def publish(self, post_id: int, worker: str, *, intent_id: int | None = None,
                final_attempt: bool = True) -> str:
        """Publish the post; returns what happened. Raises PublishError when a retry should follow."""
        claimed_at = time.monotonic()
        claim = self.publishing.claim(post_id, worker, self.lease, intent_id=intent_id,
                                      cover_sha256=default_cover_sha256())
        if claim.snapshot is None:
            return "held" if claim.held else f"skipped ({claim.reason})"
        snap = claim.snapshot
        self._renew_after = claimed_at + self.lease / 2
        mass = snap.mode is PublishMode.MASS_SEND
        ids = claim.ids or self.publishing.publication(post_id, snap.revision_hash)
        self._known_cover = claim.cover_media_id
        try:
            done = masssend.send(self, snap, worker, ids) if mass else \
                freepublish.publish(self, snap, worker, ids)
        except LostClaim:
            return "skipped (the claim was lost: publishing cancelled, or another worker took over)"
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
                                              article_id=done.article_id, detail=done.detail,
                                              wechat_status=done.wechat_status):
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
        """Renew this worker's lease once half of it has passed; stop if another worker took the
        post over (only possible after the lease ran out, so a fresh lease needs no check)."""
        if time.monotonic() < self._renew_after:
            return
        if not self.publishing.renew(snap.post_id, worker, self.lease):
            raise LostClaim
        self._renew_after = time.monotonic() + self.lease / 2

    def ensure_draft(self, snap: Snapshot, worker: str | None = None,
                     pub: PublicationIds | None = None, *, then_submit: bool = False) -> str:
        """The draft media_id for this revision: created, or reused and brought up to date.

        With `then_submit`, the "submission started" mark is saved with the draft's own ids
        (nothing is called between the two), so a lost submit reply is known to be unknown; and
        only while `worker` still holds the claim (LostClaim otherwise): a publication cancelled
        a moment ago is never submitted.
        """
        pid, h = snap.post_id, snap.revision_hash
        pub = pub or self.publishing.publication(pid, h)
        thumb, cached_thumb = self._cover(snap, pub)
        images = self._images(snap, pub, worker)
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
        media_id = pub.draft_media_id
        if media_id is not None and pub.content_sha256 != digest:
            # The preview draft of this revision, brought up to date with the final footer.
            try:
                self.call(DRAFT_UPDATE, self.client.draft.update, media_id, 0, article)
            except PublishError as err:
                if err.errcode != 40007:
                    raise
                media_id = None  # the draft left the box (deleted by hand, or used up)
        elif media_id is not None:
            if (cached_thumb is not None or then_submit) and not self.publishing.record_draft(
                    pid, h, media_id, digest, thumb=cached_thumb, submit_started=then_submit,
                    claimed_by=worker):
                raise LostClaim
            return media_id
        if media_id is None:
            try:
                media_id = str(self.call(DRAFT_ADD, self.client.draft.add, [article])["media_id"])
            except PublishError as err:
                if err.errcode != 40007:
                    raise
                # The cover's media_id is unknown to WeChat (deleted in the backend): the
                # next attempt uploads it again.
                self.publishing.forget_media(self._cover_sha(snap), "image")
                self.publishing.record_cover(pid, h, None)
                raise PublishError(err.text, permanent=False, errcode=err.errcode) from None
        if not self.publishing.record_draft(pid, h, media_id, digest, thumb=cached_thumb,
                                            submit_started=then_submit, claimed_by=worker):
            raise LostClaim
        return media_id

    @staticmethod
    def _cover_sha(snap: Snapshot) -> str:
        return snap.cover.sha256 if snap.cover else default_cover_sha256()

    def _cover(self, snap: Snapshot, pub: PublicationIds) -> tuple[str, str | None]:
        """(the cover's media_id, the same when it came from the uploads cache and is unsaved)."""
        if pub.thumb_media_id is not None:
            return pub.thumb_media_id, None
        sha = self._cover_sha(snap)
        if self._known_cover:  # the claim found the account holds this cover already
            return self._known_cover, self._known_cover
        known = self.publishing.media(sha, "image")
        if known is not None and known[0]:
            return known[0], known[0]  # the account holds this image already (the default cover)
        cover = (upload_name("cover", snap.cover.data), snap.cover.data, snap.cover.mime) \
            if snap.cover else default_cover()
        # Bytes, not a file object: a retried upload must send the bytes again.
        uploaded = self.call(UPLOAD_COVER, self.client.material.add, "image", cover)
        thumb = str(uploaded["media_id"])
        self.publishing.record_media(sha, "image", thumb, uploaded.get("url"))
        self.publishing.record_cover(snap.post_id, snap.revision_hash, thumb)
        return thumb, None

    def _images(self, snap: Snapshot, pub: PublicationIds, worker: str | None) -> dict[str, str]:
        """Every in-article image's URL on WeChat, uploading (and saving) the ones it lacks."""
        images = dict(pub.images)
        for sha, asset in snap.images.items():
            if sha in images:
                continue
            known = self.publishing.media(sha, "inline")
            if known is not None and known[1]:
                images[sha] = known[1]
            else:
                images[sha] = self.call(UPLOAD_IMAGE, self.client.media.upload_image,
                                         (upload_name("image", asset.data), asset.data,
                                          asset.mime))
                self.publishing.record_media(sha, "inline", None, images[sha])
            self.publishing.record_images(snap.post_id, snap.revision_hash, images)
            if worker is not None:
                self.keep(snap, worker)
        return images

    def poll(self, snap: Snapshot, worker: str, check: Callable[[], T | None], pending: Text) -> T:
        """Call `check` with growing pauses until it answers, or give up for a later retry."""
        # WeChat usually publishes within seconds: look again soon, then back off.
        deadline, delay = time.monotonic() + self.poll_seconds, 0.05
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
