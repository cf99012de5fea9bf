"""Word .docx files built in the test, through the converter the editor, the API and the bot use."""

from __future__ import annotations

import io
import zipfile

import pytest
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from msoffcrypto.format.ooxml import OOXMLFile
from PIL import Image

from approvals.rules.article import check_inline_image, external_images, image_kind
from approvals.rules.errors import InvalidInput
from approvals.services.docx import DocxError, docx_to_html


def png(width: int = 40, height: int = 30, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def noisy_png(width: int, height: int) -> bytes:
    """A photo-like picture: random noise compresses badly, so it is large as a PNG."""
    out = io.BytesIO()
    Image.effect_noise((width, height), 80).convert("RGB").save(out, "PNG")
    return out.getvalue()


def saved(doc: Document) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def article_docx(image: bytes | None = None) -> bytes:
    """A document as a department writes one: a heading, bold text, two lists, a table, a picture."""
    doc = Document()
    doc.add_heading("我局开展冬季防汛应急演练", level=1)
    doc.add_heading("一、基本情况", level=2)
    para = doc.add_paragraph("12月7日，共有 ")
    para.add_run("150 人").bold = True
    para.add_run(" 参加演练。")
    doc.add_paragraph("转移群众", style="List Bullet")
    doc.add_paragraph("抢修堤防", style="List Bullet")
    doc.add_paragraph("第一步", style="List Number")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "时间", "地点"
    table.cell(1, 0).text, table.cell(1, 1).text = "12月7日", "太浦河"
    doc.add_picture(io.BytesIO(image if image is not None else png()))
    return saved(doc)


def with_link(url: str, text: str) -> bytes:
    """A document whose only paragraph is a hyperlink to `url`."""
    doc = Document()
    para = doc.add_paragraph("请点击：")
    rel = para.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    run = OxmlElement("w:r")
    label = OxmlElement("w:t")
    label.text = text
    run.append(label)
    link.append(run)
    para._p.append(link)
    return saved(doc)


def replaced(docx: bytes, prefix: str, data: bytes) -> bytes:
    """The same .docx with every part whose name starts with `prefix` replaced by `data`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, data if item.filename.startswith(prefix) else src.read(item))
    return out.getvalue()


def test_headings_bold_lists_a_table_and_an_image_come_across_as_clean_html() -> None:
    result = docx_to_html(article_docx())
    html = result.html
    assert "<h1>我局开展冬季防汛应急演练</h1>" in html and "<h2>一、基本情况</h2>" in html
    assert "<strong>150 人</strong>" in html
    assert "<ul><li>转移群众</li><li>抢修堤防</li></ul>" in html and "<ol><li>第一步</li></ol>" in html
    assert "<table>" in html and "<td><p>太浦河</p></td>" in html
    (image,) = result.images
    assert f'<img src="/assets/{image.sha256}">' in html
    assert external_images(html) == []  # the image is one of the post's own, as layout demands
    assert image.data == png() and image.mime == "image/png"  # a small PNG is kept byte for byte
    assert result.warnings == ()


def test_a_large_photo_is_made_a_jpg_under_one_megabyte_for_wechat() -> None:
    photo = noisy_png(2400, 1600)
    assert len(photo) > 1024 * 1024
    (image,) = docx_to_html(article_docx(photo)).images
    assert image_kind(image.data) == "jpeg" and image.filename.endswith(".jpg")
    check_inline_image(image.data)  # what WeChat's in-article upload takes
    with Image.open(io.BytesIO(image.data)) as img:
        assert img.size == (1080, 720)


def test_an_image_no_one_can_read_is_left_out_with_a_warning() -> None:
    broken = replaced(article_docx(), "word/media/", b"\x01\x02 not a picture")
    result = docx_to_html(broken)
    assert result.images == () and "<img" not in result.html and "太浦河" in result.html
    (warning,) = result.warnings
    assert "第 1 张图片" in warning.zh and "Image 1" in warning.en


def test_script_and_javascript_links_in_a_docx_are_neutralised() -> None:
    html = docx_to_html(with_link("javascript:alert(1)", "<script>alert(2)</script>")).html
    assert "javascript" not in html and "<script" not in html
    assert "&lt;script&gt;" in html  # the text stays text
    kept = docx_to_html(with_link("https://www.mem.gov.cn/", "应急管理部")).html
    assert 'href="https://www.mem.gov.cn/"' in kept


@pytest.mark.parametrize(("data", "zh", "en"), [
    (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "是 PDF 文件", "it is a PDF"),
    (png(), "是图片", "it is an image"),
    (b"{\\rtf1\\ansi hello}", "RTF", "RTF"),
    ("只是一段文字".encode(), "不是 Word .docx 文档", "not a Word .docx document"),
])
def test_a_file_that_is_not_a_docx_is_named_for_what_it_is(data: bytes, zh: str, en: str) -> None:
    with pytest.raises(DocxError) as refused:
        docx_to_html(data, filename="通知.docx")
    assert zh in refused.value.message() and "通知.docx" in refused.value.message()
    assert en in refused.value.message("en")
    assert isinstance(refused.value, InvalidInput)  # every face maps it like any bad input


def test_a_password_protected_docx_is_refused_with_how_to_fix_it() -> None:
    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(article_docx())).encrypt("secret-pw", encrypted)
    with pytest.raises(DocxError) as refused:
        docx_to_html(encrypted.getvalue(), filename="a.docx")
    assert "设有打开密码" in refused.value.message()
    assert "password-protected" in refused.value.message("en")
    assert "secret-pw" not in refused.value.message() + refused.value.message("en")


def test_an_old_word_document_is_refused_with_save_as_docx() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + "WordDocument".encode("utf-16-le")
    with pytest.raises(DocxError) as refused:
        docx_to_html(ole, filename="旧.doc")
    assert "另存为" in refused.value.message() and "save it as .docx" in refused.value.message("en")


def test_a_damaged_docx_is_refused_not_crashed_on() -> None:
    whole = article_docx()
    for damaged in (whole[: len(whole) // 2],  # cut off in the middle: no central directory
                    replaced(whole, "word/document.xml", b"<w:document><unclosed")):
        with pytest.raises(DocxError) as refused:
            docx_to_html(damaged, filename="a.docx")
        assert "已损坏" in refused.value.message() and "damaged" in refused.value.message("en")


def test_other_office_files_and_zips_are_named() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DocxError) as refused:
        docx_to_html(out.getvalue(), filename="表.docx")
    assert "Excel" in refused.value.message() and "Excel" in refused.value.message("en")


def test_too_large_a_file_and_a_zip_bomb_are_refused_before_reading() -> None:
    with pytest.raises(DocxError) as refused:
        docx_to_html(article_docx(), max_bytes=1000)
    assert "最大" in refused.value.message() and "at most" in refused.value.message("en")
    bomb = replaced(article_docx(), "word/media/", b"\0" * (101 * 1024 * 1024))
    assert len(bomb) < 1024 * 1024
    with pytest.raises(DocxError) as refused:
        docx_to_html(bomb)
    assert "解压后超过" in refused.value.message()
    # Text enough for hundreds of articles, in a small file: refused before it is read.
    words = "<w:p><w:r><w:t>" + "防汛演练" * 40 + "</w:t></w:r></w:p>"
    long_text = replaced(article_docx(), "word/document.xml",
                         ("<w:document><w:body>" + words * 20_000 + "</w:body></w:document>").encode())
    assert len(long_text) < 1024 * 1024
    with pytest.raises(DocxError) as refused:
        docx_to_html(long_text)
    assert "正文过长" in refused.value.message() and "too long" in refused.value.message("en")


def test_an_empty_file_and_an_empty_document_are_refused() -> None:
    with pytest.raises(DocxError, match="空的"):
        docx_to_html(b"")
    with pytest.raises(DocxError, match="没有文字"):
        docx_to_html(saved(Document()))


def test_quotes_underlining_and_a_title_style_come_across() -> None:
    doc = Document()
    doc.add_heading("通知", level=0)  # Word's Title style
    para = doc.add_paragraph("请")
    para.add_run("务必").underline = True
    para.add_run("准时").italic = True
    doc.add_paragraph("安全第一，预防为主。", style="Quote")
    result = docx_to_html(saved(doc))
    assert result.html == ("<h1>通知</h1><p>请<u>务必</u><em>准时</em></p>"
                           "<blockquote><p>安全第一，预防为主。</p></blockquote>")
    assert result.warnings == ()
