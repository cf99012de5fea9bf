"""A failed job's traceback, as RQ keeps it in Redis and logs it, holds no secret: not the app
secret, not an access token, not a Telegram bot token."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import zlib
from base64 import b64decode
from collections.abc import Iterator

import pytest
from redis import Redis
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from tests.worker.conftest import ROOT, Bench
from tests.worker.failing import ACCESS_TOKEN, OTHER_BOT_TOKEN, fail_with_secrets
from tests.worker.test_publishing import redis_text
from worker.context import make_queue
from worker.rqworker import SignoffWorker
from worker.scrub import REDACTED, RedactingFilter

BOT_TOKEN = "123456789:AAEfakeBotTokenOfTheTestsOnly_abcdefghij"
JOB = "tests.worker.failing.fail_with_secrets"


def _text(value: bytes) -> str:
    with contextlib.suppress(zlib.error):
        value = zlib.decompress(value)
    return value.decode("utf-8", "replace")


def _secrets(bench: Bench) -> tuple[str, ...]:
    return (bench.env["SIGNOFF_WECHAT_SECRET"], bench.env["SIGNOFF_TELEGRAM_TOKEN"],
            OTHER_BOT_TOKEN, ACCESS_TOKEN)


@pytest.fixture
def rq_log_filters() -> Iterator[None]:
    """The filters the worker puts on RQ's logger, removed again after the test."""
    log = logging.getLogger("rq.worker")
    before = list(log.filters)
    yield
    for added in [f for f in log.filters if f not in before]:
        log.removeFilter(added)


def test_a_failed_jobs_stored_traceback_and_log_hold_no_secret(bench: Bench) -> None:
    bench.env["SIGNOFF_TELEGRAM_TOKEN"] = BOT_TOKEN
    job = bench.queue.enqueue(JOB)
    worker = subprocess.run([sys.executable, "-m", "signoff", "worker", "--burst"], env=bench.env,
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    output = worker.stdout + worker.stderr
    assert worker.returncode == 0, output
    assert "RuntimeError" in output  # RQ logged the failure, traceback and all ...

    job = Job.fetch(job.id, connection=bench.redis, serializer=bench.queue.serializer)
    assert job.get_status() == JobStatus.FAILED
    assert job.id in FailedJobRegistry(queue=bench.queue)
    result = job.latest_result()
    assert result is not None
    stored = result.exc_string or ""  # what rq-dashboard and the jobs page show
    # RQ 2 keeps the traceback in the job's results stream (XRANGE rq:results:ID), compressed,
    # and no longer in the job's hash (HGETALL rq:job:ID): both as a client would read them
    (_, entry), = bench.redis.xrange(f"rq:results:{job.id}")
    in_stream = zlib.decompress(b64decode(entry[b"exc_string"])).decode()
    in_hash = "\n".join(_text(v) for v in bench.redis.hgetall(job.key).values())
    # what happened is kept: the exception, its chain, where it was raised
    for text in (stored, in_stream):
        assert "RuntimeError: Cannot connect to host api.telegram.org:443" in text
        assert "LookupError" in text and "fail_with_secrets" in text
        assert f"bot{REDACTED}/sendMessage" in text and f"access_token={REDACTED}" in text
    for text in (stored, in_stream, in_hash, redis_text(bench.redis), output):
        for secret in _secrets(bench):
            assert secret not in text  # ... but no secret, anywhere


def test_rqs_log_of_a_failure_is_redacted_before_any_handler_sees_it(
        redis_conn: Redis, caplog: pytest.LogCaptureFixture, rq_log_filters: None) -> None:
    secret = "wechat-app-secret-42"
    queue = make_queue(redis_conn, "secrets-test")
    job = queue.enqueue(JOB)
    worker = SignoffWorker([queue], connection=redis_conn, serializer=queue.serializer,
                           secrets=[secret, BOT_TOKEN])
    assert any(isinstance(f, RedactingFilter) for f in logging.getLogger("rq.worker").filters)
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage: {secret}")
    except RuntimeError:
        with caplog.at_level(logging.ERROR, logger="rq.worker"):
            worker.handle_exception(job, *sys.exc_info())  # RQ logs the traceback here
    assert "RuntimeError" in caplog.text and REDACTED in caplog.text
    assert secret not in caplog.text and BOT_TOKEN not in caplog.text


def test_the_helper_job_really_carries_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without them the tests above would prove nothing.
    monkeypatch.setenv("SIGNOFF_TELEGRAM_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SIGNOFF_WECHAT_SECRET", "sim-secret")
    with pytest.raises(RuntimeError) as raised:
        fail_with_secrets()
    assert BOT_TOKEN in str(raised.value) and OTHER_BOT_TOKEN in str(raised.value)
    assert "sim-secret" in str(raised.value.__cause__)
    assert ACCESS_TOKEN in str(raised.value.__cause__)
