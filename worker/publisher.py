"""Publish one signed post: claim, re-check, upload, draft, submit, learn the result — resumably."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import requests
from wechatpy.exceptions import WeChatClientException

from approvals.rules.errors import Text
from approvals.services import Publishing
from approvals.views import PublicationIds, PublishMode, Snapshot
from worker.client import SignoffWeChatClient
from worker.covers import default_cover
from worker.errors import PublishError, from_network, from_wechat
from worker.render import article_html, clientmsgid
from worker.scrub import redact

T = TypeVar("T")

UPLOAD_COVER = Text("上传封面", "uploading the cover")
UPLOAD_IMAGE = Text("上传正文图片", "uploading an in-article image")
DRAFT_ADD = Text("创建草稿", "creating the draft")
DRAFT_UPDATE = Text("更新草稿", "updating the draft")
DRAFT_GET = Text("读取草稿", "reading the draft")
SUBMIT = Text("提交发布", "submitting for publishing")
POLL = Text("查询发布结果", "checking the publishing result")
FIND = Text("核对已发布文章", "looking for the published article")
MASS_SEND = Text("群发", "mass sending")
MASS_GET = Text("查询群发结果", "checking the mass send")

PUBLISH_STATUS = {
    2: Text("原创声明校验未通过", "the originality check failed"),
    3: Text("发布失败", "publishing failed"),
    4: Text("未通过平台审核", "rejected by the platform's review"),
    5: Text("发布后已被删除", "deleted after publishing"),
    6: Text("发布后已被封禁", "banned after publishing"),
}


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
        try:
            if snap.mode is PublishMode.MASS_SEND:
                url, article_id, detail = self._mass_send(snap, worker)
            else:
                url, article_id, detail = self._freepublish(snap, worker)
        except LostClaim:
            return "skipped (another worker took over)"
        except Exception as exc:
            said = redact(str(exc))  # never a token or the secret in a stored error text
            err = exc if isinstance(exc, PublishError) else PublishError(
                Text(f"发布时出现意外错误：{type(exc).__name__}: {said}",
                     f"unexpected error while publishing: {type(exc).__name__}: {said}"),
                permanent=False)
            self.publishing.record_error(post_id, snap.revision_hash, err.text.en)
            if err.permanent or final_attempt:
                self.publishing.mark_failed(post_id, worker, err.text)
                return "failed"
            self.publishing.release(post_id, worker)
            raise
        if not self.publishing.mark_published(post_id, worker, url=url, article_id=article_id,
                                              detail=detail):
            return "skipped (another worker took over)"
        return "published"

    # --- steps --------------------------------------------------------------------------------

    def call(self, doing: Text, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Call the WeChat client, turning its failures into PublishError."""
        try:
            return fn(*args, **kw)
        except WeChatClientException as exc:
            raise from_wechat(exc, doing) from exc
        except requests.RequestException as exc:
            raise from_network(exc, doing) from exc

    def _keep(self, snap: Snapshot, worker: str) -> None:
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
                    self._keep(snap, worker)
        if worker is not None:
            self._keep(snap, worker)
        content = article_html(snap.body_html, snap.footer, images)
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
            self.call(DRAFT_UPDATE, self.client.draft.update, pub.draft_media_id, 0, article)
            self.publishing.record_draft_content(pid, h, digest)
        return pub.draft_media_id

    def _freepublish(self, snap: Snapshot, worker: str) -> tuple[str | None, str | None, dict[str, Any]]:
        pid, h = snap.post_id, snap.revision_hash
        pub = self.publishing.publication(pid, h)
        publish_id = pub.publish_id
        if publish_id is None:
            media_id = self.ensure_draft(snap, worker)
            pub = self.publishing.publication(pid, h)
            if pub.submit_started_at is not None:
                # A previous attempt died between submitting and saving the publish_id: the
                # submission may have gone through. Never submit twice on a guess.
                found = self._uncertain_submission(snap, pub, media_id)
                if found is not None:
                    return found
            self._keep(snap, worker)
            self.publishing.record_submit_started(pid, h)
            res = self.call(SUBMIT, self.client.freepublish.submit, media_id)
            publish_id = str(res["publish_id"])
            self.publishing.record_publish_id(pid, h, publish_id)
        def check() -> tuple[str | None, str | None, dict[str, Any]] | None:
            res = self.call(POLL, self.client.freepublish.get, publish_id)
            status = int(res.get("publish_status", 1))
            if status == 0:
                items = res.get("article_detail", {}).get("item") or []
                url = items[0]["article_url"] if items else None
                article_id = str(res.get("article_id") or "") or None
                self.publishing.record_article(pid, h, article_id, url)
                return url, article_id, {"publish_id": publish_id}
            if status in PUBLISH_STATUS:
                why = PUBLISH_STATUS[status]
                raise PublishError(Text(f"微信发布未成功：{why.zh}（publish_status={status}，"
                                        f"fail_idx={res.get('fail_idx')}）",
                                        f"WeChat did not publish: {why.en} (publish_status="
                                        f"{status}, fail_idx={res.get('fail_idx')})"), permanent=True)
            return None

        return self._poll(snap, worker, check, Text("发布仍在进行中，稍后再查询",
                                                    "still publishing; will check again"))

    def _poll(self, snap: Snapshot, worker: str, check: Callable[[], T | None], pending: Text) -> T:
        """Call `check` with growing pauses until it answers, or give up for a later retry."""
        deadline, delay = time.monotonic() + self.poll_seconds, 0.2
        while True:
            self._keep(snap, worker)
            result = check()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise PublishError(pending, permanent=False)
            self.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _draft_exists(self, media_id: str) -> bool:
        try:
            self.client.draft.get(media_id)
        except WeChatClientException as exc:
            if exc.errcode == 40007:
                return False
            raise from_wechat(exc, DRAFT_GET) from exc
        except requests.RequestException as exc:
            raise from_network(exc, DRAFT_GET) from exc
        return True

    def _uncertain_submission(self, snap: Snapshot, pub: PublicationIds, media_id: str
                              ) -> tuple[str | None, str | None, dict[str, Any]] | None:
        """The article if the earlier submission went through; None when it is safe to submit."""
        started = pub.submit_started_at  # aware UTC, as every stored time
        assert started is not None
        found = self._find_published(snap, started)
        if found is not None:
            return found
        waited = (self.publishing.deps.now() - started).total_seconds()
        if waited < self.poll_seconds:
            # It may still be publishing: look again later rather than risk a second article.
            raise PublishError(Text("此前的发布提交结果尚不确定，稍后再核对（请勿手工重复发布）",
                                    "an earlier submission's outcome is not known yet; will check "
                                    "again (do not publish it by hand)"), permanent=False)
        # A draft still in the box may be one still publishing, or one whose publishing failed:
        # only a person can tell, and a second submission could put two articles online.
        raise PublishError(Text("此前的发布提交结果无法确认：已发布列表中未找到文章。请在公众号平台核实，"
                                "确认未发布后由管理员重试", "an earlier submission could not be "
                                "confirmed: the article is not among the published ones. Check the "
                                "official account; if it is not there, an admin retries"),
                           permanent=True)

    def _find_published(self, snap: Snapshot, since: datetime
                        ) -> tuple[str | None, str | None, dict[str, Any]] | None:
        """An article published since `since` with this revision's title and author, if any.

        The platform rewrites article HTML, so the content cannot be compared byte for byte.
        """
        res = self.call(FIND, self.client.freepublish.batchget, 0, 20, 1)
        for item in res.get("item", []):
            if int(item.get("update_time") or 0) < since.timestamp() - 60:
                continue
            for news in item.get("content", {}).get("news_item", []):
                if news.get("title") == snap.title and news.get("author", "") == snap.author:
                    url = news.get("url")
                    self.publishing.record_article(snap.post_id, snap.revision_hash, item.get("article_id"), url)
                    return url, item.get("article_id"), {"recovered": True}
        return None

    def _mass_send(self, snap: Snapshot, worker: str) -> tuple[str | None, str | None, dict[str, Any]]:
        pid, h = snap.post_id, snap.revision_hash
        pub = self.publishing.publication(pid, h)
        msg_id = pub.msg_id
        if msg_id is None:
            if pub.clientmsgid and pub.draft_media_id and not self._draft_exists(pub.draft_media_id):
                # A send with our clientmsgid went out (it used the draft up) before the msg_id
                # was saved: send again from a fresh draft with the same clientmsgid, and WeChat
                # answers 45065 with the first send's msg_id instead of sending twice.
                self.publishing.record_draft(pid, h, None, None)
            media_id = self.ensure_draft(snap, worker)
            cid = pub.clientmsgid or clientmsgid(pid, h, pub.attempt)
            self.publishing.record_clientmsgid(pid, h, cid)
            self._keep(snap, worker)
            try:
                res = self.client.message.send_mass_article(media_id, is_to_all=True,
                                                            client_msg_id=cid)
            except WeChatClientException as exc:
                if exc.errcode != 45065:
                    raise from_wechat(exc, MASS_SEND) from exc
                # The same clientmsgid was sent already: that send is ours; follow it.
                res = exc.response.json() if exc.response is not None else {}
            except requests.RequestException as exc:
                raise from_network(exc, MASS_SEND) from exc
            msg_id = str(res["msg_id"])
            self.publishing.record_msg_id(pid, h, msg_id)

        def check() -> tuple[str | None, str | None, dict[str, Any]] | None:
            status = self.call(MASS_GET, self.client.message.get_mass, msg_id).get("msg_status")
            if status == "SEND_SUCCESS":
                return None, None, {"msg_id": msg_id, "mode": "mass_send"}
            if status in ("SEND_FAIL", "DELETE"):
                raise PublishError(Text(f"群发失败（{status}）", f"the mass send failed ({status})"),
                                   permanent=True)
            return None

        return self._poll(snap, worker, check, Text("群发仍在进行中，稍后再查询",
                                                    "still sending; will check again"))
