"""A Word .docx handed in or imported at layout, turned into clean article HTML.

mammoth reads the document's structure (headings, bold and italic, lists, tables, links, images)
rather than its look, which is what an article needs; its output then goes through the one
sanitiser every body goes through (`approvals.rules.content.sanitize`), so a .docx can carry no
more than a typed body can. Embedded images are made into what WeChat's in-article upload takes
(JPG or PNG under 1 MB) and referenced as `/assets/<sha256>`, the way uploaded images are; the
caller stores them as assets.

Bad files are refused with a message that says what the file is instead (a PDF, an old .doc, a
password-protected document, a damaged zip) and what to do, never with a stack trace.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass

import mammoth
from PIL import Image

from approvals.rules.article import INLINE_MAX_BYTES, check_inline_image, image_kind
from approvals.rules.content import sanitize
from approvals.rules.errors import InvalidInput, Text

DOCX_MAX_BYTES = 20 * 1024 * 1024  # a Word file with a few photos; more is not an article
EXPANDED_MAX_BYTES = 100 * 1024 * 1024  # what its zip may unpack to (a zip bomb stops here)
# The text's own part, unpacked: some hundreds of thousands of characters with their formatting,
# far more than an article (reading 20 MB of it took a worker 17 s).
DOCUMENT_MAX_BYTES = 8 * 1024 * 1024
IMAGE_MAX_SIDE = 1080  # pixels: the width WeChat shows an in-article image at, doubled is waste
_QUALITIES = (85, 75, 60, 45)  # JPEG qualities tried, best first, until the image is under 1 MB

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: Word 97-2003, or an encrypted .docx
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")  # the stream an encrypted OOXML file holds
_ZIP = b"PK\x03\x04"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Word's own heading and quote styles as mammoth names them, the Chinese names a template may use,
# and underlining (mammoth drops it by default; WeChat keeps <u>).
_STYLE_MAP = """
p[style-name='Title'] => h1:fresh
p[style-name='Subtitle'] => h2:fresh
p[style-name='标题'] => h1:fresh
p[style-name='副标题'] => h2:fresh
p[style-name='标题 1'] => h1:fresh
p[style-name='标题 2'] => h2:fresh
p[style-name='标题 3'] => h3:fresh
p[style-name='Quote'] => blockquote > p:fresh
p[style-name='Intense Quote'] => blockquote > p:fresh
p[style-name='引用'] => blockquote > p:fresh
u => u
"""


class DocxError(InvalidInput):
    """The file is not a .docx signoff can read (its text says what it is and what to do)."""

    code = "invalid_docx"


@dataclass(frozen=True)
class DocxImage:
    """One image of the document, as WeChat's in-article upload takes it."""

    sha256: str
    filename: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class DocxResult:
    """The document as clean article HTML, its images (referenced from the HTML as
    /assets/<sha256>) and what did not come across."""

    html: str
    images: tuple[DocxImage, ...]
    warnings: tuple[Text, ...]


def docx_to_html(data: bytes, *, filename: str = "", max_bytes: int = DOCX_MAX_BYTES) -> DocxResult:
    """Clean article HTML from a Word .docx.

    Raises:
        DocxError: empty, too large, not a .docx (a PDF, an old .doc, another Office file, a
            renamed file), password-protected, damaged, or with no text at all.
    """
    name = filename or "document.docx"
    _check_container(data, name, max_bytes)
    images: dict[str, DocxImage] = {}
    warnings: list[Text] = []

    def convert_image(image: mammoth.documents.Image) -> list[object]:
        kept = _image(image, len(images) + 1, warnings)
        if kept is None:
            return []  # dropped, with a warning: WeChat would drop it on publishing anyway
        images.setdefault(kept.sha256, kept)
        attributes = {"src": f"/assets/{kept.sha256}"}
        if image.alt_text:
            attributes["alt"] = image.alt_text
        return [mammoth.html.element("img", attributes)]

    try:
        result = mammoth.convert_to_html(io.BytesIO(data), style_map=_STYLE_MAP,
                                         convert_image=convert_image)
    except Exception:  # zipfile, zlib, expat and mammoth each raise their own kinds
        raise _damaged(name) from None
    html = sanitize(_CONTROL.sub("", result.value))
    if not re.sub(r"<[^>]*>|\s|&nbsp;", "", html) and not images:
        raise DocxError(Text(f"Word 文档“{name}”中没有文字。", f"The Word document “{name}” holds no "
                             "text."))
    skipped = [m.message for m in result.messages if m.type == "warning"]
    if skipped:
        warnings.append(Text(f"文档中有 {len(skipped)} 处格式未能转换（如：{skipped[0][:120]}），请核对排版。",
                             f"{len(skipped)} piece(s) of the document's formatting did not come "
                             f"across (e.g. {skipped[0][:120]}); check the layout."))
    return DocxResult(html, tuple(images.values()), tuple(warnings))


def _check_container(data: bytes, name: str, max_bytes: int) -> None:
    """Refuse what is not a readable .docx before mammoth opens it."""
    if not data:
        raise DocxError(Text(f"文件“{name}”是空的。", f"The file “{name}” is empty."))
    if len(data) > max_bytes:
        raise DocxError(Text(f"Word 文档“{name}”为 {_mb(len(data))}，最大 {_mb(max_bytes)}；"
                             "请压缩其中的图片后再导入。",
                             f"The Word document “{name}” is {_mb(len(data))}; at most "
                             f"{_mb(max_bytes)}. Compress its pictures and import it again."))
    if data.startswith(_OLE):
        if _ENCRYPTED in data:
            raise DocxError(Text(f"Word 文档“{name}”设有打开密码，无法读取；请在 Word 中取消密码"
                                 "（文件 → 信息 → 保护文档）后再导入。",
                                 f"The Word document “{name}” is password-protected and cannot be "
                                 "read; remove the password in Word (File → Info → Protect "
                                 "Document) and import it again."))
        raise DocxError(Text(f"“{name}”是旧版 Word 文档（.doc）；请在 Word 中“另存为” .docx 后再导入。",
                             f"“{name}” is an old Word document (.doc); save it as .docx in Word "
                             "and import that."))
    if not data.startswith(_ZIP):
        what = _what_it_is(data)
        raise DocxError(Text(f"“{name}”不是 Word .docx 文档{what.zh}；请上传 .docx 文件。",
                             f"“{name}” is not a Word .docx document{what.en}; upload a .docx "
                             "file."))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            entries = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise _damaged(name) from None
    names = {e.filename for e in entries}
    if "word/document.xml" not in names:
        other = ("Excel 表格", "an Excel workbook") if any(n.startswith("xl/") for n in names) else \
            ("PowerPoint 演示文稿", "a PowerPoint presentation") if any(
                n.startswith("ppt/") for n in names) else ("其他压缩文件", "another kind of zip file")
        raise DocxError(Text(f"“{name}”不是 Word 文档（是{other[0]}）；请上传 .docx 文件。",
                             f"“{name}” is not a Word document (it is {other[1]}); upload a .docx "
                             "file."))
    if any(e.flag_bits & 0x1 for e in entries):
        raise DocxError(Text(f"Word 文档“{name}”已加密，无法读取；请取消密码后再导入。",
                             f"The Word document “{name}” is encrypted and cannot be read; remove "
                             "the password and import it again."))
    if sum(e.file_size for e in entries) > EXPANDED_MAX_BYTES:
        raise DocxError(Text(f"Word 文档“{name}”解压后超过 {_mb(EXPANDED_MAX_BYTES)}，不能导入。",
                             f"The Word document “{name}” unpacks to more than "
                             f"{_mb(EXPANDED_MAX_BYTES)}; it cannot be imported."))
    if any(e.filename == "word/document.xml" and e.file_size > DOCUMENT_MAX_BYTES for e in entries):
        raise DocxError(Text(f"Word 文档“{name}”的正文过长（解压后超过 {_mb(DOCUMENT_MAX_BYTES)}），"
                             "不是一篇稿件的篇幅；请拆分后分别提交。",
                             f"The text of the Word document “{name}” is too long (more than "
                             f"{_mb(DOCUMENT_MAX_BYTES)} unpacked) for one article; split it "
                             "and hand in the parts."))


def _what_it_is(data: bytes) -> Text:
    """What a file that is not a zip looks like, for the message (by content, never by name)."""
    if data.startswith(b"%PDF"):
        return Text("（是 PDF 文件）", " (it is a PDF)")
    if data.startswith(b"{\\rtf"):
        return Text("（是 RTF 文件，请在 Word 中另存为 .docx）", " (it is RTF; save it as .docx in Word)")
    if image_kind(data):
        return Text("（是图片）", " (it is an image)")
    return Text("", "")


def _damaged(name: str) -> DocxError:
    return DocxError(Text(f"Word 文档“{name}”已损坏或不完整，无法打开；请在 Word 中打开并重新保存后再导入。",
                          f"The Word document “{name}” is damaged or incomplete and does not open; "
                          "open it in Word, save it again and import that."))


def _image(image: mammoth.documents.Image, number: int, warnings: list[Text]) -> DocxImage | None:
    """The image as WeChat's in-article upload takes it, or None (with a warning) when it
    cannot be made so."""
    try:
        with image.open() as stream:
            raw = stream.read(EXPANDED_MAX_BYTES + 1)
    except Exception:  # a picture linked from outside, or one the zip lacks
        warnings.append(Text(f"第 {number} 张图片无法读取（可能是外部链接的图片），已略去。",
                             f"Image {number} could not be read (perhaps linked from outside); "
                             "it was left out."))
        return None
    data = _for_wechat(raw)
    if data is None:
        warnings.append(Text(f"第 {number} 张图片（{image.content_type or '未知格式'}）无法转换为 JPG 或 PNG，"
                             "已略去；请另行上传。",
                             f"Image {number} ({image.content_type or 'unknown format'}) could not "
                             "be made a JPG or PNG and was left out; upload it separately."))
        return None
    kind = image_kind(data) or "png"
    sha = hashlib.sha256(data).hexdigest()
    return DocxImage(sha, f"docx-image-{number}.{'jpg' if kind == 'jpeg' else kind}",
                     f"image/{kind}", data)


def _for_wechat(raw: bytes) -> bytes | None:
    """A JPG or PNG under 1 MB showing the same picture, or None when Pillow cannot read it."""
    try:
        check_inline_image(raw)
        return raw  # already what WeChat takes: kept byte for byte
    except InvalidInput:
        pass
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.load()
            picture = img.convert("RGBA" if _has_alpha(img) else "RGB")
    except Exception:  # EMF/WMF drawings, broken data, a decompression bomb
        return None
    picture.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE * 4))
    if picture.mode == "RGBA":
        out = io.BytesIO()
        picture.save(out, "PNG", optimize=True)
        if out.tell() < INLINE_MAX_BYTES:
            return out.getvalue()
        picture = _flatten(picture)
    for quality in _QUALITIES:
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() < INLINE_MAX_BYTES:
            return out.getvalue()
    return None


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def _flatten(picture: Image.Image) -> Image.Image:
    """A transparent picture on white, for JPEG."""
    ground = Image.new("RGB", picture.size, (255, 255, 255))
    ground.paste(picture, mask=picture.getchannel("A"))
    return ground


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"
