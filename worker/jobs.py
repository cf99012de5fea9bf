"""RQ jobs. Each takes ids and loads fresh state: it never trusts its arguments."""

from __future__ import annotations

import os
import socket

import requests
from rq import get_current_job
from wechatpy.exceptions import WeChatClientException

from approvals.rules.errors import Text
from approvals.rules.states import IntentState
from worker.context import context
from worker.errors import PublishError, from_network, from_wechat
from worker.publisher import DRAFT_GET

DRAFT_DELETE = Text("删除草稿", "deleting the draft")


def worker_name() -> str:
    """Who holds a claim: host, process and job."""
    job = get_current_job()
    return f"{socket.gethostname()}:{os.getpid()}:{job.id if job else 'direct'}"


def publish_post(post_id: int, intent_id: int | None = None) -> str:
    """Publish a signed post (claim, re-check every gate, upload, draft, submit, record)."""
    job = get_current_job()
    # The last attempt marks the post failed instead of raising for another retry.
    final = job is None or not job.retries_left
    return context().publisher().publish(post_id, worker_name(), intent_id=intent_id,
                                         final_attempt=final)


def prepare_preview(post_id: int, revision_hash: str) -> str:
    """Create the WeChat draft of a new revision and keep its temporary preview link."""
    ctx = context()
    publishing = ctx.core.publishing
    snap = publishing.preview_snapshot(post_id, revision_hash)
    if snap is None:
        publishing.finish_preview(post_id, revision_hash)
        return "skipped (no longer a revision under review)"
    publisher = ctx.publisher()
    try:
        media_id = publisher.ensure_draft(snap)
        draft = publisher.call(DRAFT_GET, ctx.client.draft.get, media_id)
    except PublishError as err:
        publishing.record_error(post_id, revision_hash, err.text.en)
        if err.permanent:  # e.g. an image WeChat refuses: retrying only burns quota
            publishing.finish_preview(post_id, revision_hash, IntentState.CANCELLED)
            return f"failed ({err.text.en})"
        raise
    items = draft.get("news_item") or [{}]
    url = items[0].get("url")
    publishing.record_preview_url(post_id, revision_hash, url)
    publishing.finish_preview(post_id, revision_hash)
    return url or ""


def delete_draft(post_id: int, revision_hash: str, media_id: str) -> str:
    """Delete a draft that will never be used, so the account's draft box does not fill up."""
    ctx = context()
    publishing = ctx.core.publishing
    if not publishing.is_obsolete(post_id, revision_hash, media_id):
        return "skipped (the draft is in use or gone)"
    try:
        ctx.client.draft.delete(media_id)
    except WeChatClientException as exc:
        if exc.errcode != 40007:  # 40007: already gone (deleting twice is harmless too)
            raise from_wechat(exc, DRAFT_DELETE) from None
    except requests.RequestException as exc:
        raise from_network(exc, DRAFT_DELETE) from None
    publishing.forget_draft(post_id, revision_hash, media_id)
    return "deleted"


def deliver_notifications(notification_ids: list[int]) -> list[str]:
    """Deliver chain notifications through their channel (each at least once, each recorded)."""
    ctx = context()
    return ctx.core.notifications.deliver_all(notification_ids, ctx.channels)


def ping() -> str:
    """Does nothing, in the worker process like every signoff job: a liveness probe, and the
    benchmark's in-process baseline."""
    return "pong"


def reconcile() -> dict[str, int]:
    """Put due outbox items on the queue and re-enqueue anything Redis lost."""
    return context().dispatcher().reconcile().as_dict()


__all__ = ["delete_draft", "deliver_notifications", "ping", "prepare_preview", "publish_post", "reconcile"]
