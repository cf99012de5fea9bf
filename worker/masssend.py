"""Mass sending (群发): one clientmsgid per attempt, reused by every retry, so WeChat's own
de-duplication (45065, with the first send's msg_id) stops a second send. A new clientmsgid only
after WeChat confirmed the send failed (mass/get SEND_FAIL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from wechatpy.exceptions import WeChatClientException

from approvals.rules import reported
from approvals.rules.errors import Text
from approvals.views import PublicationIds, Snapshot
from worker.errors import LostClaim, PublishError, Unconfirmed, from_network, from_wechat
from worker.outcome import Published

if TYPE_CHECKING:
    from worker.publisher import Publisher

MASS_SEND = Text("群发", "mass sending")
MASS_GET = Text("查询群发结果", "checking the mass send")


def clientmsgid(post_id: int, revision_hash: str, attempt: int = 0) -> str:
    """The mass-send de-dup key: ASCII, at most 32 characters, one per post, revision and attempt."""
    return f"so{post_id}-{attempt}-{revision_hash[:16]}"[:32]


def send(p: Publisher, snap: Snapshot, worker: str, pub: PublicationIds) -> Published:
    """Send the revision to every follower once, then follow the send's msg_id."""
    pid, h = snap.post_id, snap.revision_hash
    msg_id = pub.msg_id
    if msg_id is None:
        if pub.clientmsgid and pub.draft_media_id and not p.draft_exists(pub.draft_media_id):
            # A send with our clientmsgid went out (it used the draft up) before the msg_id
            # was saved: send again from a fresh draft with the same clientmsgid, and WeChat
            # answers 45065 with the first send's msg_id instead of sending twice.
            p.publishing.record_draft(pid, h, None, None)
            pub = p.publishing.publication(pid, h)
        media_id = p.ensure_draft(snap, worker, pub)
        cid = pub.clientmsgid or clientmsgid(pid, h, pub.attempt)
        # Saved before the send and reused after; the claim is re-asserted with it, so a
        # publication cancelled a moment ago is never sent.
        p.keep(snap, worker)
        if not p.publishing.record_clientmsgid(pid, h, cid, claimed_by=worker):
            raise LostClaim
        try:
            res = p.client.message.send_mass_article(media_id, is_to_all=True, client_msg_id=cid)
        except WeChatClientException as exc:
            if exc.errcode == 40007:
                # The draft left the box after the check above (a send of ours used it up, or
                # someone deleted it): the retry makes a fresh one and sends under the same
                # clientmsgid, which WeChat answers 45065 if that earlier send was ours.
                p.publishing.record_draft(pid, h, None, None)
                failed = from_wechat(exc, MASS_SEND)
                raise PublishError(failed.text, permanent=False, errcode=40007) from exc
            if exc.errcode != 45065:
                raise from_wechat(exc, MASS_SEND) from exc
            # The same clientmsgid was sent already: that send is ours; follow it.
            res = exc.response.json() if exc.response is not None else {}
        except requests.RequestException as exc:
            raise from_network(exc, MASS_SEND) from exc  # a retry resends under the same id
        msg_id = str(res["msg_id"])
        p.publishing.record_msg_id(pid, h, msg_id)
    return follow(p, snap, worker, msg_id)


def follow(p: Publisher, snap: Snapshot, worker: str, msg_id: str) -> Published:
    """Poll mass/get until WeChat says how the send ended."""
    pid, h = snap.post_id, snap.revision_hash

    def check() -> Published | None:
        status = p.call(MASS_GET, p.client.message.get_mass, msg_id).get("msg_status")
        if status in (None, "SENDING"):
            return None
        if status == "SEND_SUCCESS":
            return Published(None, None, {"msg_id": msg_id, "mode": "mass_send"},
                             wechat_status=status)
        p.publishing.record_wechat_status(pid, h, str(status)[:16])
        if status == reported.SEND_FAIL:
            raise PublishError(reported.mass_failed(msg_id), permanent=True)
        if status == "DELETE":  # sent, then deleted. Sending it again is a person's decision.
            raise Unconfirmed(reported.mass_deleted(msg_id, str(status)))
        raise Unconfirmed(reported.mass_unclear(msg_id, str(status)))  # undocumented: the same

    return p.poll(snap, worker, check, Text("群发仍在进行中，稍后再查询",
                                            "still sending; will check again"))


def note_for(pub: PublicationIds) -> Text | None:
    """The "already sent" note for a failure, or None when WeChat holds nothing to follow."""
    if pub.msg_id and pub.wechat_status != "SEND_FAIL":
        return Text(f"（已群发，msg_id {pub.msg_id}；重新发布将核查这次群发，不会再次发送）",
                    f" (already sent to WeChat, msg_id {pub.msg_id}; retry will check it, not "
                    "send again)")
    if pub.clientmsgid and not pub.msg_id:
        return Text(f"（重新发布将沿用 clientmsgid {pub.clientmsgid}，微信不会重复群发）",
                    f" (retry reuses clientmsgid {pub.clientmsgid}, so WeChat will not send "
                    "twice)")
    return None
