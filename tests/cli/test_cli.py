"""The `signoff` command as people use it: one clear line per error, non-zero exits."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from signoff.cli import main
from signoff.embedded import free_port
from tests.conftest import EXAMPLE_ORG

QUEUE = "cli-test"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_conn: Redis) -> Path:
    """Settings pointing at a fresh SQLite file, the example org chart and the test Redis."""
    db = tmp_path / "cli.db"
    url = redis_conn.connection_pool.connection_kwargs
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("SIGNOFF_ORG_FILE", str(EXAMPLE_ORG))
    monkeypatch.setenv("SIGNOFF_REDIS_URL", f"redis://{url['host']}:{url['port']}/{url['db']}")
    monkeypatch.setenv("SIGNOFF_QUEUE_NAME", QUEUE)
    monkeypatch.delenv("SIGNOFF_CONFIG", raising=False)
    monkeypatch.delenv("SIGNOFF_LANGUAGE", raising=False)
    return db


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_config_check_passes_the_example() -> None:
    result = run("config", "check", str(EXAMPLE_ORG))
    assert result.exit_code == 0, result.output
    assert "通过" in result.output


def test_config_check_names_file_key_and_reason_for_each_error(tmp_path: Path) -> None:
    broken = tmp_path / "org.toml"
    text = EXAMPLE_ORG.read_text(encoding="utf-8")
    text = text.replace('head = "zhang_wei"', 'head = "zhang_wie"')
    text = text.replace('"*.gov.cn",', '"https://www.gov.cn/",')
    broken.write_text(text, encoding="utf-8")
    result = run("--lang", "en", "config", "check", str(broken))
    assert result.exit_code == 2
    assert f"{broken}: departments.jyk.head: error: “zhang_wie” is not listed in [people]" in \
        result.stderr
    assert f"{broken}: sources.domains[0]: error:" in result.stderr
    assert "2 error(s)" in result.stderr


def test_config_check_reads_a_settings_file_and_rejects_a_bad_url(tmp_path: Path) -> None:
    settings = tmp_path / "signoff.toml"
    settings.write_text('redis_url = "localhost:6379"\n', encoding="utf-8")
    result = run("config", "check", str(settings))
    assert result.exit_code == 2
    assert f"{settings}: redis_url: 错误:" in result.stderr


def test_config_check_judges_a_file_as_written_and_an_empty_org_file_fails(
        env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "signoff.toml"
    settings.write_text('database_url = "notaurl"\n', encoding="utf-8")
    # The environment sets the same key (env does): the file is still what is judged.
    checked = run("config", "check", str(settings))
    assert checked.exit_code == 2 and f"{settings}: database_url: 错误:" in checked.stderr
    empty = tmp_path / "org.toml"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("SIGNOFF_ORG_FILE", str(empty))
    for args in (["config", "check"], ["config", "check", str(empty)]):
        result = run(*args)
        assert result.exit_code == 2 and f"{empty}: unit" in result.stderr, result.stderr
    misspelt = tmp_path / "misspelt.toml"
    misspelt.write_text('[unitt]\nname = "x"\n', encoding="utf-8")
    assert run("config", "check", str(misspelt)).exit_code == 2


def test_the_whole_chain_from_the_command_line(env: Path, tmp_path: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    material = tmp_path / "post.md"
    material.write_text("# 我局开展安全生产宣传月活动\n\n本月我局在全区开展**安全生产**宣传。\n",
                        encoding="utf-8")
    created = run("post", "new", "--as", "李娜", "--file", str(material))
    assert created.exit_code == 0 and "稿件 #1 已提交" in created.output
    assert run("act", "1", "new_revision", "--as", "he_jing").exit_code == 0
    for action, person in [("confirm", "li_na"), ("approve", "zhang_wei"),
                           ("approve", "chen_gang"), ("sign", "wang_min")]:
        result = run("act", "1", action, "--as", person)
        assert result.exit_code == 0, result.output + result.stderr
    shown = run("post", "show", "1")
    assert "已签发，待发布" in shown.output
    assert shown.output.count("2026-") >= 6 or "时间线" in shown.output
    listed = run("--lang", "en", "post", "list")
    assert "signed, queued" in listed.output and "我局开展安全生产宣传月活动" in listed.output


def test_signing_hands_the_post_to_the_queue_at_once_and_the_chain_is_told(
        env: Path, redis_conn: Redis) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    run("act", "1", "new_revision", "--as", "he_jing")
    for action, person in [("confirm", "li_na"), ("approve", "zhang_wei"),
                           ("approve", "chen_gang")]:
        run("act", "1", action, "--as", person)
    queue = Queue(QUEUE, connection=redis_conn, serializer=JSONSerializer)
    assert not [j for j in queue.get_jobs() if j.func_name == "worker.jobs.publish_post"]
    assert run("act", "1", "sign", "--as", "wang_min").exit_code == 0
    # No reconciler ran: the command itself put the publish job on the queue after its commit.
    publish = [j for j in queue.get_jobs() if j.func_name == "worker.jobs.publish_post"]
    assert [j.args[0] for j in publish] == [1]
    told = run("--lang", "en", "notifications", "--post", "1")
    assert told.exit_code == 0, told.stderr
    lines = told.output.splitlines()
    assert any("→ 王敏 [log, pending]" in line and "“签发”" in line for line in lines)
    mine = run("notifications", "--person", "陈刚")
    assert "分管领导审核" in mine.output and "王敏" not in mine.output.split("→")[1]


def test_a_change_made_with_redis_away_commits_and_leaves_the_job_to_the_reconciler(
        env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    monkeypatch.setenv("SIGNOFF_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nobody there
    laid_out = run("act", "1", "new_revision", "--as", "he_jing")
    assert laid_out.exit_code == 0, laid_out.stderr
    assert "Traceback" not in laid_out.stderr
    warned = [r.getMessage() for r in caplog.records if r.name == "signoff.handoff"]
    assert len(warned) == 1 and "the reconciler will enqueue them" in warned[0]
    assert "审核中" in run("post", "show", "1").output


def test_errors_are_one_line_in_the_persons_language_with_distinct_exit_codes(env: Path) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    run("act", "1", "new_revision", "--as", "he_jing")
    outsider = run("act", "1", "confirm", "--as", "xu_fang")
    assert outsider.exit_code == 3
    assert outsider.stderr.startswith("错误：徐芳无权") and outsider.stderr.count("\n") == 1
    english = run("act", "1", "confirm", "--as", "guo_qiang")  # 郭强 prefers English
    assert english.exit_code == 3 and english.stderr.startswith("error: 郭强 may not")
    unknown = run("act", "1", "confirm", "--as", "li_na", "--revision", "deadbeef")
    assert unknown.exit_code == 2 and "没有版本 deadbeef" in unknown.stderr
    first = run("post", "show", "1").output.split("当前版本：第1版 ")[1][:12]
    run("act", "1", "new_revision", "--as", "he_jing", "--title", "测试稿（二）")
    stale = run("act", "1", "confirm", "--as", "li_na", "--revision", first)
    assert stale.exit_code == 4 and "旧版本" in stale.stderr
    missing = run("post", "show", "42")
    assert missing.exit_code == 6 and "42" in missing.stderr
    bad_date = run("post", "new", "--as", "li_na", "--title", "x", "--body", "y",
                   "--formed-on", "2026-13-01")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.stderr


def test_an_unmigrated_database_says_what_to_run_and_creates_no_file(env: Path) -> None:
    result = run("post", "list")
    assert result.exit_code == 2
    assert "signoff db upgrade" in result.stderr and str(env) in result.stderr
    assert not env.exists()  # no silent empty database left behind
    env.touch()  # an empty file someone made: its schema is named
    empty = run("--lang", "en", "post", "list")
    assert empty.exit_code == 2 and "(empty)" in empty.stderr


def post_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM posts").fetchone()[0])


def one_line(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, result.output + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_a_file_that_is_not_utf8_gets_one_line_and_nothing_is_stored(env: Path,
                                                                     tmp_path: Path) -> None:
    run("db", "upgrade")
    gbk = tmp_path / "通知.md"
    gbk.write_bytes("# 防汛通知\n\n正文".encode("gb18030"))
    said = one_line(run("post", "new", "--as", "li_na", "--file", str(gbk)))
    assert "不是 UTF-8" in said and "GBK" in said
    one_line(run("post", "new", "--as", "li_na", "--title", "x", "--body-file", str(gbk)))
    latin = tmp_path / "body.html"
    latin.write_bytes(b"<p>caf\xe9 \xff\xfe</p>")
    said = one_line(run("--lang", "en", "post", "new", "--as", "li_na", "--title", "x",
                        "--body-file", str(latin)))
    assert "is not UTF-8" in said and "byte 7" in said and "GBK" not in said
    assert post_count(env) == 0
    bom = tmp_path / "bom.md"
    bom.write_bytes("\ufeff# 防汛通知\n\n正文".encode())  # Notepad's BOM is fine
    assert run("post", "new", "--as", "li_na", "--file", str(bom)).exit_code == 0
    assert "防汛通知" in run("post", "show", "1").output


@pytest.mark.parametrize("doc,said", [
    ('{"title": 123, "body": "正文"}', "字段 title 应为文本"),
    ('{"title": "通知", "body": {}}', "字段 body 应为文本"),
    ('{"title": "通知", "body": "正文", "formed_on": 20240101}', "字段 formed_on 应为文本"),
    ('{"title": "通知", "body": ["正文"]}', "而不是列表"),
    ('{"title": "通知", "body": "正文", "category": true}', "而不是布尔值"),
    ('{"title": "通知", "body": "正文", "formed_on": "2024/01/01"}', "YYYY-MM-DD"),
    ('{"title": "通知", "body": "正文", "author": "李娜"}', "未知字段 author"),
    ('["通知"]', "应为 JSON 对象"),
    ('{"title": "通知",', "JSON 格式错误"),
])
def test_a_json_hand_in_with_wrong_types_gets_one_line(env: Path, tmp_path: Path, doc: str,
                                                      said: str) -> None:
    run("db", "upgrade")
    material = tmp_path / "post.json"
    material.write_text(doc, encoding="utf-8")
    assert said in one_line(run("post", "new", "--as", "li_na", "--file", str(material)))
    assert post_count(env) == 0


def test_a_cover_is_checked_by_content_and_size_at_hand_in(env: Path, tmp_path: Path) -> None:
    run("db", "upgrade")
    fake = tmp_path / "cover.jpg"
    fake.write_bytes(b"%PDF-1.7 " + b"x" * 1000)
    assert "不是图片" in one_line(run("post", "new", "--as", "li_na", "--title", "通知",
                                       "--body", "正文", "--cover", str(fake)))
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * (20 * 1024 * 1024))
    assert "10 MB" in one_line(run("post", "new", "--as", "li_na", "--title", "通知",
                                    "--body", "正文", "--cover", str(huge)))
    assert post_count(env) == 0


def test_an_unknown_person_is_exit_6_everywhere_with_a_suggestion(env: Path) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    for args in (["post", "new", "--as", "li_nna", "--title", "x", "--body", "y"],
                 ["act", "1", "confirm", "--as", "li_nna"],
                 ["act", "1", "new_revision", "--as", "li_nna"],
                 ["post", "schedule", "1", "--as", "li_nna"],
                 ["post", "show", "1", "--as", "li_nna"]):
        said = one_line(run(*args), 6)
        assert "您是不是要找：李娜（li_na）" in said, args
    assert post_count(env) == 1


def test_an_unknown_action_lists_only_what_a_person_can_type(env: Path) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    said = one_line(run("--lang", "en", "act", "1", "sing", "--as", "wang_min"))
    assert "sign (sign off)" in said
    assert not any(w in said for w in ("claim", "mark_published", "hold", "fail"))


def test_every_option_and_command_explains_itself() -> None:
    import click

    def walk(cmd: click.Command, path: str) -> list[str]:
        missing = [f"{path} {p.opts[0]}" for p in cmd.params
                   if isinstance(p, click.Option) and not p.hidden and not p.help]
        if not cmd.help:
            missing.append(path)
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(main, "signoff") == []


def test_a_database_url_is_never_echoed_with_its_password(env: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()  # nothing listens there
    for url in (f"postgresql+psycopg://signoff:Hunter2-s3cret@127.0.0.1:{port}/signoff",
                "postgres ql://signoff:Hunter2-s3cret@db/signoff",
                "postgresql+psycopg2://signoff:Hunter2-s3cret@db/signoff",
                "sqlite://signoff:Hunter2-s3cret@/x.db"):
        monkeypatch.setenv("SIGNOFF_DATABASE_URL", url)
        for args in (["post", "list"], ["db", "upgrade"]):
            result = run(*args)
            assert result.exit_code != 0 and "Traceback" not in result.stderr, result.stderr
            assert "Hunter2-s3cret" not in result.stderr + result.output, url
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", f"sqlite:///{env}")
    monkeypatch.setenv("SIGNOFF_REDIS_URL", "http://:Hunter2-s3cret@127.0.0.1/0")
    result = run("config", "check")
    assert "Hunter2-s3cret" not in result.stderr + result.output


def test_audit_verify_names_the_row_after_a_direct_sql_edit(env: Path) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    run("act", "1", "new_revision", "--as", "he_jing")
    ok = run("audit", "verify")
    assert ok.exit_code == 0 and ok.output.startswith("ok")
    with sqlite3.connect(env) as conn:
        conn.execute("UPDATE audit_log SET actor = 'wang_min' WHERE seq = 2")
    broken = run("--lang", "en", "audit", "verify")
    assert broken.exit_code == 7
    assert "row 2 was edited" in broken.stderr


def test_audit_anchor_prints_the_head_and_verify_names_a_forged_status(env: Path) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    run("act", "1", "new_revision", "--as", "he_jing")
    anchor = run("audit", "anchor")
    assert anchor.exit_code == 0 and anchor.stdout.startswith("2:")
    assert run("audit", "verify", "--anchor", anchor.stdout.strip()).exit_code == 0
    with sqlite3.connect(env) as conn:
        conn.execute("UPDATE posts SET status = 'signed' WHERE id = 1")
    forged = run("--lang", "en", "audit", "verify", "--anchor", anchor.stdout.strip())
    assert forged.exit_code == 7
    assert forged.stderr.startswith("post #1: The post's status is “signed, queued” but the audit "
                                    "log says “in review”")
    bad = run("--lang", "en", "audit", "verify", "--anchor", "2:xyz")
    assert bad.exit_code == 2 and "SEQ:HASH" in bad.stderr and bad.stderr.count("\n") == 1
    seq, digest = anchor.stdout.strip().split(":")
    for junk in (f"0:{digest}", f"{10**23}:{digest}", f"٢:{digest}"):
        assert "SEQ:HASH" in one_line(run("--lang", "en", "audit", "verify", "--anchor", junk))
    upper = run("audit", "verify", "--anchor", f"{seq}:{digest.upper()}")
    assert upper.exit_code == 7 and upper.stderr.startswith("稿件 #1")  # read, not refused


def test_signoff_demo_runs_the_chain_end_to_end_and_exits_zero(redis_url: str) -> None:
    script = Path(sys.executable).with_name("signoff")  # the installed console script
    result = subprocess.run([str(script), "demo"], capture_output=True, text=True, timeout=120,
                            check=False, env={**os.environ, "SIGNOFF_REDIS_URL": redis_url})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Redis：{redis_url}\n" in out  # the test Redis, as SIGNOFF_REDIS_URL says
    assert "代陈刚签" in out and "旧版本" in out and "第十六条" in out
    # The approvers decided by pressing the bot's buttons on the Telegram simulator.
    assert "✔ 孙丽 [Telegram] “同意”: 已审核同意。 · 代陈刚签" in out
    assert "✘ 张伟 [Telegram] “同意”: 该版本已被新版本取代" in out
    assert "✘ 徐芳 [Telegram] “同意”: 您当前不能对该稿件执行此操作。" in out
    assert "未送达 0 条" in out
    assert "哈希链完整" in out
    # The worker published both posts on the bundled simulator, and the demo prints the URLs.
    assert out.count("已发布  https://mp.weixin.qq.com/s/") == 2


def test_the_demo_speaks_english_on_request(redis_url: str) -> None:
    result = subprocess.run([sys.executable, "-m", "signoff", "--lang", "en", "demo"],
                            capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "SIGNOFF_REDIS_URL": redis_url})
    assert result.returncode == 0, result.stderr
    assert "for Chen Gang" in result.stdout or "for 陈刚" in result.stdout
    assert "hash chain intact" in result.stdout
    assert "published  https://mp.weixin.qq.com/s/" in result.stdout


# --- a hostile new user's inputs: one line each, nothing stored ---------------------------------


def test_ids_and_times_no_database_can_hold_get_one_line(env: Path) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    for args in (["post", "show", str(2**63)], ["post", "show", str(2**70)],
                 ["act", str(2**63), "confirm", "--as", "li_na"]):
        assert "没有编号为" in one_line(run(*args), 6)
    assert "没有编号为" in one_line(run("notifications", "--post", str(2**70)), 6)
    for typed in ("１", "1_0", "1e3"):  # int() reads the first two as 1 and 10
        assert "不是稿件编号" in one_line(run("post", "show", typed)), typed
    far = one_line(run("act", "1", "schedule", "--as", "zhao_xue", "--at", "9999-12-31T23:59-12:00"))
    assert "超过一年" in far
    for at in ("2026-12-09", "2026-12-09T09", "20261209T0900", "2026-12-09T09:00:30.5"):
        assert "YYYY-MM-DDTHH:MM" in one_line(run("act", "1", "schedule", "--as", "zhao_xue",
                                                   "--at", at))


@pytest.mark.parametrize("formed_on,said", [
    ("20261201", "YYYY-MM-DD"), ("2026-W49-3", "YYYY-MM-DD"), ("", "YYYY-MM-DD"),
    ("0001-01-01", "十年前"), ("1900-01-01", "十年前"), ("2026-02-30", "YYYY-MM-DD")])
def test_a_formation_date_is_a_plain_recent_date(env: Path, formed_on: str, said: str) -> None:
    run("db", "upgrade")
    assert said in one_line(run("post", "new", "--as", "li_na", "--title", "通知", "--body",
                                "正文", "--formed-on", formed_on))
    assert post_count(env) == 0


def test_options_that_belong_to_another_action_are_refused(env: Path, tmp_path: Path) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    run("act", "1", "new_revision", "--as", "he_jing")
    for args, said in ((["--at", "2026-12-09T09:00"], "--at 只用于 schedule"),
                       (["--mode", "mass_send"], "--mode 只用于 schedule"),
                       (["--title", "新标题"], "--title 只用于 new_revision"),
                       (["--basis", "consent"], "--basis 只用于 clear_pii"),
                       (["--url", "https://mp.weixin.qq.com/s/x"], "--url 只用于 confirm_published")):
        assert said in one_line(run("act", "1", "confirm", "--as", "li_na", *args))
    body = tmp_path / "b.txt"
    body.write_text("正文", encoding="utf-8")
    assert "--body-file" in one_line(run("post", "new", "--as", "li_na", "--title", "x",
                                         "--body", "y", "--body-file", str(body)))
    assert "类别“”无效" in one_line(run("post", "new", "--as", "li_na", "--title", "x",
                                       "--body", "y", "--category", ""))
    assert post_count(env) == 1 and "审核中" in run("post", "show", "1").output


def test_unreadable_or_endless_inputs_get_one_line(env: Path, tmp_path: Path) -> None:
    run("db", "upgrade")
    surrogate = tmp_path / "p.json"
    surrogate.write_text('{"title": "\\ud800", "body": "正文"}', encoding="utf-8")
    assert "U+D800" in one_line(run("post", "new", "--as", "li_na", "--file", str(surrogate)))
    nul = tmp_path / "nul.json"
    nul.write_text('{"title": "通知", "body": "b\\u0000c"}', encoding="utf-8")
    assert "U+0000" in one_line(run("post", "new", "--as", "li_na", "--file", str(nul)))
    big = tmp_path / "big.md"
    with big.open("wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: 64 MB of zeros that take no disk
    assert "4 MB" in one_line(run("post", "new", "--as", "li_na", "--title", "x",
                                  "--body-file", str(big)))
    assert post_count(env) == 0


def test_broken_settings_and_files_get_one_line_each(env: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80")
    assert "不是 UTF-8" in run("config", "check", str(binary)).stderr
    monkeypatch.setenv("SIGNOFF_ORG_FILE", str(tmp_path))  # a directory
    assert "无法读取" in one_line(run("post", "list"))
    monkeypatch.setenv("SIGNOFF_ORG_FILE", str(EXAMPLE_ORG))
    not_db = tmp_path / "notes.db"
    not_db.write_text("这不是数据库\n" * 100, encoding="utf-8")
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", f"sqlite:///{not_db}")
    assert "file is not a database" in one_line(run("post", "list"), 1)
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", f"sqlite:///{env}")
    for key, value, said in (("SIGNOFF_NOTIFY_CHANNELS", "log", "JSON 列表"),
                             ("SIGNOFF_PUBLISH_POLL_SECONDS", "inf", "有限"),
                             ("SIGNOFF_PUBLISH_RETRY_SECONDS", "[]", "不能为空"),
                             ("SIGNOFF_PUBLISH_RETRY_SECONDS", "[-5, 2]", "不小于 1"),
                             ("SIGNOFF_PUBLISH_LEASE_SECONDS", "-1", "应大于 0"),
                             ("SIGNOFF_QUEUE_NAME", "", "格式不符"),
                             ("SIGNOFF_TIMEZONE", "Mars/Base", "未知时区")):
        monkeypatch.setenv(key, value)
        result = run("config", "check")
        assert result.exit_code == 2 and said in result.stderr, (key, result.stderr)
        assert "Traceback" not in result.stderr
        monkeypatch.delenv(key)
    secrets = tmp_path / "signoff.toml"
    secrets.write_text('wechat_secret = "0123456789abcdef"\n', encoding="utf-8")
    checked = run("config", "check", str(secrets))
    assert checked.exit_code == 2 and "SIGNOFF_WECHAT_SECRET_FILE" in checked.stderr
    assert "0123456789abcdef" not in checked.stderr
    for key, url in (("SIGNOFF_WECHAT_API_BASE", "ftp://app:Hunter2-s3cret@host/"),
                     ("SIGNOFF_DATABASE_URL", "postgresql://u:p@ss-Hunter2-s3cret@127.0.0.1:1/db")):
        monkeypatch.setenv(key, url)
        result = run("config", "check")
        assert result.exit_code == 2 and "Hunter2-s3cret" not in result.stderr, result.stderr
        monkeypatch.delenv(key)


def test_usage_mistakes_are_one_line_in_the_persons_language(env: Path) -> None:
    cases = ((["post", "show", "x"], "POST_ID 的值无效：“x”不是稿件编号"),
             (["act", "1", "confirm"], "缺少 --as"),
             (["act", "1", "confirm", "--as", "li_na", "--revison", "1"], "您是不是要找：--revision"),
             (["reconcile", "--every", "-1"], "--every 的值无效"),
             (["frob"], "没有命令“frob”"))
    for args, said in cases:
        result = run(*args)
        assert result.exit_code == 2 and said in one_line(result), result.stderr
        assert "Usage:" not in result.stderr
    english = run("--lang", "en", "post", "show", "x")
    assert english.exit_code == 2 and "see `signoff post show --help`" in english.stderr


def test_a_units_english_reaches_everyone_who_chose_no_language(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("db", "upgrade")
    monkeypatch.setenv("SIGNOFF_LANGUAGE", "en")
    assert run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文").output \
        .startswith("post #1 handed in")
    monkeypatch.delenv("SIGNOFF_LANGUAGE")
    assert run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文").output \
        .startswith("稿件 #2 已提交")
    assert run("post", "new", "--as", "guo_qiang", "--title", "测试稿", "--body", "正文").output \
        .startswith("post #3 handed in")  # 郭强 chose English himself


def test_comments_are_checked_like_any_text(env: Path) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    run("act", "1", "new_revision", "--as", "he_jing")
    for comment, said in (("改RED\u202eevil\x07", "U+202E"), ("\u200b", "U+200B"),
                          ("长" * 2001, "最多 2000 字")):
        assert said in one_line(run("act", "1", "request_changes", "--as", "li_na",
                                    "--comment", comment))
    assert "审核中" in run("post", "show", "1").output
    assert run("act", "1", "request_changes", "--as", "li_na",
               "--comment", "第二段\n人数有误").exit_code == 0


def test_people_are_found_as_typed_on_a_phone(env: Path) -> None:
    run("db", "upgrade")
    for typed in ("LI_NA", "ｌｉ＿ｎａ", " li_na "):
        assert run("post", "new", "--as", typed, "--title", "测试稿", "--body", "正文").exit_code == 0
    assert post_count(env) == 3


def test_a_password_no_one_could_type_at_the_login_is_refused(env: Path) -> None:
    from approvals.config.settings import load_settings
    from signoff.wiring import build_core

    run("db", "upgrade")

    def set_password(typed: str) -> Result:
        return CliRunner().invoke(main, ["people", "set-password", "li_na", "--password-stdin"],
                                  input=typed)

    for typed, said in (("x1y2z3" * 34 + "\n", "最多 200 个字符"),  # the login reads 200
                        ("correct\thorse-battery\n", "无法在登录框输入")):
        refused = set_password(typed)
        assert refused.exit_code == 2 and said in refused.stderr, refused.stderr
    assert set_password("correct-horse-battery\r\n").exit_code == 0  # a Windows line ending
    core = build_core(load_settings())
    try:
        assert core.service.authenticate("li_na", "correct-horse-battery") == "li_na"
    finally:
        core.close()


def test_set_password_and_serve_the_console(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import urllib.request

    run("db", "upgrade")
    weak = CliRunner().invoke(main, ["people", "set-password", "李娜", "--password-stdin"],
                              input="short\n")
    assert weak.exit_code == 2 and "至少 10 个字符" in weak.stderr
    done = CliRunner().invoke(main, ["people", "set-password", "李娜", "--password-stdin"],
                              input="correct-horse-battery\n")
    assert done.exit_code == 0 and "已为李娜（li_na）设置密码" in done.output
    no_key = run("serve")
    assert no_key.exit_code == 2 and "SIGNOFF_SECRET_KEY" in one_line(no_key)
    port = free_port()
    script = Path(sys.executable).with_name("signoff")
    environ = {**__import__("os").environ, "SIGNOFF_SECRET_KEY": "s" * 32}
    log = env.with_name("serve.log")
    with log.open("wb") as out, subprocess.Popen(
            [str(script), "serve", "--port", str(port), "--workers", "1"], env=environ,
            stdout=out, stderr=subprocess.STDOUT) as server:
        try:
            deadline, answer = time.monotonic() + 60, None
            while time.monotonic() < deadline and answer is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                timeout=5) as r:
                        answer = (r.status, r.read())
                except OSError:
                    assert server.poll() is None, log.read_text(errors="replace")
                    time.sleep(0.2)
            assert answer == (200, b'{"status":"ok"}\n'), log.read_text(errors="replace")
            # A page from the installed package's own templates (not only the health check).
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30) as r:
                assert r.status == 200 and 'name="csrf_token"' in r.read().decode()
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_api_tokens_are_issued_listed_and_revoked(env: Path) -> None:
    import hashlib

    run("db", "upgrade")
    issued = run("people", "token", "issue", "李娜", "--name", "应急科报送系统")
    assert issued.exit_code == 0, issued.output + issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("sgf_") and "只显示这一次" in issued.stderr
    with sqlite3.connect(env) as conn:
        stored = conn.execute("SELECT person, token_hash FROM api_tokens").fetchall()
    assert stored == [("li_na", hashlib.sha256(token.encode()).hexdigest())]
    listed = run("people", "token", "list", "li_na").output
    assert token[:10] in listed and token not in listed and "有效" in listed
    assert run("people", "token", "issue", "li_na", "--name", "  ").exit_code == 2
    assert run("people", "token", "issue", "nobody", "--name", "x").exit_code == 6
    assert run("people", "token", "revoke", "1").exit_code == 0
    assert "已吊销" in run("people", "token", "list").output
    assert run("people", "token", "revoke", "99").exit_code == 6


def test_an_invite_link_is_printed_for_a_person(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("db", "upgrade")
    assert "SIGNOFF_SECRET_KEY" in one_line(run("people", "invite", "王敏"))
    monkeypatch.setenv("SIGNOFF_SECRET_KEY", "s" * 32)
    printed = run("people", "invite", "王敏", "--base-url", "https://console.example.gov.cn/")
    assert printed.exit_code == 0, printed.output
    link = printed.output.strip()
    assert link.startswith("https://console.example.gov.cn/invite/") and "\n" not in link
    from itsdangerous import URLSafeTimedSerializer

    from approvals.web.invite import MAX_AGE, SALT

    data = URLSafeTimedSerializer("s" * 32, salt=SALT).loads(link.rsplit("/", 1)[1], max_age=MAX_AGE)
    assert data == {"p": "wang_min", "f": ""}
    assert run("people", "invite", "nobody").exit_code == 6


def test_a_binding_code_links_a_telegram_account_once(env: Path, monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    from approvals.config.settings import load_settings
    from approvals.services.chat import TELEGRAM
    from signoff.wiring import build_core

    run("db", "upgrade")
    unknown = run("people", "bind-code", "nobody-at-all")
    assert unknown.exit_code != 0 and "nobody-at-all" in unknown.stderr
    done = run("people", "bind-code", "徐芳", "--bot-username", "@signoff_bot")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert "徐芳（xu_fang）的绑定码" in lines[0]
    code = lines[1].removeprefix("/start ")
    assert lines[2] == f"https://t.me/signoff_bot?start={code}"
    core = build_core(load_settings(), check_schema=False)
    try:
        person = core.service.chat.link_with_code(code, service=TELEGRAM, user_id=8801,
                                                  chat_id=8801)
        assert person.key == "xu_fang"
    finally:
        core.close()


def test_a_reminder_pass_from_the_command_line(env: Path) -> None:
    run("db", "upgrade")
    done = run("--lang", "en", "remind")
    assert done.exit_code == 0, done.output
    assert "reminders 0, escalations 0, due-date flags" in done.output


def test_settings_that_do_not_load_are_refused_in_the_language_asked_for(
        env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIGNOFF_LANGUAGE", "en")
    monkeypatch.setenv("SIGNOFF_SECRET_KEY_FILE", str(tmp_path / "missing"))
    refused = run("post", "list")
    said = refused.stderr
    assert refused.exit_code == 2 and "Traceback" not in said
    assert "SIGNOFF_SECRET_KEY_FILE" in said and "missing" in said and "错误" not in said, said
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00secret")
    monkeypatch.setenv("SIGNOFF_SECRET_KEY_FILE", str(tmp_path / "binary"))
    said = run("post", "list").stderr
    assert "is not UTF-8 text" in said and "secret" not in said.replace("SECRET", ""), said
