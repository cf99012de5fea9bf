"""Article rules of draft/add and draft/update: field limits, script and external-image stripping.

Pure functions; the limits are the ones in the current draft/add doc (facts file §3.1 and §6).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError

IMAGE_HOST = "mmbiz.qpic.cn"
TITLE_MAX_CHARS = 32
AUTHOR_MAX_CHARS = 16
DIGEST_MAX_CHARS = 128
CONTENT_MAX_CHARS = 20_000  # "must be < 20,000 characters and < 1 MB"
CONTENT_MAX_BYTES = 1024 * 1024
SOURCE_URL_MAX_BYTES = 1024
AUTO_DIGEST_CHARS = 54
ARTICLES_MAX = 8  # third-party write-ups; not documented (facts §3.1)
NEWSPIC_IMAGES_MAX = 20

_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.S)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.I | re.S)
_SCRIPT_TAG = re.compile(r"</?script\b[^>]*>", re.I)
_IMG = re.compile(r"<img\b[^>]*>", re.I)
_SRC = re.compile(r"""\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")

# resolves a thumb/cover media_id to its URL, or None when it is not a permanent image
ResolveMedia = Callable[[str], "str | None"]


def reject_unicode_escapes(raw: bytes) -> None:
    """Refuse JSON that spells non-ASCII text as \\uXXXX escapes, as the draft API does.

    Raises:
        ApiError: 40033 invalid charset.
    """
    text = raw.decode("utf-8", "replace")
    for match in _ESCAPE.finditer(text):
        # `\\u4f5c` is an escaped backslash followed by text; the regex consumes pairs so it is not counted
        if match.group(1) and int(match.group(1), 16) >= 0x80:
            raise ApiError(40033)


def _img_src(tag: str) -> str:
    match = _SRC.search(tag)
    if not match:
        return ""
    return html.unescape(next(g for g in match.groups() if g is not None))


def is_platform_image(src: str) -> bool:
    """Whether `src` points at the platform's image host (what media/uploadimg hands out)."""
    try:
        host = urlsplit(src.strip()).hostname
    except ValueError:
        return False
    return host == IMAGE_HOST


def sanitize(content: str) -> str:
    """Strip JavaScript and external images, as the platform does to stored article HTML."""
    content = _SCRIPT.sub("", content)
    content = _SCRIPT_TAG.sub("", content)
    return _IMG.sub(lambda m: m.group(0) if is_platform_image(_img_src(m.group(0))) else "", content)


def plain_text(content: str) -> str:
    """The visible text of article HTML, whitespace collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", content))).strip()


def _text_field(raw: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = raw.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApiError(47001, f"data format error: {name} must be a string")
    if required and not value.strip():
        raise ApiError(44003)
    return value


def _flag(raw: dict[str, Any], name: str) -> int:
    value = raw.get(name, 0)
    if isinstance(value, bool):
        return int(value)
    if value in (0, 1, "0", "1"):
        return int(value)
    raise ApiError(47001, f"data format error: {name} must be 0 or 1")


def _check_source_url(url: str) -> None:
    if len(url.encode()) > SOURCE_URL_MAX_BYTES:
        raise ApiError(45005)
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise ApiError(41039)


def _newspic_images(raw: dict[str, Any], resolve_image: ResolveMedia) -> dict[str, Any]:
    info = raw.get("image_info")
    images = info.get("image_list") if isinstance(info, dict) else None
    if not isinstance(images, list) or not images or len(images) > NEWSPIC_IMAGES_MAX:
        raise ApiError(47001, "data format error: image_info.image_list must hold 1 to 20 images")
    for image in images:
        media_id = image.get("image_media_id") if isinstance(image, dict) else None
        if not isinstance(media_id, str) or resolve_image(media_id) is None:
            raise ApiError(40007)
    return {"image_list": [{"image_media_id": image["image_media_id"]} for image in images]}


def normalize_article(raw: Any, *, single: bool, resolve_thumb: ResolveMedia) -> dict[str, Any]:
    """Validate one article of draft/add or draft/update and return it as the draft box stores it.

    Raises:
        ApiError: a limit or a reference is violated (45003, 45110, 45004, 45002, 45005, 41039, 40007...).
    """
    if not isinstance(raw, dict):
        raise ApiError(47001, "data format error: an article must be an object")
    article_type = raw.get("article_type") or "news"
    if article_type not in ("news", "newspic"):
        raise ApiError(47001, "data format error: article_type must be news or newspic")
    title = _text_field(raw, "title", required=True)
    author = _text_field(raw, "author")
    digest = _text_field(raw, "digest")
    content = _text_field(raw, "content", required=True)
    source_url = _text_field(raw, "content_source_url")
    if len(title) > TITLE_MAX_CHARS:
        raise ApiError(45003)
    if len(author) > AUTHOR_MAX_CHARS:
        raise ApiError(45110)
    if len(digest) > DIGEST_MAX_CHARS:
        raise ApiError(45004)
    if len(content) >= CONTENT_MAX_CHARS or len(content.encode()) >= CONTENT_MAX_BYTES:
        raise ApiError(45002)
    _check_source_url(source_url)
    thumb_media_id = _text_field(raw, "thumb_media_id")
    thumb_url = resolve_thumb(thumb_media_id) if thumb_media_id else None
    if thumb_url is None and (article_type == "news" or thumb_media_id):
        # a cover must be a permanent material; temporary ids and unknown ids alike give 40007
        raise ApiError(40007)
    stored_content = sanitize(content)
    if not single:
        digest = ""  # multi-article drafts carry no digest
    elif not digest:
        digest = plain_text(stored_content)[:AUTO_DIGEST_CHARS]
    article: dict[str, Any] = {
        "article_type": article_type,
        "title": title,
        "author": author,
        "digest": digest,
        "content": stored_content,
        "content_source_url": source_url,
        "thumb_media_id": thumb_media_id,
        "thumb_url": thumb_url or "",
        "show_cover_pic": 0,  # no longer supported; the platform answers 0
        "need_open_comment": _flag(raw, "need_open_comment"),
        "only_fans_can_comment": _flag(raw, "only_fans_can_comment"),
    }
    for crop in ("pic_crop_235_1", "pic_crop_1_1"):
        if isinstance(raw.get(crop), str):
            article[crop] = raw[crop]
    if article_type == "newspic":
        article["image_info"] = _newspic_images(raw, resolve_thumb)
    return article
