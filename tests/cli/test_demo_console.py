"""`signoff demo --keep-running`: the demo's chain, then the console over its posts until Ctrl-C."""

from __future__ import annotations

import html
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
import requests

from signoff.demo import PERSONAS

DEADLINE_SECONDS = 180  # the demo publishes two posts first; CI is a loaded two-core machine


@dataclass
class Demo:
    """The running demo: its process and what it has printed so far."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str | None]
    said: list[str]

    def read_until(self, pattern: str) -> re.Match[str]:
        """Read printed lines until one matches `pattern` (the demo still running)."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail("the demo ended early:\n" + "".join(self.said))
            self.said.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        pytest.fail(f"the demo printed no line matching {pattern!r}:\n" + "".join(self.said))

    def rest(self) -> str:
        """Everything printed after the last line read, once the process has ended."""
        tail = []
        while (line := self.lines.get(timeout=30)) is not None:
            tail.append(line)
        return "".join(tail)


def _pump(stream: IO[str], into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


@pytest.fixture
def demo(redis_url: str, tmp_path: Path) -> Iterator[Demo]:
    """`signoff demo --keep-running` as a person starts it, on the test Redis."""
    script = Path(sys.executable).with_name("signoff")
    env = {**os.environ, "SIGNOFF_REDIS_URL": redis_url, "TMPDIR": str(tmp_path)}
    env.pop("SIGNOFF_LANGUAGE", None)
    with (tmp_path / "stderr").open("w") as errors, subprocess.Popen(
            [str(script), "demo", "--keep-running"], env=env, text=True, stdout=subprocess.PIPE,
            stderr=errors) as process:
        lines: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        pump = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
        pump.start()
        try:
            yield Demo(process, lines, [])
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=60)
            pump.join(timeout=30)


def log_in(base: str, person: str, password: str) -> requests.Session:
    """A session logged in through the console's form (with its CSRF token)."""
    web = requests.Session()
    form = web.get(f"{base}login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, form
    answer = web.post(f"{base}login", data={"person": person, "password": password,
                                            "csrf_token": token[1]},
                      allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
    return web


def timeline_of(page: str) -> list[str]:
    """The rows of a post page's timeline, as text."""
    found = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.S)
    assert found, page
    return [html.unescape(row) for row in re.findall(r"<li>(.*?)</li>", found[1], re.S)]


def test_the_demo_keeps_the_console_up_with_its_posts_until_interrupted(
        demo: Demo, tmp_path: Path) -> None:
    # The demo's own print-out of post 1's timeline: what the console must show too.
    demo.read_until(r"^时间线：")
    printed = []
    while (row := demo.read_until(r"^.*$")[0]).startswith("  "):
        printed.append(row.strip())
    assert len(printed) >= 12 and any("代陈刚签" in r for r in printed)

    summary = demo.read_until(r"^审计日志：.*")[0]
    assert "哈希链完整" in summary and "未送达 0 条" in summary, "".join(demo.said)

    base = demo.read_until(r"网页控制台：(http://127\.0\.0\.1:\d+/)（按 Ctrl-C 停止）")[1]
    post = demo.read_until(rf"稿件 #(\d+)：{re.escape(base)}posts/\d+")[1]
    password = demo.read_until(r"演示账号（密码均为 (\S+)，仅限本次演示）")[1]
    logins = [demo.read_until(r"^    ([a-z_]+)\s")[1] for _ in PERSONAS]
    assert {"li_na", "zhang_wei", "sun_li", "wang_min", "zhao_xue"} <= set(logins)

    assert requests.get(f"{base}healthz", timeout=30).json() == {"status": "ok"}
    assert requests.get(f"{base}posts/{post}", allow_redirects=False,
                        timeout=30).status_code == 302  # a login first
    web = log_in(base, "li_na", password)
    page = web.get(f"{base}posts/{post}", timeout=30)
    assert page.status_code == 200
    # The full timeline, row for row as the demo printed it: hand-in to the article's URL.
    assert timeline_of(page.text) == printed
    assert "https://mp.weixin.qq.com/s/" in printed[-1]
    queue_page = web.get(base, timeout=30).text
    assert "我局开展冬季防汛防台应急演练" in queue_page and "关于设立防汛防台临时咨询专线的通知" in queue_page
    log_in(base, "zhou_jian", password)  # every printed login works
    assert requests.post(f"{base}login", data={"person": "li_na", "password": "wrong-guess-1"},
                         timeout=30).status_code in (400, 401)

    demo.process.send_signal(signal.SIGINT)  # Ctrl-C
    code = demo.process.wait(timeout=60)
    rest, errors = demo.rest(), (tmp_path / "stderr").read_text()
    assert code == 0, rest + errors
    assert "网页控制台已停止，演示结束。" in rest
    assert "Traceback" not in errors, errors
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}healthz", timeout=10)
    # Nothing is left behind: the demo's temporary folder (its database) is gone.
    assert not list(tmp_path.glob("signoff-demo-*"))


def test_a_port_without_keep_running_or_a_taken_port_is_one_line_before_the_demo_runs() -> None:
    from click.testing import CliRunner

    from signoff.cli import main

    alone = CliRunner().invoke(main, ["demo", "--port", "8000"])
    assert alone.exit_code == 2 and alone.stderr == "错误：--port 需与 --keep-running 一起使用\n"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = CliRunner().invoke(main, ["--lang", "en", "demo", "--keep-running", "--port",
                                         str(port)])
    assert busy.exit_code == 1, busy.output
    assert busy.stderr == (f"error: port {port} is taken; choose another --port (or none for a "
                           "free one).\n")
    assert busy.stdout == ""  # refused before the demo started anything
