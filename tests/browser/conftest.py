"""Browser tests: Playwright drives Debian's chromium against the console on a real HTTP server.

- SIGNOFF_CHROMIUM: the chromium executable (default: `chromium` or `chromium-browser` on PATH).
  Playwright's own browser download is never used.
- SIGNOFF_REQUIRE_BROWSER=1 (CI): a missing chromium or Playwright fails the tests instead of
  skipping them, as SIGNOFF_REQUIRE_SERVICES does for Redis.
- SIGNOFF_TEST_ARTIFACTS: where screenshots go (default: test-artifacts/ at the project root).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
from sqlalchemy import Engine
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from approvals.bootstrap import Core
from approvals.store import db
from approvals.web import create_app
from tests.conftest import ROOT, Personas

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

REQUIRE_BROWSER = os.environ.get("SIGNOFF_REQUIRE_BROWSER") == "1"
if REQUIRE_BROWSER:
    import playwright.sync_api  # noqa: F401  (CI: a missing Playwright is an error, never a skip)
PASSWORD = "correct-horse-battery"
# A phone: the viewport and user agent of a common handset, with WeChat's in-app browser marker.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                   "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI "
                   "Language/zh_CN"),
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}
# Generous: CI is a loaded two-core machine. Waits are on states and selectors, never sleeps.
TIMEOUT_MS = 30_000


def find_chromium() -> str | None:
    """Debian's chromium: SIGNOFF_CHROMIUM when set, else the first on PATH."""
    wanted = os.environ.get("SIGNOFF_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).is_file() and os.access(wanted, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(reason: str) -> NoReturn:
    # A skip says what is missing and how to get it; CI turns it into a failure.
    if REQUIRE_BROWSER:
        pytest.fail(f"SIGNOFF_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"no browser for the browser tests: {reason}")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium under Playwright, or a skip (a failure in CI) saying what is absent.

    Package-scoped: Playwright's synchronous API keeps an event loop running on the main thread
    while it is open, and the tests after these (aiogram's, which start their own loops) need it
    gone."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install '.[test]')")
    executable = find_chromium()
    if executable is None:
        where = os.environ.get("SIGNOFF_CHROMIUM") or "PATH"
        _unavailable(f"chromium is not installed (not found at {where}; apt-get install chromium)")
    with sync_playwright() as p:
        try:
            launched = p.chromium.launch(executable_path=executable, headless=True,
                                         timeout=TIMEOUT_MS)
        except Error as exc:
            _unavailable(f"chromium at {executable} is not usable: {str(exc).splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture(params=["sqlite"])
def engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """SQLite only: the browser checks the pages, the database tiers are proven elsewhere."""
    path = tmp_path / "signoff.db"
    shutil.copy(sqlite_template, path)
    eng = db.create_db_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log: the test output stays readable."""


@pytest.fixture
def console(core: Core, who: Personas) -> Iterator[str]:
    """The console app as production builds it, on a real HTTP server on a free loopback port;
    yields its base URL. The personas who act in these tests have a password."""
    for person in (who.drafter, who.head, who.leader, who.admin, who.operator, who.colleague):
        core.service.set_password(person, PASSWORD, by="test")
    app = create_app(core, secret_key="b" * 32)  # not testing: errors render as users see them
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True,
                                         request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="console-under-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


@pytest.fixture
def desktop(browser: Browser) -> Iterator[BrowserContext]:
    """A desktop browser window (zh-CN), fresh cookies."""
    context = browser.new_context(**DESKTOP)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A phone-sized browser with a mobile user agent, fresh cookies (nobody logged in)."""
    context = browser.new_context(**PHONE, locale="zh-CN")  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder the screenshots go to (git-ignored)."""
    base = Path(os.environ.get("SIGNOFF_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder = base / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page: Page, base: str, person: str, password: str = PASSWORD) -> None:
    """Fill the login form as a person would and wait for the queue."""
    page.goto(f"{base}/login")
    page.get_by_label("账号（拼音或姓名）").fill(person)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/")
