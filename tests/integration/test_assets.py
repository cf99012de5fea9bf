"""Unsaved uploads are pruned: an asset nothing refers to is deleted once the grace period since its
last upload has passed; whatever a revision, a post's hand-in or its material refers to is kept
however old."""

from __future__ import annotations

import io
import re
import threading
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import Engine, event, select, text

from approvals.bootstrap import Core
from approvals.rules.errors import InvalidInput
from approvals.store import models as m
from approvals.views import RevisionInput
from tests.conftest import Clock, Personas
from tests.unit.test_docx import article_docx

GRACE = timedelta(days=7)


def png(shade: int) -> bytes:
    """A small PNG of its own (assets are stored by content: each test image differs)."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (shade, 120, 200)).save(out, "PNG")
    return out.getvalue()


def image_tag(sha: str) -> str:
    return f'<p><img src="/assets/{sha}" alt=""></p>'


def stored(core: Core, sha: str) -> bool:
    return core.service.layout.asset(sha) is not None


def pruned_rows(engine: Engine) -> list[dict[str, object]]:
    """The audit rows of the prunes, their detail as written."""
    import json

    with engine.connect() as conn:
        return [json.loads(d) for d in conn.execute(select(m.AuditEntry.detail).where(
            m.AuditEntry.action == "asset.pruned").order_by(m.AuditEntry.seq)).scalars()]


def test_an_unsaved_upload_is_pruned_after_the_grace_period_with_an_audit_row(
        core: Core, who: Personas, clock: Clock, engine: Engine) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body="正文。")
    abandoned = svc.layout.store_image(pid, who.operator, "现场.png", png(1))
    clock.advance(days=6, hours=23)
    assert svc.prune_assets(GRACE, by="test").assets == ()  # still within the grace period
    assert stored(core, abandoned)
    clock.advance(hours=2)
    done = svc.prune_assets(GRACE, by="test")
    assert [(a.sha256, a.filename, a.size) for a in done.assets] == [
        (abandoned, "现场.png", len(png(1)))]
    assert done.size == len(png(1)) and not done.dry_run
    assert not stored(core, abandoned)
    (row,) = pruned_rows(engine)
    assert row["sha256"] == abandoned and row["filename"] == "现场.png" and row["grace_days"] == 7
    assert svc.verify_audit().ok  # the chain takes the maintenance rows like any other
    assert svc.prune_assets(GRACE, by="test").assets == ()  # nothing twice


def test_a_dry_run_lists_and_deletes_nothing(core: Core, who: Personas, clock: Clock,
                                             engine: Engine) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body="正文。")
    sha = svc.layout.store_image(pid, who.operator, "a.png", png(2))
    clock.advance(days=8)
    listed = svc.prune_assets(GRACE, by="test", dry_run=True)
    assert [a.sha256 for a in listed.assets] == [sha] and listed.dry_run
    assert stored(core, sha) and pruned_rows(engine) == []


def test_what_a_saved_revision_refers_to_is_kept_however_old(
        core: Core, who: Personas, clock: Clock) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body="正文。")
    inline = svc.layout.store_image(pid, who.operator, "inline.png", png(3))
    cover = svc.layout.store_image(pid, who.operator, "cover.png", png(4), cover=True)
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput(
        body="<p>正文。</p>" + image_tag(inline), cover_sha256=cover))
    # A later revision drops both: the first one still refers to them (revisions stay forever).
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput(body="<p>只有文字。</p>"))
    clock.advance(days=400)
    assert svc.prune_assets(GRACE, by="test").assets == ()
    assert stored(core, inline) and stored(core, cover)


def test_a_hand_ins_cover_and_its_docx_pictures_are_kept_however_old(
        core: Core, who: Personas, clock: Clock) -> None:
    svc = core.service
    with_cover = svc.create_post(drafter=who.drafter, title="带封面的稿件", body="正文。",
                                 cover=("封面.png", png(5), "image/png"))
    from_docx, _ = svc.create_post_from_docx(drafter=who.drafter, filename="演练.docx",
                                             data=article_docx(png(6)), title="Word 稿件")
    with core.deps.sessions() as s:
        cover = s.get(m.Post, with_cover).cover_sha256  # type: ignore[union-attr]
        material = s.get(m.Post, from_docx).material_body  # type: ignore[union-attr]
    (picture,) = re.findall(r"/assets/([0-9a-f]{64})", material)
    assert cover and stored(core, cover) and stored(core, picture)
    # Laid out without either (the operator replaced the body, the default cover): the hand-in
    # still refers to them.
    svc.act(from_docx, "new_revision", who.operator, revision=RevisionInput(body="<p>重排。</p>"))
    clock.advance(days=400)
    assert svc.prune_assets(GRACE, by="test").assets == ()
    assert stored(core, cover) and stored(core, picture)


def test_an_image_a_hand_ins_material_names_is_kept(
        core: Core, who: Personas, clock: Clock) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body="正文。")
    sha = svc.layout.store_image(pid, who.operator, "a.png", png(7))
    svc.create_post(drafter=who.drafter, title="另一篇", body=f"见图：![现场](/assets/{sha})",
                    body_format="markdown")
    clock.advance(days=30)
    assert svc.prune_assets(GRACE, by="test").assets == ()
    assert stored(core, sha)


def test_uploading_the_same_file_again_starts_its_grace_period_again(
        core: Core, who: Personas, clock: Clock) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body="正文。")
    first = svc.layout.store_image(pid, who.operator, "a.png", png(8))
    clock.advance(days=10)
    again = svc.layout.store_image(pid, who.operator, "a.png", png(8))  # into today's layout
    assert again == first
    assert svc.prune_assets(GRACE, by="test").assets == ()
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput(body=image_tag(again)))
    assert svc.view(pid).revision.number == 1  # type: ignore[union-attr]


def test_a_layout_saved_after_its_upload_was_pruned_is_refused(
        core: Core, who: Personas, clock: Clock) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body="正文。")
    sha = svc.layout.store_image(pid, who.operator, "a.png", png(9))
    clock.advance(days=8)  # the editor was left open for over a week
    assert [a.sha256 for a in svc.prune_assets(GRACE, by="test").assets] == [sha]
    with pytest.raises(InvalidInput) as info:
        svc.act(pid, "new_revision", who.operator, revision=RevisionInput(body=image_tag(sha)))
    assert "never uploaded" in info.value.message("en")


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_revision_saved_while_a_prune_runs_keeps_its_image(
        core: Core, who: Personas, clock: Clock, engine: Engine) -> None:
    svc = core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body="正文。")
    sha = svc.layout.store_image(pid, who.operator, "a.png", png(10))
    clock.advance(days=8)  # an upload old enough to prune, and a layout saving it right now
    holds, go = threading.Event(), threading.Event()
    saver: list[threading.Thread] = []

    @event.listens_for(engine, "after_cursor_execute")
    def pause(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        # The save has read (and holds) its image: it waits here until the prune is blocked.
        if threading.current_thread() in saver and "FROM assets" in statement:
            holds.set()
            assert go.wait(30)

    failed: list[BaseException] = []

    def save() -> None:
        try:
            svc.act(pid, "new_revision", who.operator, revision=RevisionInput(body=image_tag(sha)))
        except BaseException as exc:
            failed.append(exc)

    saver.append(threading.Thread(target=save))
    pruned: list[object] = []
    pruner = threading.Thread(target=lambda: pruned.append(svc.prune_assets(GRACE, by="test")))
    try:
        saver[0].start()
        assert holds.wait(30)
        pruner.start()  # it finds the image unused (the revision is not committed), locks it ...
        with engine.connect() as conn:
            for _ in range(300):
                waiting = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).scalar()
                conn.rollback()  # a transaction keeps reading the activity as it first saw it
                if waiting:
                    break
                threading.Event().wait(0.05)
            assert waiting, "the prune never waited for the save"
        go.set()  # ... and, once the save committed, looks again
        saver[0].join(30)
        pruner.join(30)
    finally:
        go.set()
        event.remove(engine, "after_cursor_execute", pause)
    assert failed == []
    assert pruned and pruned[0].assets == ()  # type: ignore[attr-defined]
    assert stored(core, sha)
    assert f"/assets/{sha}" in svc.view(pid).state.revision.content.body_html  # type: ignore[union-attr]
