"""Cancel publication from the command line: one line per refusal, the usual exit codes."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from tests.cli.test_cli import QUEUE, env, run  # noqa: F401  (env: the CLI's settings fixture)


@pytest.mark.usefixtures("env")
def test_cancel_from_the_command_line_holds_the_post_and_cancels_its_job(
        redis_conn: Redis) -> None:
    run("db", "upgrade")
    run("post", "new", "--as", "li_na", "--title", "测试稿", "--body", "正文")
    run("act", "1", "new_revision", "--as", "he_jing")
    for action, person in [("confirm", "li_na"), ("approve", "zhang_wei"),
                           ("approve", "chen_gang"), ("sign", "wang_min")]:
        assert run("act", "1", action, "--as", person).exit_code == 0
    queue = Queue(QUEUE, connection=redis_conn, serializer=JSONSerializer)
    (job,) = [j for j in queue.get_jobs() if j.func_name == "worker.jobs.publish_post"]
    drafter = run("act", "1", "cancel", "--as", "li_na", "--comment", "不发了")
    assert drafter.exit_code == 3 and "只有管理员或运营方可以取消发布" in drafter.stderr
    bare = run("act", "1", "cancel", "--as", "he_jing")
    assert bare.exit_code == 2 and "必须填写意见" in bare.stderr
    done = run("act", "1", "cancel", "--as", "he_jing", "--comment", "活动改期")
    assert done.exit_code == 0, done.stderr
    assert "取消发布 → 暂缓发布" in done.output
    assert job.get_status() == "canceled"
    again = run("--lang", "en", "act", "1", "cancel", "--as", "he_jing", "--comment", "x")
    assert again.exit_code == 4 and again.stderr.count("\n") == 1
    shown = run("post", "show", "1").output
    assert "暂缓发布" in shown and "何静取消了发布：活动改期" in shown
