"""The article as WeChat receives it, and its limits checked at layout against exactly that."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from approvals.rules.article import (
    CONTENT_MAX_CHARS,
    IMAGE_URL_BOUND,
    TITLE,
    check_cover,
    check_fits,
    check_inline_image,
    external_images,
    image_kind,
    plain_text_problem,
    render,
)
from approvals.rules.content import sanitize
from approvals.rules.errors import InvalidInput
from approvals.rules.revisions import RevisionContent

FOOTER = "拟稿：李娜　审核：陈刚　签发：王敏"
SHA = "a" * 64


def png(extra: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"") + b"\x00" * extra)


def encoded(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    """A real image in `fmt`, encoded by Pillow (an independent encoder of the formats)."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def content(body: str, **kw: str) -> RevisionContent:
    return RevisionContent(title=kw.get("title", "标题"), body_html=body, category="publicity",
                           author=kw.get("author", "吴江应急"), digest=kw.get("digest", ""))


def padded(total: int) -> str:
    """A body of exactly `total` characters."""
    return "<p>" + "字" * (total - 7) + "</p>"


def test_the_article_is_the_body_with_uploaded_images_then_the_footer() -> None:
    body = f'<p>正文</p><img src="/assets/{SHA}">'
    article = render(body, FOOTER + "\n来源：应急管理部", {SHA: "http://mmbiz.qpic.cn/x/0"})
    assert article.startswith('<p>正文</p><img src="http://mmbiz.qpic.cn/x/0">')
    assert article.endswith("<p>拟稿：李娜　审核：陈刚　签发：王敏</p><p>来源：应急管理部</p></section>")
    assert "/assets/" not in article
    assert "&lt;b&gt;" in render("", "<b>名</b>", {})  # the footer is text, never markup


def test_a_body_that_fits_alone_but_not_with_its_footer_is_refused_at_layout() -> None:
    footer_cost = len(render("", FOOTER, {}))
    fits_alone = padded(CONTENT_MAX_CHARS - footer_cost // 2)
    assert len(fits_alone) < CONTENT_MAX_CHARS
    with pytest.raises(InvalidInput) as info:
        check_fits(content(fits_alone), FOOTER)
    assert "with its footer" in info.value.message("en") and "文末署名" in info.value.message("zh")
    check_fits(content(padded(CONTENT_MAX_CHARS - footer_cost - 1)), FOOTER)  # one under: fine


def test_each_image_counts_at_the_length_of_a_wechat_url() -> None:
    footer_cost = len(render("", FOOTER, {}))
    img = f'<img src="/assets/{SHA}">'
    grows = IMAGE_URL_BOUND - len(f"/assets/{SHA}")
    room = CONTENT_MAX_CHARS - footer_cost - 1
    check_fits(content(padded(room - len(img) - grows) + img), FOOTER)
    with pytest.raises(InvalidInput):
        check_fits(content(padded(room - len(img) - grows + 1) + img), FOOTER)


def test_every_field_that_does_not_fit_is_named_at_once() -> None:
    with pytest.raises(InvalidInput) as info:
        check_fits(content("<p>x</p>", title="标" * 33, author="作" * 17, digest="摘" * 129), FOOTER)
    text = info.value.message("en")
    assert "title has 33" in text and "author allows 16" in text and "digest allows 128" in text


@pytest.mark.parametrize(("data", "kind"), [
    (b"\xff\xd8\xff\xe0rest", "jpeg"), (png(), "png"), (b"GIF89a...", "gif"), (b"BM....", "bmp"),
    (b"%PDF-1.7", None), (b"<svg></svg>", None), (b"", None),
])
def test_an_image_is_known_by_its_content_not_its_name(data: bytes, kind: str | None) -> None:
    assert image_kind(data) == kind


def test_a_cover_must_be_an_image_wechat_takes_and_at_most_10_mb() -> None:
    check_cover(png(), "cover.png")
    check_cover(encoded("GIF"), "cover.gif")
    check_cover(encoded("BMP"), "cover.bmp")
    check_cover(encoded("JPEG"), "cover.jpg")
    with pytest.raises(InvalidInput) as not_image:
        check_cover(b"%PDF-1.7 ...", "cover.jpg")  # a PDF named .jpg is still a PDF
    assert "not an image" in not_image.value.message("en")
    with pytest.raises(InvalidInput) as too_big:
        check_cover(png(10 * 1024 * 1024), "big.png")
    assert "10 MB" in too_big.value.message("en")


def test_an_in_article_image_must_be_a_jpg_or_png_under_1_mb() -> None:
    check_inline_image(png(1024 * 1024 - len(png()) - 1))
    with pytest.raises(InvalidInput):
        check_inline_image(png(1024 * 1024))
    with pytest.raises(InvalidInput):
        check_inline_image(b"GIF89a" + b"\x00" * 10)


# --- plain-text fields and images from outside: refused at layout ---------------------------------

# Every C0 and C1 control character, DEL, and the direction overrides and isolates.
CONTROLS = [*map(chr, range(0x00, 0x20)), "\x7f", *map(chr, range(0x80, 0xA0)),
            *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"]
MARKUP = ["<b>通知</b>", "<script>alert(1)</script>", "</p>", "<img src=x>", "<!-- x -->",
          "&amp;", "&nbsp;", "&#169;", "&#x4e2d;", "<?xml?>"]
# What real titles carry and must keep: book-title marks, quotes, a lone "<" or "&".
PLAIN = ["关于《吴江区安全生产条例》的解读", "“12·4”国家宪法日宣传", "R&D 投入增长 5%", "a < b 且 c > d",
         "【通知】2027年元旦放假安排", "第1期 (试行)", "Ⅱ级应急响应", "😀 点赞"]


def test_a_control_character_anywhere_in_a_plain_field_is_named() -> None:
    for ch in CONTROLS:
        for where in (0, 3, 8):
            text = "吴江区应急管理局"
            problem = plain_text_problem(TITLE, text[:where] + ch + text[where:])
            assert problem is not None and f"U+{ord(ch):04X}" in problem.zh, (ch, where)


@pytest.mark.parametrize("bit", MARKUP)
def test_markup_in_a_plain_field_is_refused(bit: str) -> None:
    problem = plain_text_problem(TITLE, f"关于{bit}的说明")
    assert problem is not None and "HTML" in problem.en


@pytest.mark.parametrize("title", PLAIN)
def test_ordinary_punctuation_stays_allowed(title: str) -> None:
    assert plain_text_problem(TITLE, title) is None


@pytest.mark.parametrize("field,kw", [("title", "title"), ("author", "author"),
                                      ("digest", "digest")])
def test_layout_refuses_markup_or_controls_in_title_author_and_digest(field: str,
                                                                      kw: str) -> None:
    with pytest.raises(InvalidInput) as bad:
        check_fits(content("<p>正文</p>", **{kw: "应急\x07"}), FOOTER)
    assert "U+0007" in bad.value.message("en") and field in bad.value.message("en")
    with pytest.raises(InvalidInput):
        check_fits(content("<p>正文</p>", **{kw: "<i>应急</i>"}), FOOTER)


@pytest.mark.parametrize("src", ["https://example.com/a.png", "http://10.0.0.1/x.jpg",
                                 "https://mmbiz.qpic.cn/mmbiz_png/abc/0?wx_fmt=png",
                                 "/assets/short", "/assets/" + "A" * 64])
def test_an_image_not_stored_with_the_post_is_refused_at_layout(src: str) -> None:
    body = f'<p>文字</p><p><img src="{src}" alt="图"></p>'
    assert external_images(body) == [src]
    with pytest.raises(InvalidInput) as bad:
        check_fits(content(body), FOOTER)
    assert "WeChat drops" in bad.value.message("en") and src[:20] in bad.value.message("en")


def test_stored_images_pass_and_each_outside_one_is_counted() -> None:
    stored = f'<p><img src="/assets/{SHA}"></p>'
    check_fits(content(stored), FOOTER)
    body = stored + '<p><img src="https://a.example/1.png"><img src="https://a.example/2.png"></p>'
    assert len(external_images(body)) == 2
    with pytest.raises(InvalidInput) as bad:
        check_fits(content(body), FOOTER)
    assert "等 2 张" in bad.value.message("zh-CN")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP"])
def test_a_file_that_only_starts_like_an_image_is_refused(fmt: str) -> None:
    whole = encoded(fmt)
    check_cover(whole, "cover")
    for broken in (whole[:8], whole[: len(whole) // 3], whole[:6] + b"x" * 200):
        with pytest.raises(InvalidInput) as info:
            check_cover(broken, "cover")
        assert "does not open as an image" in info.value.message("en") or \
            "not an image" in info.value.message("en")


def test_an_in_article_image_is_decoded_too() -> None:
    check_inline_image(encoded("JPEG"), "a.jpg")
    with pytest.raises(InvalidInput) as info:
        check_inline_image(encoded("JPEG")[:40], "a.jpg")
    assert "损坏" in info.value.message("zh-CN")


@pytest.mark.parametrize("ch", ["\u200b", "\ufeff", "\u2028", "\u2029", "\u00ad", "\U000e0041",
                                "\u200e", "\u2060"])
def test_invisible_characters_in_a_plain_field_are_named(ch: str) -> None:
    problem = plain_text_problem(TITLE, f"防汛{ch}通知")
    assert problem is not None and f"U+{ord(ch):04X}" in problem.en


def test_an_emoji_sequence_joined_with_zwj_stays_allowed() -> None:
    assert plain_text_problem(TITLE, "家庭防灾 👨\u200d👩\u200d👧") is None


def test_an_image_the_cleaner_left_without_a_source_and_css_urls_are_refused() -> None:
    body = sanitize('<p><img src="data:image/png;base64,iVBORw0KGgo=" alt="图"></p>')
    assert external_images(body) == [""]
    with pytest.raises(InvalidInput) as data_url:
        check_fits(content(body), FOOTER)
    assert "data:" in data_url.value.message("zh-CN")
    styled = sanitize('<p style="background:url(https://example.com/bg.png)">正文</p>')
    with pytest.raises(InvalidInput) as css:
        check_fits(content(styled), FOOTER)
    assert "url(" in css.value.message("en")
