"""Revisions are immutable snapshots identified by the SHA-256 of their canonical form."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from approvals.rules.revisions import RevisionContent

BASE = RevisionContent(title="我局开展应急演练", body_html="<p>正文</p>", category="publicity",
                       author="吴江应急", digest="摘要", cover_sha256="ab" * 32,
                       repost_source=None)


def test_the_hash_is_sha256_of_the_canonical_bytes() -> None:
    assert BASE.content_hash() == hashlib.sha256(BASE.canonical()).hexdigest()
    assert len(BASE.content_hash()) == 64


@pytest.mark.parametrize("field,value", [
    ("title", "我局开展应急演练！"), ("body_html", "<p>正文。</p>"), ("category", "notice"),
    ("author", "法宣科"), ("digest", ""), ("cover_sha256", "cd" * 32),
    ("repost_source", "应急管理部"),
])
def test_every_field_that_reaches_the_article_changes_the_hash(field: str, value: str) -> None:
    assert replace(BASE, **{field: value}).content_hash() != BASE.content_hash()


def test_line_endings_and_unicode_normal_forms_do_not_change_the_hash() -> None:
    crlf = replace(BASE, body_html="<p>第一段</p>\r\n<p>第二段</p>")
    lf = replace(BASE, body_html="<p>第一段</p>\n<p>第二段</p>")
    assert crlf.content_hash() == lf.content_hash()
    decomposed = replace(BASE, title="Cafe\u0301")
    composed = replace(BASE, title="Caf\u00e9")
    assert decomposed.content_hash() == composed.content_hash()


def test_the_canonical_form_keeps_chinese_as_utf8_and_is_versioned() -> None:
    raw = BASE.canonical().decode()
    assert "我局开展应急演练" in raw and raw.startswith('{"author"')
    assert '"v":"signoff-revision-v1"' in raw
