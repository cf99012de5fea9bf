"""The layout editor's use cases around `new_revision`: what the editor opens on, images and
.docx files stored as assets, and the article as it will look before it is saved.

Saving itself is the chain's `new_revision` action (`Actions.act`), so every check a layout made
on the command line gets is the same here.
"""

from __future__ import annotations

import re
from dataclasses import replace

from approvals.rules import content, permits
from approvals.rules.article import (
    check_cover,
    check_fits,
    check_inline_image,
    footer_for,
    image_kind,
)
from approvals.rules.article import render as render_article
from approvals.rules.errors import InvalidInput, InvalidRevision
from approvals.rules.records import PostState, RevisionInfo
from approvals.rules.revisions import AUTHOR_MAX, RevisionContent
from approvals.rules.states import Action
from approvals.services.actions import longest_footer
from approvals.services.base import Deps
from approvals.services.docx import docx_to_html
from approvals.services.handin import store_asset
from approvals.services.state import load_post, load_state, resolve_person
from approvals.store import models as m
from approvals.views import Asset, DocxImport, LayoutDraft, LayoutPreview, RevisionInput

_SHA = re.compile(r"[0-9a-f]{64}")
_FILENAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff/\\]")
FILENAME_MAX = 100


class Layout:
    """What the operator and the admins need around a layout revision."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def opened_on(self, post_id: int, actor: str) -> LayoutDraft:
        """The content the editor starts from: the current revision, else the material.

        Raises:
            NotFound: no such post or person.
            NotAllowed, InvalidTransition: the person may not lay this post out now.
        """
        with self.deps.sessions() as s:
            post = load_post(s, post_id)
            state = self._permitted(load_state(s, post), actor)
            rev = state.revision
            if rev is not None:
                c = rev.content
                return LayoutDraft(post.id, rev.content_hash, rev.number, c.title, c.author,
                                   c.digest, c.body_html, c.cover_sha256)
            try:
                body = content.to_html(post.material_body, post.material_format)
            except InvalidInput:
                body = ""  # the editor shows an empty body; saving it says what is missing
            return LayoutDraft(post.id, "", 0, post.title, self.default_author(), "", body,
                               post.cover_sha256)

    def default_author(self) -> str:
        """The author a layout gets when none is given: the unit (as `new_revision` does)."""
        return self.deps.org.unit_name[:AUTHOR_MAX]

    def store_image(self, post_id: int, actor: str, filename: str, data: bytes, *,
                    cover: bool = False) -> str:
        """Keep an uploaded cover or in-article image for this post's layout; returns its
        SHA-256 (the body refers to it as /assets/<sha256>).

        Raises:
            NotFound, NotAllowed, InvalidTransition: as `opened_on`.
            InvalidInput: not an image WeChat takes there (by content), or too large.
        """
        self._check(post_id, actor)
        name = clean_filename(filename, "cover" if cover else "image")
        (check_cover if cover else check_inline_image)(data, name)
        kind = image_kind(data) or "octet-stream"
        with self.deps.uow() as uow:
            return store_asset(uow.session, name, data, f"image/{kind}", self.deps.now())

    def import_docx(self, post_id: int, actor: str, filename: str, data: bytes) -> DocxImport:
        """A Word .docx as clean body HTML; its images are stored as the post's assets.

        Raises:
            NotFound, NotAllowed, InvalidTransition: as `opened_on`.
            DocxError (an InvalidInput): the file is not a readable .docx (the text says why).
        """
        self._check(post_id, actor)
        result = docx_to_html(data, filename=clean_filename(filename, "document.docx"))
        with self.deps.uow() as uow:
            for image in result.images:
                store_asset(uow.session, image.filename, image.data, image.mime, self.deps.now())
        return DocxImport(result.html, tuple(i.sha256 for i in result.images), result.warnings)

    def preview(self, post_id: int, actor: str, given: RevisionInput, *,
                pending: str = "") -> LayoutPreview:
        """The article as it will look once saved as the next revision: the body as the
        sanitiser keeps it and the footer the restarted chain gives it (`pending` for the
        reviewer and issuer, who have not approved it yet); and what `new_revision` would
        refuse in it, field by field.

        Raises:
            NotFound, NotAllowed, InvalidTransition: as `opened_on`.
        """
        with self.deps.sessions() as s:
            post = load_post(s, post_id)
            state = self._permitted(load_state(s, post), actor)
            source = post.repost_source if given.repost_source is None else given.repost_source
            rc = RevisionContent(
                title=given.title or "", body_html=content.sanitize(given.body or ""),
                category=post.category,
                author=self.default_author() if given.author is None else given.author,
                digest=given.digest, cover_sha256=given.cover_sha256 or post.cover_sha256,
                repost_source=(source or "").strip() or None).normalized()
            drafter = post.drafter
        # A new revision voids every approval: the footer names nobody who has not signed it.
        fresh = replace(state, revision=RevisionInfo(state.revision.number + 1 if state.revision
                                                     else 1, rc, rc.content_hash(), actor),
                        decisions=(), clearance=None)
        article = render_article(rc.body_html, footer_for(fresh, self.deps.org, pending), {})
        try:
            check_fits(rc, longest_footer(self.deps.org, drafter, rc.repost_source))
        except InvalidRevision as exc:
            return LayoutPreview(article, exc.problems)
        return LayoutPreview(article)

    def asset(self, sha256: str) -> Asset | None:
        """A stored image by its hash (for the console to show it), or None."""
        if not _SHA.fullmatch(sha256):
            return None
        with self.deps.sessions() as s:
            row = s.get(m.Asset, sha256)
            return Asset(row.sha256, row.filename, row.mime, row.data) if row else None

    def _check(self, post_id: int, actor: str) -> None:
        with self.deps.sessions() as s:
            self._permitted(load_state(s, load_post(s, post_id)), actor)

    def _permitted(self, state: PostState, actor: str) -> PostState:
        # Only whoever may make the next revision uploads for it or opens it (art. 25).
        permits.permit(state, Action.NEW_REVISION, resolve_person(self.deps.org, actor),
                       self.deps.org, self.deps.today())
        return state


def clean_filename(filename: str, default: str) -> str:
    """A file name as people gave it, without folders, control or direction characters, and
    short enough to store and show."""
    name = _FILENAME_UNSAFE.sub("", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return (name or default)[:FILENAME_MAX]


__all__ = ["Layout", "clean_filename"]
