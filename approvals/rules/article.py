"""The article exactly as WeChat receives it, and WeChat's limits checked against it (pure).

Layout checks a revision against the article it will become — footer included, images at the
length of the URLs WeChat gives them — so nothing four people signed fails at publish time.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata

from PIL import Image

from approvals.rules.errors import InvalidInput, InvalidRevision, Text
from approvals.rules.org import OrgChart
from approvals.rules.records import Outcome, PostState
from approvals.rules.revisions import (
    AUTHOR_MAX,
    CONTENT_MAX_CHARS,
    DIGEST_MAX,
    TITLE_MAX,
    RevisionContent,
)
from approvals.rules.states import Step

# In-article images are stored assets, referenced from the body as /assets/<sha256>.
ASSET_SRC = re.compile(r'src="/assets/([0-9a-f]{64})"')
CONTENT_MAX_BYTES = 1_000_000  # "under 20,000 characters and under 1 MB"
# An uploaded image's URL (http://mmbiz.qpic.cn/mmbiz_jpg/<opaque>/0?wx_fmt=jpeg) is about 110
# characters; layout counts each image at this bound, so the real one always fits.
IMAGE_URL_BOUND = 200

COVER_MAX_BYTES = 10 * 1024 * 1024  # permanent image material (the cover): bmp/png/jpeg/gif
COVER_KINDS = ("jpeg", "png", "gif", "bmp")
INLINE_MAX_BYTES = 1024 * 1024  # media/uploadimg: jpg/png only, under 1 MB
INLINE_KINDS = ("jpeg", "png")
_MAGIC = ((b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"),
          (b"GIF89a", "gif"), (b"BM", "bmp"))


_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_IMG_SRC = re.compile(r'\bsrc="([^"]*)"')
_CSS_URL = re.compile(r"url\s*\(", re.IGNORECASE)  # background images and fonts from elsewhere
# What WeChat would show verbatim in a plain-text field: tags, comments and character references.
_MARKUP = re.compile(r"</?[A-Za-z!?]|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
# Direction overrides and isolates reorder what a reader sees against what was approved.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
TITLE = Text("标题", "title")
AUTHOR = Text("作者", "author")
DIGEST = Text("摘要", "digest")


# Invisible or layout-breaking: controls, format characters (zero-width space, BOM, soft hyphen,
# tags, direction marks), line and paragraph separators, lone surrogates.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_ZWJ = "\u200d"  # joins emoji sequences (👨‍👩‍👧): kept


def bad_character(value: str, allow: str = "") -> str | None:
    """The first control, invisible format or direction character in `value` (not in `allow`)."""
    for ch in value:
        if ch not in allow and ch != _ZWJ and (unicodedata.category(ch) in _INVISIBLE
                                               or ch in _BIDI):
            return ch
    return None


def plain_text_problem(field: Text, value: str) -> Text | None:
    """What makes `value` unfit for a plain-text field WeChat shows as typed (title, author,
    digest): a control, invisible or direction-override character, or HTML markup; None when it
    is fit."""
    ch = bad_character(value)
    if ch is not None:
        return Text(f"{field.zh}含控制字符或不可见字符（U+{ord(ch):04X}）",
                    f"the {field.en} contains a control or invisible character (U+{ord(ch):04X})")
    found = _MARKUP.search(value)
    if found:
        bit = value[found.start():found.start() + 12]
        return Text(f"{field.zh}含 HTML 标记（{bit}），公众号会原样显示，请改为纯文字",
                    f"the {field.en} contains HTML markup ({bit}), which WeChat would show as "
                    "typed; use plain text")
    return None


def check_plain_text(field: Text, value: str) -> None:
    """Refuse a plain-text field with control characters or markup.

    Raises:
        InvalidInput: naming the field and what is wrong with it.
    """
    problem = plain_text_problem(field, value)
    if problem is not None:
        raise InvalidInput(Text(problem.zh + "。", problem.en[0].upper() + problem.en[1:] + "."))


def external_images(body_html: str) -> list[str]:
    """Images in the body that are not stored assets, by their source ("" for one the cleaner
    left without a usable one, such as a data: URL): WeChat drops them on publishing."""
    found = []
    for tag in _IMG_TAG.findall(body_html):
        src = _IMG_SRC.search(tag)
        if src is None or not ASSET_SRC.fullmatch(f'src="{src.group(1)}"'):
            found.append(src.group(1) if src else "")
    return found


def render(body_html: str, footer: str, image_urls: dict[str, str]) -> str:
    """Body with /assets/<sha256> images pointed at their uploaded URLs, then the art. 28 footer."""

    def swap(match: re.Match[str]) -> str:
        sha = match.group(1)
        return f'src="{html.escape(image_urls[sha], quote=True)}"' if sha in image_urls \
            else match.group(0)

    body = ASSET_SRC.sub(swap, body_html)
    lines = "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in footer.splitlines())
    return f'{body}<section style="margin-top:2em;color:#888;font-size:14px">{lines}</section>'


def image_kind(data: bytes) -> str | None:
    """The image format by its first bytes (never by a file name), or None."""
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def check_cover(data: bytes, filename: str = "") -> None:
    """A cover WeChat takes as permanent image material.

    Raises:
        InvalidInput: not an image by its content, a format WeChat refuses, or too large.
    """
    kind = image_kind(data)
    name = filename or "cover"
    if kind is None:
        raise InvalidInput(Text(f"封面“{name}”不是图片（按文件内容判断），请上传 JPG 或 PNG。",
                                f"The cover “{name}” is not an image (judged by its content); "
                                "upload a JPG or PNG."))
    if len(data) > COVER_MAX_BYTES:
        raise InvalidInput(Text(f"封面“{name}”为 {_mb(len(data))}，公众号封面最大 10 MB。",
                                f"The cover “{name}” is {_mb(len(data))}; WeChat takes at most "
                                "10 MB."))
    _decodes(data, Text(f"封面“{name}”", f"The cover “{name}”"))


def check_inline_image(data: bytes, filename: str = "") -> None:
    """An in-article image WeChat's uploadimg takes.

    Raises:
        InvalidInput: not a JPG or PNG by its content, or 1 MB or more.
    """
    kind = image_kind(data)
    name = filename or "image"
    if kind not in INLINE_KINDS:
        raise InvalidInput(Text(f"正文图片“{name}”须为 JPG 或 PNG（按文件内容判断）。",
                                f"The in-article image “{name}” must be a JPG or PNG (judged by "
                                "its content)."))
    if len(data) >= INLINE_MAX_BYTES:
        raise InvalidInput(Text(f"正文图片“{name}”为 {_mb(len(data))}，公众号正文图片须小于 1 MB。",
                                f"The in-article image “{name}” is {_mb(len(data))}; WeChat takes "
                                "images under 1 MB."))
    _decodes(data, Text(f"正文图片“{name}”", f"The in-article image “{name}”"))


def _decodes(data: bytes, what: Text) -> None:
    # The first bytes name a format; only decoding it shows the file is a whole image.
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            img.load()  # decodes every pixel: a truncated file fails here
    except Image.DecompressionBombError:
        raise InvalidInput(Text(f"{what.zh}像素过多，无法作为图片使用。",
                                f"{what.en} has too many pixels to be used.")) from None
    except Exception:  # Pillow raises many kinds for a broken file
        raise InvalidInput(Text(f"{what.zh}已损坏或不完整，无法作为图片打开。",
                                f"{what.en} is damaged or incomplete and does not open as an "
                                "image.")) from None
    if width < 1 or height < 1:
        raise InvalidInput(Text(f"{what.zh}没有像素。", f"{what.en} has no pixels."))


def check_fits(content: RevisionContent, footer: str) -> None:
    """Refuse a revision whose article, as WeChat will receive it, breaks one of its limits.

    `footer` is the longest footer the post can get; images count at IMAGE_URL_BOUND.

    Raises:
        InvalidRevision: naming every field that does not fit (an InvalidInput; `problems`
            pairs each message with its field).
    """
    bounded = {sha: "x" * IMAGE_URL_BOUND for sha in ASSET_SRC.findall(content.body_html)}
    article = render(content.body_html, footer, bounded)
    problems: list[tuple[str, Text]] = []
    if not content.title.strip():
        problems.append(("title", Text("标题不能为空", "the title is empty")))
    problems += [(name, p) for name, p in (
        ("title", plain_text_problem(TITLE, content.title)),
        ("author", plain_text_problem(AUTHOR, content.author)),
        ("digest", plain_text_problem(DIGEST, content.digest))) if p is not None]
    if _CSS_URL.search(content.body_html):
        problems.append(("body", Text("正文样式中有 url(…)（外部背景图或字体），公众号会将其丢弃：请删去",
                             "a style in the body loads url(…) from elsewhere (a background or a "
                             "font), which WeChat drops: remove it")))
    outside = external_images(content.body_html)
    if outside:
        shown = html.unescape(outside[0])[:80] or "data:"
        more = len(outside) - 1
        problems.append(("body", Text(
            f"正文引用了外部图片（{shown}{f' 等 {len(outside)} 张' if more else ''}），公众号发布时"
            "会将其丢弃：请先上传为本稿图片再排版",
            f"the body shows {len(outside)} image(s) from outside ({shown}), which WeChat drops "
            "on publishing: upload them as the post's images first")))
    if len(content.title) > TITLE_MAX:
        problems.append(("title", Text(f"标题 {len(content.title)} 字，公众号最多 {TITLE_MAX} 字",
                                       f"the title has {len(content.title)} characters; WeChat "
                                       f"allows {TITLE_MAX}")))
    if len(content.author) > AUTHOR_MAX:
        problems.append(("author", Text(f"作者最多 {AUTHOR_MAX} 字", f"the author allows "
                                        f"{AUTHOR_MAX} characters")))
    if len(content.digest) > DIGEST_MAX:
        problems.append(("digest", Text(f"摘要最多 {DIGEST_MAX} 字", f"the digest allows "
                                        f"{DIGEST_MAX} characters")))
    if len(article) >= CONTENT_MAX_CHARS:
        problems.append(("body", Text(f"正文连同文末署名共 {len(article)} 字符，公众号须少于 "
                                      f"{CONTENT_MAX_CHARS} 字符",
                                      f"the article with its footer has {len(article)} "
                                      f"characters; WeChat takes fewer than {CONTENT_MAX_CHARS}")))
    elif len(article.encode()) >= CONTENT_MAX_BYTES:
        problems.append(("body", Text("正文连同文末署名须小于 1 MB",
                                      "the article with its footer must be under 1 MB")))
    if problems:
        texts = [p for _, p in problems]
        raise InvalidRevision(Text("排版稿不符合要求：" + "；".join(p.zh for p in texts) + "。",
                                   "The revision does not fit: " + "; ".join(p.en for p in texts)
                                   + "."), tuple(problems))


def footer_for(state: PostState, org: OrgChart, pending: str = "") -> str:
    """The art. 28 footer of this post's article: the drafter, and the reviewer and issuer whose
    steps are approved (the leader, when a deputy signed for them), else `pending`."""
    assert state.revision is not None
    def signed(step: Step) -> str:
        d = state.decision_for(step)
        return org.name_of(d.principal) if d and d.outcome is Outcome.APPROVED else pending

    return org.footer.render(
        drafter=org.name_of(state.drafter), reviewer=signed(Step.REVIEWER),
        issuer=signed(Step.ISSUER),
        source=state.revision.content.repost_source)
