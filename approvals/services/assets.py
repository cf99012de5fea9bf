"""Uploads nobody saved: an image or a .docx's pictures are stored as assets the moment they are
uploaded, before the layout that uses them is saved (the editor shows them at once), so an
operator who never saves leaves them behind. `Assets.prune` deletes the assets nothing refers to
once a grace period has passed since they were last uploaded (`Asset.created_at`, which an
upload of the same file again moves on).

What refers to an asset, by its SHA-256:

- a revision: its cover (`cover_sha256`), an `/assets/<sha256>` image in its body;
- a post: the cover handed in with it, an `/assets/<sha256>` in its material (a .docx hand-in's
  pictures, an image a Markdown or HTML hand-in names).

Nothing else refers to one: a publication uploads its revision's images (and revisions are never
deleted), the editor, the preview pages and the worker show or send a revision's or a post's
own, and notifications and chat cards carry links, never images.

A revision that is being saved holds its assets' rows (`FOR SHARE`), so on PostgreSQL a prune
locks the assets it found unused and looks again before deleting: a revision that committed in
between keeps its images, and one that starts after the lock waits and then finds them gone
(refused: "an image that was never uploaded"). SQLite runs one writer at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from approvals.services.base import Deps
from approvals.store import audit
from approvals.store import models as m
from approvals.views import PrunedAssets, StoredAsset

_REFERENCE = re.compile(r"/assets/([0-9a-f]{64})")
_BATCH = 500  # text columns are read this many rows at a time


class Assets:
    """Maintenance of the stored uploads."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def prune(self, grace: timedelta, *, by: str, dry_run: bool = False) -> PrunedAssets:
        """Delete every asset nothing refers to that was last uploaded more than `grace` ago,
        each with an audit row (`asset.pruned`) naming `by`; a dry run only lists them."""
        now = self.deps.now()
        cutoff = now - grace
        with self.deps.uow() as uow:
            s = uow.session
            unused = _unused(s, _stored_before(s, cutoff))
            if dry_run or not unused:
                return PrunedAssets(tuple(sorted(unused.values(), key=_order)), dry_run)
            # Locked, then looked at again (see the module's docstring).
            locked = _stored_before(s, cutoff, among=unused, lock=True)
            gone = _unused(s, locked)
            if gone:
                s.execute(delete(m.Asset).where(m.Asset.sha256.in_(list(gone))))
            for asset in sorted(gone.values(), key=_order):
                audit.append(s, actor=by, action="asset.pruned", post_id=None, at=now,
                             detail={"sha256": asset.sha256, "filename": asset.filename,
                                     "size": asset.size, "stored_at": asset.stored_at,
                                     "grace_days": grace / timedelta(days=1),
                                     "channel": self.deps.channel})
        return PrunedAssets(tuple(sorted(gone.values(), key=_order)))


def _order(asset: StoredAsset) -> tuple[datetime, str]:
    return (asset.stored_at, asset.sha256)


def _stored_before(s: Session, cutoff: datetime, *, among: Iterable[str] | None = None,
                   lock: bool = False) -> dict[str, StoredAsset]:
    """The assets last uploaded before `cutoff` (of `among`), without their bytes."""
    a = m.Asset
    query = select(a.sha256, a.filename, a.mime, a.size, a.created_at).where(a.created_at < cutoff)
    if among is not None:
        query = query.where(a.sha256.in_(list(among)))
    if lock:
        query = query.with_for_update()
    return {row.sha256: StoredAsset(row.sha256, row.filename, row.mime, row.size, row.created_at)
            for row in s.execute(query)}


def _unused(s: Session, assets: dict[str, StoredAsset]) -> dict[str, StoredAsset]:
    """Those of `assets` nothing refers to."""
    if not assets:
        return {}
    used = referenced(s)
    return {sha: asset for sha, asset in assets.items() if sha not in used}


def referenced(s: Session) -> set[str]:
    """The hash of every asset a revision or a post refers to."""
    found: set[str] = set()
    for cover in (m.Revision.cover_sha256, m.Post.cover_sha256):
        found.update(s.scalars(select(cover).where(cover.is_not(None)).distinct()))
    for text in (m.Revision.body_html, m.Post.material_body):
        rows = s.scalars(select(text).where(text.contains("/assets/"))
                         .execution_options(yield_per=_BATCH))
        for value in rows:
            found.update(_REFERENCE.findall(value))
    return found
