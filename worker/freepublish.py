"""Publishing with freepublish (发布): submit the draft once, then follow its publish_id.

The one promise: WeChat never gets the same revision twice. An answer with an errcode is a clear
"no" and is retried as usual; only a lost reply leaves the outcome unknown, and then the article
is looked for among the published ones; when nothing can confirm it, a person decides. Once a
publish_id exists, every attempt follows it; a new submission only after WeChat reported that
publication failed (publish_status 2, 3 or 4).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import requests
from wechatpy.exceptions import WeChatClientException

from approvals.rules import reported
from approvals.rules.errors import Text
from approvals.views import PublicationIds, Snapshot
from worker.errors import PublishError, Unconfirmed, from_network, from_wechat, never_sent
from worker.outcome import Published

if TYPE_CHECKING:
    from worker.publisher import Publisher

SUBMIT = Text("提交发布", "submitting for publishing")
POLL = Text("查询发布结果", "checking the publishing result")
FIND = Text("核对已发布文章", "looking for the published article")

# the words for what WeChat reports are shared with the callback (approvals.rules.reported)
FAILED_STATUS, GONE_STATUS, CHECK_BACKEND = reported.FAILED_STATUS, reported.GONE_STATUS, \
    reported.CHECK_BACKEND


def held(publish_id: str) -> Text:
    """The note a failure carries once WeChat holds the submission."""
    return Text(f"（已提交微信，publish_id {publish_id}；重新发布将核查这次提交，不会重复提交）",
                f" (already submitted to WeChat, publish_id {publish_id}; retry will check it, "
                "not resubmit)")


def publish(p: Publisher, snap: Snapshot, worker: str, pub: PublicationIds) -> Published:
    """Submit the revision's draft once and follow it to its end (`pub`: the ids saved so far)."""
    publish_id = pub.publish_id
    if publish_id is None:
        if pub.submit_started_at is not None:
            # An earlier attempt sent the submission and lost the reply: never submit again on a
            # guess. Look for the article; when nothing can confirm it, a person decides.
            return _unknown(p, snap, pub.submit_started_at)
        publish_id = _submit(p, snap, worker, pub)
    return follow(p, snap, worker, publish_id)


def _submit(p: Publisher, snap: Snapshot, worker: str, pub: PublicationIds) -> str:
    """Submit the draft; its publish_id. A draft that left the box (40007) is made again once."""
    pid, h = snap.post_id, snap.revision_hash
    for again in (True, False):
        # The "submission started" mark is saved with the draft, just before the call.
        media_id = p.ensure_draft(snap, worker, pub if again else None, then_submit=True)
        try:
            res = p.client.freepublish.submit(media_id)
        except WeChatClientException as exc:
            if exc.errcode is None:
                raise from_wechat(exc, SUBMIT) from exc  # an HTTP-level error: the reply is lost
            # WeChat answered: it did not take the draft (45011, -1, 53503 …): a clear "no".
            gone = exc.errcode == 40007  # the draft left the box (published before, or deleted)
            p.publishing.record_submit_refused(pid, h, draft_gone=gone)
            if gone and again:
                continue
            raise from_wechat(exc, SUBMIT) from exc
        except requests.RequestException as exc:
            if never_sent(exc):
                p.publishing.record_submit_refused(pid, h)
            raise from_network(exc, SUBMIT) from exc
        publish_id = str(res["publish_id"])
        p.publishing.record_publish_id(pid, h, publish_id)
        return publish_id
    raise AssertionError("unreachable")  # pragma: no cover


def follow(p: Publisher, snap: Snapshot, worker: str, publish_id: str) -> Published:
    """Poll freepublish/get until WeChat says how the submission ended."""
    pid, h = snap.post_id, snap.revision_hash

    def check() -> Published | None:
        res = p.call(POLL, p.client.freepublish.get, publish_id)
        status = int(res.get("publish_status", 1))
        if status == 1:
            return None
        if status == 0:
            items = res.get("article_detail", {}).get("item") or []
            url = items[0]["article_url"] if items else None
            article_id = str(res.get("article_id") or "") or None
            # Saved with PUBLISHED in one transaction (a job dying before it polls again).
            return Published(url, article_id, {"publish_id": publish_id}, wechat_status="0")
        p.publishing.record_wechat_status(pid, h, str(status))
        fail_idx = res.get("fail_idx")
        if status in GONE_STATUS:
            # Published, then gone: whether to publish it again is a person's matter.
            raise Unconfirmed(reported.publish_gone(publish_id, status))
        if status not in reported.FAILED_STATUS:  # undocumented: nothing says it did not publish
            raise Unconfirmed(reported.publish_unclear(publish_id, status))
        raise PublishError(reported.publish_failed(publish_id, status, fail_idx), permanent=True)

    return p.poll(snap, worker, check, Text("发布仍在进行中，稍后再查询",
                                            "still publishing; will check again"))


def _unknown(p: Publisher, snap: Snapshot, started: datetime) -> Published:
    try:
        found = _find_published(p, snap, started)
    except PublishError as err:
        if not err.permanent:
            raise
        # 48001 and its kind: this account cannot list what it published.
        raise Unconfirmed(Text(f"提交的回复丢失，且无法查询已发布文章（{err.text.zh}）。"
                               f"{CHECK_BACKEND.zh}",
                               f"The submission's reply was lost and the published articles "
                               f"cannot be listed ({err.text.en}). {CHECK_BACKEND.en}")) from None
    if found is not None:
        return found
    waited = (p.publishing.deps.now() - started).total_seconds()
    if waited < p.poll_seconds:
        # It may still be publishing: look again later rather than risk a second article.
        raise PublishError(Text("此前提交的回复丢失，结果尚不确定，稍后再核对（请勿手工重复发布）",
                                "an earlier submission's reply was lost; its outcome is not known "
                                "yet; will check again (do not publish it by hand)"),
                           permanent=False)
    # A draft still in the box may be one still publishing or one whose publishing failed: only
    # a person can tell, and a second submission could put two articles online.
    raise Unconfirmed(Text(f"已提交微信，但回复丢失，已发布文章中也未找到。{CHECK_BACKEND.zh}",
                           f"Submitted to WeChat, but the reply was lost and the article is not "
                           f"among the published ones. {CHECK_BACKEND.en}"))


def _find_published(p: Publisher, snap: Snapshot, since: datetime) -> Published | None:
    """An article published since `since` with this revision's title and author, if any.

    The platform rewrites article HTML, so the content cannot be compared byte for byte.
    """
    res = p.call(FIND, p.client.freepublish.batchget, 0, 20, 1)
    for item in res.get("item", []):
        if int(item.get("update_time") or 0) < since.timestamp() - 60:
            continue
        for news in item.get("content", {}).get("news_item", []):
            if news.get("title") == snap.title and news.get("author", "") == snap.author:
                url = news.get("url")
                p.publishing.record_article(snap.post_id, snap.revision_hash,
                                            item.get("article_id"), url)
                return Published(url, item.get("article_id"), {"recovered": True})
    return None


def note_for(pub: PublicationIds) -> Text | None:
    """The "already submitted" note for a failure, or None when WeChat holds nothing to follow."""
    if pub.publish_id and pub.wechat_status not in ("2", "3", "4"):
        return held(pub.publish_id)
    return None
