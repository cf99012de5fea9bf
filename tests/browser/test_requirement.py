"""Without chromium the browser tests skip and say why; CI's SIGNOFF_REQUIRE_BROWSER=1 makes that
a failure, as SIGNOFF_REQUIRE_SERVICES does for Redis. (Needs no browser itself.)"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

ONE_TEST = ("tests/browser/test_journey.py::"
            "test_a_wrong_password_is_said_in_chinese_and_the_right_one_leads_back_to_the_post")


def run_without_chromium(**extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SIGNOFF_REQUIRE_BROWSER"}
    env.update(SIGNOFF_CHROMIUM=str(ROOT / "no-such-dir" / "chromium"), **extra)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           ONE_TEST], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_without_chromium_the_browser_tests_skip_and_say_what_is_missing() -> None:
    result = run_without_chromium()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "no browser for the browser tests: chromium is not installed" in result.stdout
    assert "apt-get install chromium" in result.stdout


def test_ci_turns_the_missing_browser_into_a_failure() -> None:
    result = run_without_chromium(SIGNOFF_REQUIRE_BROWSER="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SIGNOFF_REQUIRE_BROWSER=1 but chromium is not installed" in result.stdout
    assert "skipped" not in result.stdout
