"""Publishing (freepublish, facts §4) and mass sending (facts §5): jobs that finish later and push an event."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from .api import page
from .dispatch import Call, int_arg, ok, route
from .errors import ApiError
from .events import mass_event_xml, publish_event_xml
from .models import MassSend, Publication
from .state import SimState
from .tokens import beijing_day

CLIENTMSGID_MAX_BYTES = 64  # the old doc and wechatpy; a newer list says 32 (facts §5.3)
DEDUP_WINDOW_SECONDS = 24 * 3600

# ---------------------------------------------------------------------------------------------- completion


def finish_publication(state: SimState, pub: Publication, now: float) -> None:
    """Move a publish job to its final status, take the draft out of the box, and push the event."""
    if pub.status != 1:
        return
    pub.status = pub.outcome
    if pub.outcome in (0, 5, 6):
        pub.article_id = state.opaque(32)
        pub.article_urls = [f"https://mp.weixin.qq.com/s/{state.opaque(16)}" for _ in pub.articles]
        # 5 and 6: it went online, then the user deleted it or the platform banned it
        pub.deleted = [pub.outcome != 0] * len(pub.articles)
        pub.published_at = now
        state.articles[pub.article_id] = pub.publish_id
        state.drafts.pop(pub.draft_media_id, None)  # a published draft leaves the draft box
    xml = publish_event_xml(gh_id=state.config.gh_id, event=state.config.publish_event, publish_id=pub.publish_id,
                            status=pub.status, article_id=pub.article_id, article_urls=pub.article_urls,
                            fail_idx=pub.fail_idx if pub.status else [], create_time=int(now))
    state.push_event(xml, event=state.config.publish_event, ref=pub.publish_id)


def finish_mass_send(state: SimState, send: MassSend, now: float) -> None:
    """Mark a mass send delivered, take its draft out of the box, and push MASSSENDJOBFINISH."""
    if send.status != "SENDING":
        return
    send.status = send.outcome
    send.finished_at = now
    if send.outcome == "SEND_FAIL":  # nothing went out; the draft stays in the box
        xml = mass_event_xml(gh_id=state.config.gh_id, msg_id=send.msg_id, status="send fail",
                             total=send.total, sent=0, errors=send.total, article_urls=[],
                             create_time=int(now))
        state.push_event(xml, event="MASSSENDJOBFINISH", ref=str(send.msg_id))
        return
    send.article_urls = [
        f"http://mp.weixin.qq.com/s?__biz={state.biz}&mid={send.msg_data_id}&idx={i}&sn={state.rng.getrandbits(128):032x}#rd"
        for i in range(1, len(send.articles) + 1)
    ]
    if send.media_id:
        state.drafts.pop(send.media_id, None)  # a mass-sent draft leaves the draft box
    xml = mass_event_xml(gh_id=state.config.gh_id, msg_id=send.msg_id, status="send success", total=send.total,
                         sent=send.total, errors=0, article_urls=send.article_urls, create_time=int(now))
    state.push_event(xml, event="MASSSENDJOBFINISH", ref=str(send.msg_id))


def settle(state: SimState, now: float) -> None:
    """Finish every job that is due; the timer normally got there first, this covers a late timer."""
    for pub in state.publications.values():
        if pub.status == 1 and pub.due_at <= now:
            finish_publication(state, pub, now)
    for send in state.mass_sends.values():
        if send.status == "SENDING" and send.due_at <= now:
            finish_mass_send(state, send, now)


def _when_due(state: SimState, delay: float) -> None:
    state.after(delay, lambda: settle(state, time.time()))


# ---------------------------------------------------------------------------------------------- freepublish


@route("freepublish/submit")
def submit(state: SimState, call: Call) -> dict[str, Any]:
    """Start publishing a draft; the job reports status 1 until the publish delay has passed."""
    draft = state.drafts.get(str(call.json().get("media_id", "")))
    if draft is None:
        raise ApiError(40007)
    delay = state.config.publish_delay_seconds
    publish_id = str(state.next_serial())
    pub = Publication(publish_id, draft.media_id, [dict(a) for a in draft.articles], call.now, call.now + delay)
    outcome = state.faults.fire("freepublish/submit", "publish_outcome")
    if outcome is not None:
        pub.outcome, pub.fail_idx = outcome.params["status"], list(outcome.params["fail_idx"])
    state.publications[publish_id] = pub
    _when_due(state, delay)
    return ok(publish_id=publish_id, msg_data_id=str(state.next_serial()))


@route("freepublish/get")
def publish_status(state: SimState, call: Call) -> dict[str, Any]:
    """Poll a publish job (publish_id accepted as a string or a number)."""
    settle(state, call.now)
    pub = state.publications.get(str(call.json().get("publish_id", "")))
    if pub is None:
        raise ApiError(53502)
    doc: dict[str, Any] = {"publish_id": pub.publish_id, "publish_status": pub.status}
    if pub.status == 0:
        doc["article_id"] = pub.article_id
        doc["article_detail"] = {"count": len(pub.article_urls),
                                 "item": [{"idx": i, "article_url": url}
                                          for i, url in enumerate(pub.article_urls, start=1)]}
    doc["fail_idx"] = pub.fail_idx if pub.status in (2, 3, 4) else []
    return doc  # 5 and 6 carry no article_id: the article is gone


def _published(state: SimState, article_id: Any) -> Publication:
    publish_id = state.articles.get(str(article_id or ""))
    if publish_id is None:
        raise ApiError(53600)
    return state.publications[publish_id]


def _article_items(pub: Publication, *, with_content: bool = True) -> list[dict[str, Any]]:
    items = []
    for article, url, deleted in zip(pub.articles, pub.article_urls, pub.deleted, strict=True):
        item = {key: article[key] for key in ("title", "author", "digest", "content", "content_source_url",
                                              "thumb_media_id", "thumb_url", "show_cover_pic",
                                              "need_open_comment", "only_fans_can_comment")}
        item.update(url=url, is_deleted=deleted)
        if not with_content:
            del item["content"]
        items.append(item)
    return items


@route("freepublish/getarticle")
def get_article(state: SimState, call: Call) -> dict[str, Any]:
    """A published article group by its article_id."""
    settle(state, call.now)
    return {"news_item": _article_items(_published(state, call.json().get("article_id")))}


@route("freepublish/batchget")
def list_published(state: SimState, call: Call) -> dict[str, Any]:
    """A page of successful publications, newest first."""
    settle(state, call.now)
    offset, count, no_content = page(call.json())
    done = sorted((p for p in state.publications.values()
                   if p.published_at is not None and p.status == 0),
                  key=lambda p: p.published_at or 0, reverse=True)
    items = [{"article_id": p.article_id, "update_time": int(p.published_at or 0),
              "content": {"news_item": _article_items(p, with_content=not no_content)}}
             for p in done[offset:offset + count]]
    return {"total_count": len(done), "item_count": len(items), "item": items}


@route("freepublish/delete")
def delete_published(state: SimState, call: Call) -> dict[str, Any]:
    """Delete one published article (index from 1) or all of them (index 0 or absent)."""
    body = call.json()
    pub = _published(state, body.get("article_id"))
    index = int_arg(body, "index", 0, errcode=40114)
    if not 0 <= index <= len(pub.articles):
        raise ApiError(40114)
    if index == 0:
        pub.deleted = [True] * len(pub.articles)
    else:
        pub.deleted[index - 1] = True
    if all(pub.deleted):
        pub.status = 5  # "after success, the user deleted all articles"
    return ok()


# ---------------------------------------------------------------------------------------------- mass sending


def _message(state: SimState, body: dict[str, Any]) -> tuple[str, str | None, list[dict[str, Any]], str]:
    """msgtype, draft media_id, articles and a content fingerprint of a mass or preview body."""
    msgtype = body.get("msgtype")
    if msgtype == "mpnews":
        mpnews = body.get("mpnews")
        media_id = str(mpnews.get("media_id", "")) if isinstance(mpnews, dict) else ""
        draft = state.drafts.get(media_id)
        if draft is None:
            raise ApiError(40007)  # mpnews media_id must come from draft/add
        return msgtype, media_id, [dict(a) for a in draft.articles], media_id
    if msgtype == "text":
        text = body.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content:
            raise ApiError(44003)
        return msgtype, None, [], content
    raise ApiError(40008)


@route("message/mass/preview")
def preview(state: SimState, call: Call) -> dict[str, Any]:
    """Send a preview to one follower by openid or WeChat ID (towxname wins when both are given)."""
    body = call.json()
    msgtype, media_id, _, _ = _message(state, body)
    towxname, touser = body.get("towxname"), body.get("touser")
    if not (towxname or touser):
        raise ApiError(40003)
    msg_id = state.next_msg_id()
    to = {"towxname": towxname} if towxname else {"touser": touser}
    state.previews.append({"msg_id": msg_id, "msgtype": msgtype, "media_id": media_id, **to, "at": call.now})
    return {"errcode": 0, "errmsg": "preview success", "msg_id": msg_id}


@route("message/mass/sendall")
def send_all(state: SimState, call: Call) -> dict[str, Any]:
    """Mass-send to everyone or to a tag, with clientmsgid de-duplication and the daily quota."""
    body = call.json()
    audience = body.get("filter")
    if not isinstance(audience, dict):
        raise ApiError(47001)
    is_to_all = bool(audience.get("is_to_all", False))
    tag_id = audience.get("tag_id")
    if not is_to_all and (not isinstance(tag_id, int) or isinstance(tag_id, bool) or tag_id < 0):
        raise ApiError(40152)
    msgtype, media_id, articles, fingerprint = _message(state, body)
    clientmsgid = body.get("clientmsgid")
    if clientmsgid is not None and len(str(clientmsgid).encode()) > CLIENTMSGID_MAX_BYTES:
        raise ApiError(45067)
    # without a clientmsgid the platform de-duplicates on audience plus content
    key = str(clientmsgid) if clientmsgid is not None else hashlib.sha1(
        json.dumps([is_to_all, None if is_to_all else tag_id, msgtype, fingerprint]).encode()).hexdigest()
    for earlier in state.mass_sends.values():
        if earlier.dedup_key == key and earlier.created_at > call.now - DEDUP_WINDOW_SECONDS:
            raise ApiError(45065, msg_id=earlier.msg_id)
    today = beijing_day(call.now)
    # a send that failed used no quota
    used = sum(1 for s in state.mass_sends.values()
               if s.is_to_all and s.status != "SEND_FAIL" and beijing_day(s.created_at) == today)
    if is_to_all and used >= state.config.mass_daily_quota:
        raise ApiError(45028)
    delay = state.config.mass_send_delay_seconds
    total = state.config.follower_count if is_to_all else state.config.follower_count // 10
    send = MassSend(state.next_msg_id(), state.next_serial(), msgtype, media_id, articles, is_to_all,
                    None if is_to_all else tag_id, None if clientmsgid is None else str(clientmsgid), key,
                    call.now, call.now + delay, total)
    outcome = state.faults.fire("message/mass/sendall", "mass_outcome")
    if outcome is not None:
        send.outcome = outcome.params["status"]
    state.mass_sends[send.msg_id] = send
    _when_due(state, delay)
    doc: dict[str, Any] = {"errcode": 0, "errmsg": "send job submission success", "msg_id": send.msg_id}
    if msgtype == "mpnews":
        doc["msg_data_id"] = send.msg_data_id
    return doc


@route("message/mass/get")
def mass_status(state: SimState, call: Call) -> dict[str, Any]:
    """The status of a mass send (msg_id accepted as a number or a numeric string)."""
    settle(state, call.now)
    raw = call.json().get("msg_id")
    try:
        send = state.mass_sends.get(int(raw)) if not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        send = None
    if send is None:
        raise ApiError(40059)
    return {"msg_id": send.msg_id, "msg_status": send.status}
