"""Cancel publication against real RQ workers: a job already running when the cancel is accepted
never submits the post, and a queued job that finds its publication cancelled does nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq.job import Job

from approvals.rules.states import PostStatus
from approvals.views import OutboxKind
from signoff.sims.wechat import SimControl
from tests.conftest import Personas
from tests.worker.conftest import Bench, wait_for

SUBMITS = {"publish": "freepublish/submit", "mass_send": "message/mass/sendall"}


def publish_intent(bench: Bench, pid: int) -> int:
    (intent,) = [p.id for p in bench.publishing.pending()
                 if p.kind is OutboxKind.PUBLISH and p.post_id == pid]
    return intent


def finished_job(bench: Bench, job_id: str) -> Job:
    def done() -> Job | None:
        job = Job.fetch(job_id, connection=bench.redis, serializer=bench.queue.serializer)
        return job if job.get_status() in ("finished", "failed") else None

    return wait_for(done, 40)  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["publish", "mass_send"])
def test_a_job_running_when_its_publication_is_cancelled_never_submits_it(
        bench: Bench, control: SimControl, who: Personas, mode: str) -> None:
    # WeChat is slow to make the draft: the job is inside that call, holding the claim, when an
    # admin cancels. It must reach the point of no return and stop there.
    control.inject("draft/add", "latency", seconds=2.0, times=1)
    # A long lease: the claim is not renewed (and so not re-read) during the slow call, which
    # leaves the check at the point of no return as the only thing that stops the job.
    bench.env["SIGNOFF_PUBLISH_LEASE_SECONDS"] = "60"
    pid = bench.signed_post(who, mode=mode)
    intent = publish_intent(bench, pid)
    bench.start_worker("w1")
    wait_for(lambda: control.calls("draft/add") >= 1)
    assert bench.status(pid) == PostStatus.PUBLISHING.value
    bench.service.act(pid, "cancel", who.admin, comment="领导要求暂缓发布")
    job_id = bench.publishing.job_id_of(intent)
    assert job_id is not None
    job = finished_job(bench, job_id)
    assert job.get_status() == "finished"
    assert str(job.return_value()).startswith("skipped (the claim was lost")
    assert control.calls(SUBMITS[mode]) == 0
    assert control.published() == [] and control.state()["mass_sends"] == []
    view = bench.service.view(pid)
    assert view.post.status is PostStatus.ON_HOLD
    # The draft the job made is recorded (the reconciler knows every draft in the box)…
    h = view.revision.content_hash  # type: ignore[union-attr]
    ids = bench.publishing.publication(pid, h)
    assert ids.draft_media_id is not None and ids.submit_started_at is None
    assert ids.clientmsgid is None and bench.service.verify_audit().ok
    # …and reused when the issuer signs it again: published once.
    bench.service.act(pid, "sign", who.issuer, revision_hash=h)
    bench.wait_status(pid, PostStatus.PUBLISHED.value)
    assert control.calls(SUBMITS[mode]) == 1 and control.calls("draft/add") == 1


def test_a_queued_job_whose_publication_was_cancelled_does_nothing_when_it_runs(
        bench: Bench, control: SimControl, who: Personas) -> None:
    pid = bench.signed_post(who, at=datetime.now(UTC) + timedelta(hours=1))
    intent = publish_intent(bench, pid)
    (job,) = bench.jobs("worker.jobs.publish_post")
    assert job.get_status() == "scheduled"
    bench.service.act(pid, "cancel", who.operator, comment="活动延期")
    assert job.get_status() == "canceled"  # cancelled by the commit's hand-off
    # A copy of the job that escaped the cancel (a restored Redis) runs, and finds it cancelled.
    stray = bench.queue.enqueue("worker.jobs.publish_post", pid, intent)
    bench.start_worker("w1")
    done = finished_job(bench, stray.id)
    assert done.return_value() == "skipped (the publish intent was cancelled or is done)"
    assert bench.reconcile()["enqueued"] == 0  # nothing pending: nothing to put back
    assert control.calls("freepublish/submit") == 0 and control.published() == []
    assert bench.status(pid) == PostStatus.ON_HOLD.value
