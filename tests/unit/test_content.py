"""Handed-in material becomes clean article HTML; anything unsafe is removed."""

from __future__ import annotations

import pytest

from approvals.rules.content import sanitize, to_html
from approvals.rules.errors import InvalidInput


def test_plain_text_becomes_escaped_paragraphs() -> None:
    assert to_html("第一段 <b>\n\n第二段 & 完", "text") == "<p>第一段 &lt;b&gt;</p><p>第二段 &amp; 完</p>"


def test_markdown_is_rendered_and_raw_html_in_it_is_not_trusted() -> None:
    out = to_html("## 标题\n\n**重点**内容<script>alert(1)</script>", "markdown")
    assert "<h2>标题</h2>" in out and "<strong>重点</strong>" in out
    assert "<script>" not in out


def test_html_keeps_inline_style_and_drops_scripts_handlers_and_ids() -> None:
    out = sanitize('<section id="x" style="color:red" onclick="evil()"><p>文</p>'
                   '<script>alert(1)</script><img src="https://mmbiz.qpic.cn/a/0" onerror="x"></section>')
    assert 'style="color:red"' in out and "onclick" not in out and "id=" not in out
    assert "script" not in out and "onerror" not in out and '<img src="https://mmbiz.qpic.cn/a/0">' in out


def test_javascript_links_are_removed() -> None:
    assert "javascript" not in sanitize('<a href="javascript:alert(1)">x</a>')


@pytest.mark.parametrize("body,fmt", [
    ("   ", "text"), ("<script>x</script>", "html"), ("x", "docx"),
    ("\u200b\u2060\ufeff", "text"), ("<p>\u200b</p><p>&nbsp;</p>", "html"),  # nothing to see
    ("\u3000\u200d", "markdown")])
def test_empty_or_unknown_input_is_a_clear_error(body: str, fmt: str) -> None:
    with pytest.raises(InvalidInput):
        to_html(body, fmt)


def test_a_body_of_one_image_or_one_visible_character_is_not_empty() -> None:
    assert "<img" in to_html('<p><img src="/assets/' + "a" * 64 + '"></p>', "html")
    assert to_html("\u200b。", "text") == "<p>\u200b。</p>"
