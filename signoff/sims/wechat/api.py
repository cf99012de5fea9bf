"""Endpoints for tokens, images and the draft box (facts file §1–§3)."""

from __future__ import annotations

import hashlib
from typing import Any

from werkzeug.datastructures import FileStorage

from .content import ARTICLES_MAX, IMAGE_HOST, normalize_article, reject_unicode_escapes
from .dispatch import Call, int_arg, ok, route
from .errors import ApiError
from .models import Draft, Media
from .state import SimState

KB = 1024
MB = 1024 * KB
STABLE_REFRESH_MIN_GAP_SECONDS = 30
STABLE_FORCED_DAILY_MAX = 20
STABLE_RENEW_BEFORE_SECONDS = 300  # the platform renews a stable token 5 minutes before it expires

# ---------------------------------------------------------------------------------------------- tokens


def _check_credentials(state: SimState, grant_type: Any, appid: Any, secret: Any) -> None:
    if grant_type != "client_credential":
        raise ApiError(40002)
    if not appid:
        raise ApiError(41002)
    if appid != state.config.appid:
        raise ApiError(40013)
    if not secret:
        raise ApiError(41004)
    if secret != state.config.secret:
        raise ApiError(40125)


@route("token", "GET", needs_token=False)
def get_token(state: SimState, call: Call) -> dict[str, Any]:
    """Issue a new access token; the previous one lives on for the grace period."""
    _check_credentials(state, call.args.get("grant_type"), call.args.get("appid"), call.args.get("secret"))
    if state.tokens.issued_today(call.now) >= state.config.token_daily_quota:
        raise ApiError(45009)
    token = state.tokens.issue("token", call.now, state.config.token_expires_in)
    return {"access_token": token.value, "expires_in": state.config.token_expires_in}


@route("stable_token", "POST", needs_token=False)
def stable_token(state: SimState, call: Call) -> dict[str, Any]:
    """Hand out the stable token, a lineage separate from cgi-bin/token's."""
    body = call.json()
    _check_credentials(state, body.get("grant_type"), body.get("appid"), body.get("secret"))
    book, cfg = state.tokens, state.config
    if body.get("force_refresh") in (True, 1, "true"):
        forced = [t for t in book.forced_refreshes if t > call.now - 86400]
        if forced and call.now - forced[-1] < STABLE_REFRESH_MIN_GAP_SECONDS:
            raise ApiError(45011)
        if len(forced) >= STABLE_FORCED_DAILY_MAX:
            raise ApiError(45009)
        book.forced_refreshes = [*forced, call.now]
        token = book.issue("stable", call.now, cfg.token_expires_in)
    else:
        token = book.live_stable(call.now)
        if token is None or token.expires_at - call.now < STABLE_RENEW_BEFORE_SECONDS:
            token = book.issue("stable", call.now, cfg.token_expires_in)
    return {"access_token": token.value, "expires_in": max(1, int(token.expires_at - call.now))}


# ---------------------------------------------------------------------------------------------- media

_EXTENSIONS = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "bmp": "bmp"}
_URL_FORMAT = {"jpeg": "jpg", "png": "png", "gif": "gif", "bmp": "bmp"}


def sniff(data: bytes) -> str | None:
    """The image format by its magic bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    return None


def _read_upload(call: Call, allowed: set[str], max_bytes: int, size_errcode: int) -> tuple[FileStorage, bytes, str]:
    upload = call.files.get("media")
    if upload is None:
        raise ApiError(41005)
    data = upload.read()
    if not data:
        raise ApiError(44001)
    filename = upload.filename or ""
    # the real server goes by the multipart filename's extension (wechatpy issue #414) and by the bytes
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    declared, actual = _EXTENSIONS.get(extension), sniff(data)
    if declared not in allowed or actual not in allowed:
        raise ApiError(40005)
    if len(data) > max_bytes:
        raise ApiError(size_errcode)
    return upload, data, actual


def _store(state: SimState, call: Call, kind: str, upload: FileStorage, data: bytes, url: str,
           media_id: str | None) -> Media:
    media = Media(kind=kind, url=url, filename=upload.filename or "", size=len(data),
                  sha256=hashlib.sha256(data).hexdigest(), created_at=call.now, media_id=media_id)
    state.media[media_id or url] = media
    return media


@route("media/uploadimg")
def upload_image(state: SimState, call: Call) -> dict[str, Any]:
    """Store an article-body image (jpg/png under 1 MB) and return its mmbiz URL."""
    upload, data, fmt = _read_upload(call, {"jpeg", "png"}, 1 * MB, 40009)
    url = f"http://{IMAGE_HOST}/sz_mmbiz_{_URL_FORMAT[fmt]}/{state.opaque(60)}/0"
    _store(state, call, "uploadimg", upload, data, url, None)
    return {"url": url, "errcode": 0, "errmsg": "ok"}


# type -> (formats, size limit, errcode when too big)
_MATERIAL_TYPES: dict[str, tuple[set[str], int, int]] = {
    "image": ({"jpeg", "png", "gif", "bmp"}, 10 * MB, 40009),
    "thumb": ({"jpeg"}, 64 * KB, 40012),
}


def _read_typed_upload(call: Call) -> tuple[str, Any, bytes, str]:
    """The ?type= of an upload and its file, checked against that type's formats and size."""
    media_type = call.args.get("type", "")
    if media_type not in _MATERIAL_TYPES:
        raise ApiError(40004)
    formats, limit, errcode = _MATERIAL_TYPES[media_type]
    return (media_type, *_read_upload(call, formats, limit, errcode))


@route("material/add_material")
def add_material(state: SimState, call: Call) -> dict[str, Any]:
    """Store a permanent image or thumb material; only these may be draft covers."""
    media_type, upload, data, fmt = _read_typed_upload(call)
    media_id = state.opaque(32)
    url = f"http://{IMAGE_HOST}/sz_mmbiz_{_URL_FORMAT[fmt]}/{state.opaque(60)}/0?wx_fmt={fmt}"
    _store(state, call, media_type, upload, data, url, media_id)
    # the doc returns url for images only
    return {"media_id": media_id, "url": url} if media_type == "image" else {"media_id": media_id}


@route("media/upload")
def upload_temporary(state: SimState, call: Call) -> dict[str, Any]:
    """Store a temporary image; its media_id is refused as a draft cover (40007), as on the platform."""
    media_type, upload, data, fmt = _read_typed_upload(call)
    media_id = state.opaque(48)
    url = f"http://{IMAGE_HOST}/sz_mmbiz_{_URL_FORMAT[fmt]}/{state.opaque(60)}/0"
    _store(state, call, "temporary", upload, data, url, media_id)
    return {"type": media_type, "media_id": media_id, "created_at": int(call.now)}


# ---------------------------------------------------------------------------------------------- drafts


def _draft(state: SimState, body: dict[str, Any]) -> Draft:
    draft = state.drafts.get(str(body.get("media_id", "")))
    if draft is None:
        raise ApiError(40007)
    return draft


def news_items(state: SimState, draft: Draft, *, with_content: bool = True) -> list[dict[str, Any]]:
    """The draft's articles as draft/get shows them, each with its temporary link."""
    items = []
    for index, article in enumerate(draft.articles):
        item = {**article, "url": state.temp_url(draft, index)}
        if not with_content:
            del item["content"]
        items.append(item)
    return items


@route("draft/add")
def add_draft(state: SimState, call: Call) -> dict[str, Any]:
    """Validate and store a draft of one to eight articles."""
    reject_unicode_escapes(call.raw)
    articles = call.json().get("articles")
    if not isinstance(articles, list) or not articles:
        raise ApiError(44003)
    if len(articles) > ARTICLES_MAX:
        raise ApiError(45008)
    stored = [normalize_article(a, single=len(articles) == 1, resolve_thumb=state.permanent_media_url)
              for a in articles]
    media_id = state.opaque(48)
    state.drafts[media_id] = Draft(media_id, stored, int(call.now), int(call.now), state.opaque(24))
    return {"media_id": media_id}


@route("draft/get")
def get_draft(state: SimState, call: Call) -> dict[str, Any]:
    """Return a draft's articles with their temporary preview links."""
    return {"news_item": news_items(state, _draft(state, call.json()))}


@route("draft/update")
def update_draft(state: SimState, call: Call) -> dict[str, Any]:
    """Replace one article of a draft (`articles` is a single object here, not a list)."""
    reject_unicode_escapes(call.raw)
    body = call.json()
    draft = _draft(state, body)
    index = int_arg(body, "index", -1, errcode=40114)
    if not 0 <= index < len(draft.articles):
        raise ApiError(40114)
    draft.articles[index] = normalize_article(body.get("articles"), single=len(draft.articles) == 1,
                                              resolve_thumb=state.permanent_media_url)
    draft.update_time = int(call.now)
    return ok()


@route("draft/delete")
def delete_draft(state: SimState, call: Call) -> dict[str, Any]:
    """Delete a draft; deleting an unknown or already-deleted one also answers 0, as the old doc says."""
    state.drafts.pop(str(call.json().get("media_id", "")), None)
    return ok()


@route("draft/count", "GET")
def count_drafts(state: SimState, call: Call) -> dict[str, Any]:
    """How many drafts the draft box holds."""
    return {"total_count": len(state.drafts)}


def page(body: dict[str, Any]) -> tuple[int, int, bool]:
    """offset, count (1..20) and no_content of a batchget body.

    Raises:
        ApiError: 40002 when offset or count is out of range.
    """
    offset, count = int_arg(body, "offset", 0), int_arg(body, "count", 20)
    if offset < 0 or not 1 <= count <= 20:
        raise ApiError(40002, "invalid args")
    return offset, count, int_arg(body, "no_content", 0) == 1


@route("draft/batchget")
def list_drafts(state: SimState, call: Call) -> dict[str, Any]:
    """A page of drafts, most recently updated first."""
    offset, count, no_content = page(call.json())
    # newest first; among drafts touched in the same second, the later-added one first
    ranked = sorted(enumerate(state.drafts.values()), key=lambda p: (p[1].update_time, p[0]), reverse=True)
    ordered = [draft for _, draft in ranked]
    items = [
        {"media_id": d.media_id, "update_time": d.update_time,
         "content": {"news_item": news_items(state, d, with_content=not no_content),
                     "create_time": d.create_time, "update_time": d.update_time}}
        for d in ordered[offset:offset + count]
    ]
    return {"total_count": len(ordered), "item_count": len(items), "item": items}
