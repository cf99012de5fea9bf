"""The sanitiser's inline styles: an allowlist of properties, and nothing that could run code."""

from __future__ import annotations

import pytest

from approvals.rules.content import sanitize


def test_the_styles_an_article_uses_are_kept() -> None:
    kept = sanitize('<p style="color:#333;font-size:15px;text-align:center;line-height:1.75;'
                    'margin:0 0 1em;border-left:3px solid rgb(200, 30, 30)">段落</p>')
    assert kept == ('<p style="color:#333;font-size:15px;text-align:center;line-height:1.75;'
                    'margin:0 0 1em;border-left:3px solid rgb(200, 30, 30)">段落</p>')


def test_properties_outside_the_allowlist_are_dropped_one_by_one() -> None:
    out = sanitize('<p style="color:red;position:fixed;top:0;z-index:9999;opacity:0">盖住页面</p>')
    assert out == '<p style="color:red">盖住页面</p>'


@pytest.mark.parametrize("style", [
    "width:expression(alert(1))",
    "color:red;width:EXPRESSION(alert(1))",
    "background-color:red;behavior:url(x.htc)",
    "-moz-binding:url(http://evil.example/x.xml#x)",
    "background-image:url(javascript:alert(1))",
    "width:expr\\65 ssion(alert(1))",  # a CSS escape spelling the keyword
    "width:expr/**/ession(alert(1))",  # a comment splitting it
    "color:red</style><script>alert(1)</script>",
])
def test_a_style_that_could_run_code_is_dropped_whole(style: str) -> None:
    out = sanitize(f'<p style="{style}">文字</p>')
    assert out == "<p>文字</p>", out


def test_a_css_url_stays_for_layout_to_refuse_with_its_own_message() -> None:
    # check_fits refuses url(…) and says why; the sanitiser must not hide it from that check.
    assert "url(" in sanitize('<p style="background-image:url(https://x.example/a.png)">字</p>')
