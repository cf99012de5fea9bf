"""`signoff assets prune` and the reconciler's daily prune of unsaved uploads."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from approvals.bootstrap import Core
from approvals.config.settings import load_settings
from approvals.views import RevisionInput
from signoff.wiring import build_core
from tests.cli.test_cli import env, run  # noqa: F401  (env: the CLI's settings fixture)
from tests.integration.test_assets import image_tag, png
from tests.worker.conftest import ROOT


@pytest.fixture
def past(env: Path) -> Iterator[Core]:  # noqa: F811  (the fixture imported above)
    """The core on the CLI's database with its clock ten days back: what it uploads is old."""
    assert run("db", "upgrade").exit_code == 0
    core = build_core(load_settings(), clock=lambda: datetime.now(UTC) - timedelta(days=10),
                      check_schema=False)
    yield core
    core.close()


def abandoned_upload(core: Core, shade: int) -> str:
    """An image uploaded into a layout that was never saved."""
    pid = core.service.create_post(drafter="li_na", title="测试稿", body="正文。")
    return core.service.layout.store_image(pid, "he_jing", "现场.png", png(shade))


def pruned_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT actor, detail FROM audit_log WHERE action = 'asset.pruned' "
                            "ORDER BY seq").fetchall()


def test_assets_prune_lists_on_a_dry_run_and_deletes_what_nothing_refers_to(
        env: Path, past: Core) -> None:  # noqa: F811
    svc = past.service
    abandoned = abandoned_upload(past, 1)
    pid = svc.create_post(drafter="li_na", title="排好的稿件", body="正文。")
    kept = svc.layout.store_image(pid, "he_jing", "图.png", png(2))
    svc.act(pid, "new_revision", "he_jing", revision=RevisionInput(body=image_tag(kept)))

    listed = run("--lang", "en", "assets", "prune", "--dry-run")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith(f"{abandoned[:12]}\t现场.png\t{len(png(1))}\t")
    assert lines[-1] == f"1 unsaved upload(s), {len(png(1))} bytes, would be deleted " \
                        "(older than 7 days)"
    assert svc.layout.asset(abandoned) is not None and pruned_rows(env) == []

    done = run("assets", "prune")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == f"已删除 1 个未保存的上传文件，共 {len(png(1))} 字节（超过 7 天）"
    assert svc.layout.asset(abandoned) is None and svc.layout.asset(kept) is not None
    ((actor, detail),) = pruned_rows(env)
    assert actor == "admin-cli" and abandoned in detail and '"channel":"cli"' in detail
    again = run("--lang", "en", "assets", "prune")
    assert again.output.strip() == "deleted 0 unsaved upload(s), 0 bytes (older than 7 days)"


def test_the_grace_period_is_a_setting_checked_when_it_loads(
        env: Path, past: Core, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    abandoned = abandoned_upload(past, 3)
    monkeypatch.setenv("SIGNOFF_ASSET_GRACE_DAYS", "30")
    assert "deleted 0" in run("--lang", "en", "assets", "prune").output  # ten days is not enough
    assert past.service.layout.asset(abandoned) is not None
    for bad, reason in (("0", "must be at least 1"), ("a week", "must be an integer")):
        monkeypatch.setenv("SIGNOFF_ASSET_GRACE_DAYS", bad)
        refused = run("--lang", "en", "assets", "prune")
        assert refused.exit_code == 2
        assert "SIGNOFF_ASSET_GRACE_DAYS" in refused.stderr and reason in refused.stderr
    assert past.service.layout.asset(abandoned) is not None


def test_the_reconciler_prunes_on_its_first_pass_and_then_once_a_day(
        env: Path, past: Core) -> None:  # noqa: F811
    first = abandoned_upload(past, 4)
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    once = subprocess.run([sys.executable, "-m", "signoff", "reconcile"], env=environ, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert once.returncode == 0, once.stderr
    assert f"assets: pruned 1 unsaved upload(s), {len(png(4))} bytes" in once.stdout
    assert past.service.layout.asset(first) is None
    assert [actor for actor, _ in pruned_rows(env)] == ["reconciler"]

    loop = subprocess.Popen([sys.executable, "-m", "signoff", "reconcile", "--every", "0.2"],
                            env=environ, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert loop.stdout is not None
        lines: list[str] = []
        while sum(line.startswith("reconcile:") for line in lines) < 2:
            lines.append(loop.stdout.readline())  # the first pass, its prune (nothing) included, is over
        second = abandoned_upload(past, 5)
        while sum(line.startswith("reconcile:") for line in lines) < 7:
            lines.append(loop.stdout.readline())
        assert loop.poll() is None
        assert past.service.layout.asset(second) is not None  # not before tomorrow's pass
        assert not any(line.startswith("assets:") for line in lines)
    finally:
        loop.kill()
        loop.communicate(timeout=10)  # also closes the pipe
