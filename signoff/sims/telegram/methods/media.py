"""sendDocument, sendPhoto and getFile: multipart uploads kept byte for byte, and read back by path."""

from __future__ import annotations

import io
import mimetypes
from typing import Any

from ..bots import BotState
from ..dispatch import method
from ..errors import (
    CAPTION_TOO_LONG,
    FILE_EMPTY,
    FILE_TOO_BIG,
    IMAGE_PROCESS_FAILED,
    INVALID_FILE_ID,
    TOO_LARGE,
    WRONG_FILE,
    BotApiError,
)
from ..models import StoredFile
from ..params import Params, Upload
from ..state import SimState
from .messages import content, post

MB = 1024 * 1024
CAPTION_MAX = 1024  # UTF-16 code units
UPLOAD_MAX = {"document": 50 * MB, "photo": 10 * MB}  # what a bot may send
DOWNLOAD_MAX = 20 * MB  # what getFile lets a bot download


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image.

    Raises:
        BotApiError: 400 IMAGE_PROCESS_FAILED when the bytes are not an image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        raise BotApiError.of(IMAGE_PROCESS_FAILED) from None


def _file(bot: BotState, params: Params, kind: str) -> StoredFile:
    """The file a send call carries: a fresh upload, or one the bot already has by file_id."""
    sent = params.input_file(kind)
    if sent is None:
        raise BotApiError.bad_request(f"there is no {kind} in the request")
    if isinstance(sent, str):
        known = bot.files.get(sent)
        if known is None:
            raise BotApiError.of(WRONG_FILE)
        if known.kind != kind:
            raise BotApiError.bad_request(f"can't use file of type {known.kind.title()} as {kind.title()}")
        return known
    return _upload(bot, sent, kind)


def _upload(bot: BotState, upload: Upload, kind: str) -> StoredFile:
    if not upload.data:
        raise BotApiError.of(FILE_EMPTY)
    if len(upload.data) > UPLOAD_MAX[kind]:
        raise BotApiError.of(TOO_LARGE)
    if kind == "photo":
        width, height = image_size(upload.data)
        return bot.store_file("photo", upload.data, file_name=None, mime_type=None, width=width, height=height)
    guessed = mimetypes.guess_type(upload.filename or "")[0]
    mime = guessed or (upload.content_type if upload.content_type != "application/octet-stream" else None)
    return bot.store_file("document", upload.data, file_name=upload.filename, mime_type=mime or
                          "application/octet-stream")


def _send(state: SimState, bot: BotState, params: Params, kind: str) -> dict[str, Any]:
    chat = bot.writable_chat(params.text("chat_id", required=True), state.users)
    caption = content(params, "caption", limit=CAPTION_MAX, too_long=CAPTION_TOO_LONG, required=False)
    stored = _file(bot, params, kind)
    return post(bot, chat, params, caption, is_caption=True, **{kind: stored})


@method("sendDocument")
def send_document(state: SimState, bot: BotState, params: Params) -> dict[str, Any]:
    """Send a file as a document (multipart upload via attach://, or a known file_id).

    Raises:
        BotApiError: 400 for no or an empty file, a wrong file id, a long caption; 413 over 50 MB;
            403 blocked or never started.
    """
    return _send(state, bot, params, "document")


@method("sendPhoto")
def send_photo(state: SimState, bot: BotState, params: Params) -> dict[str, Any]:
    """Send a photo (kept as uploaded: the simulator makes no smaller sizes).

    Raises:
        BotApiError: 400 as sendDocument, and IMAGE_PROCESS_FAILED for bytes that are no image.
    """
    return _send(state, bot, params, "photo")


@method("getFile")
def get_file(state: SimState, bot: BotState, params: Params) -> dict[str, Any]:
    """The File object with the path to download it from (`GET /file/bot<token>/<file_path>`).

    Raises:
        BotApiError: 400 invalid file_id, or file is too big (over 20 MB).
    """
    stored = bot.files.get(params.text("file_id", required=True) or "")
    if stored is None:
        raise BotApiError.of(INVALID_FILE_ID)
    if stored.size > DOWNLOAD_MAX:
        raise BotApiError.of(FILE_TOO_BIG)
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.size,
            "file_path": bot.file_path(stored)}
