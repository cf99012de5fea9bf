"""Exactly once, for real: whatever WeChat answers or fails to answer, one article or one send per
post, or a named state a person can act on — never a second one.

Each test makes WeChat (the simulator, a real HTTP server) misbehave at one point and lets real
RQ workers run to the end.
"""

from __future__ import annotations

import pytest

from approvals.rules.errors import InvalidTransition
from approvals.rules.notices import Event
from approvals.rules.states import PostStatus
from signoff.sims.wechat import SimControl
from tests.conftest import Personas
from tests.worker.conftest import Bench, wait_for

PUBLISHED, FAILED, UNCONFIRMED = (PostStatus.PUBLISHED.value, PostStatus.FAILED.value,
                                  PostStatus.UNCONFIRMED.value)


def problem(bench: Bench, pid: int) -> tuple[str, str]:
    p = bench.service.view(pid).post.problem
    return p.zh, p.en


# --- freepublish -------------------------------------------------------------------------------


@pytest.mark.parametrize("errcode", [45011, -1])
def test_a_submit_answered_with_an_errcode_is_retried_as_usual_not_treated_as_unknown(
        bench: Bench, control: SimControl, who: Personas, errcode: int) -> None:
    control.inject("freepublish/submit", "errcode", errcode=errcode, times=1)
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED)
    assert control.calls("freepublish/submit") == 2  # WeChat said no; the retry submitted again
    assert control.calls("freepublish/batchget") == 0  # nothing was unknown: no search
    assert len(control.published()) == 1


def test_a_permanent_refusal_fails_the_post_and_the_admins_retry_submits_it(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("freepublish/submit", "errcode", errcode=48001, times=1)
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, FAILED)
    zh, en = problem(bench, pid)
    assert "48001" in zh and "认证" in zh and "verification" in en
    assert "publish_id" not in en  # WeChat holds nothing: a retry may submit
    failed = [n for n in bench.service.notifications_for(post_id=pid) if n.event is Event.FAILED]
    assert {n.recipient for n in failed} >= {who.drafter, who.admin, who.issuer}
    assert all("48001" in n.text for n in failed)
    bench.service.act(pid, "retry", who.admin, comment="已开通发布权限")
    bench.wait_status(pid, PUBLISHED)
    assert control.calls("freepublish/submit") == 2 and len(control.published()) == 1


def test_a_quota_error_after_the_submit_fails_the_post_and_the_retry_follows_its_publish_id(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("freepublish/get", "errcode", errcode=45009, times=1)  # daily quota: permanent
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, FAILED)
    (publication,) = control.state()["publications"]
    zh, en = problem(bench, pid)
    assert f"already submitted to WeChat, publish_id {publication['publish_id']}; retry will " \
           "check it, not resubmit" in en
    assert publication["publish_id"] in zh and "不会重复提交" in zh
    bench.service.act(pid, "retry", who.admin, comment="配额已恢复")
    bench.wait_status(pid, PUBLISHED)
    assert control.calls("freepublish/submit") == 1  # followed, never submitted again
    assert len(control.published()) == 1
    assert bench.service.view(pid).post.article_url == control.published()[0]["url"]


def test_polling_that_runs_out_while_wechat_still_publishes_is_followed_by_the_retry(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.configure(publish_delay_seconds=6.0)
    bench.env["SIGNOFF_PUBLISH_POLL_SECONDS"] = "1"
    bench.core.settings.publish_retries = 0  # the hand-off enqueues one attempt, no retries
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, FAILED)  # the only attempt polled for a second: still publishing
    assert "retry will check it, not resubmit" in problem(bench, pid)[1]
    wait_for(lambda: control.published(), 30)  # WeChat finishes on its own
    bench.service.act(pid, "retry", who.admin, comment="微信已发布完成")
    bench.wait_status(pid, PUBLISHED)
    assert control.calls("freepublish/submit") == 1 and len(control.published()) == 1


@pytest.mark.parametrize("status", [2, 3, 4])
def test_a_publication_wechat_reports_failed_is_submitted_again_by_the_retry(
        bench: Bench, control: SimControl, who: Personas, status: int) -> None:
    control.inject("freepublish/submit", "publish_outcome", status=status, times=1)
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, FAILED)
    assert f"publish_status={status}" in problem(bench, pid)[1]
    assert "a retry submits it again" in problem(bench, pid)[1]
    assert control.published() == []
    bench.service.act(pid, "retry", who.admin, comment="已修改后重新发布")
    bench.wait_status(pid, PUBLISHED)
    assert control.calls("freepublish/submit") == 2 and len(control.published()) == 1


@pytest.mark.parametrize("status", [5, 6])
def test_published_then_deleted_or_blocked_goes_to_a_person_and_a_retry_is_refused(
        bench: Bench, control: SimControl, who: Personas, status: int) -> None:
    control.inject("freepublish/submit", "publish_outcome", status=status, times=1)
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, UNCONFIRMED)
    assert f"publish_status {status}" in problem(bench, pid)[1]
    with pytest.raises(InvalidTransition):
        bench.service.act(pid, "retry", who.admin, comment="再发一次")
    # The person checked: it is gone, and it should be online. A fresh submission follows.
    bench.service.act(pid, "confirm_absent", who.admin, comment="后台核实文章已被删除，需重新发布")
    bench.wait_status(pid, PUBLISHED)
    live = [a for a in control.published() if not a["is_deleted"]]
    assert len(live) == 1 and bench.service.view(pid).post.article_url == live[0]["url"]


def test_a_lost_reply_to_a_submit_wechat_took_is_found_among_the_published_not_resubmitted(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("freepublish/submit", "drop_reply", times=1)  # WeChat did it; the answer is lost
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED, timeout=60)
    assert control.calls("freepublish/submit") == 1 and len(control.published()) == 1
    assert bench.service.view(pid).post.article_url == control.published()[0]["url"]


def test_a_lost_submit_nothing_can_confirm_waits_for_a_person_who_answers_absent(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("freepublish/submit", "drop", times=1)  # lost before WeChat saw it
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, UNCONFIRMED, timeout=60)
    zh, en = problem(bench, pid)
    assert "confirm it is absent" in en and "确认未发布" in zh
    assert control.calls("freepublish/submit") == 1  # never a second submission on a guess
    with pytest.raises(InvalidTransition):
        bench.service.act(pid, "retry", who.admin, comment="重试")
    told = {n.recipient for n in bench.service.notifications_for(post_id=pid)
            if n.event is Event.UNCONFIRMED}
    assert told == {*bench.core.org.admins, *bench.core.org.operators}
    bench.service.act(pid, "confirm_absent", who.operator, comment="后台草稿箱与已发表中均无此文")
    bench.wait_status(pid, PUBLISHED)
    assert len(control.published()) == 1


def test_without_batchget_a_lost_reply_is_unconfirmed_at_once_and_a_person_confirms_the_url(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("freepublish/batchget", "errcode", errcode=48001, times=None)
    control.inject("freepublish/submit", "drop_reply", times=1)
    pid = bench.signed_post(who)
    bench.start_worker("w1")
    bench.wait_status(pid, UNCONFIRMED, timeout=60)
    assert "48001" in problem(bench, pid)[1]
    with pytest.raises(InvalidTransition):
        bench.service.act(pid, "retry", who.admin, comment="重试")
    url = wait_for(lambda: control.published(), 30)[0]["url"]
    bench.service.act(pid, "confirm_published", who.admin, url=url, comment="后台已见文章")
    view = bench.service.view(pid)
    assert view.post.status is PostStatus.PUBLISHED and view.post.article_url == url
    assert control.calls("freepublish/submit") == 1 and len(control.published()) == 1
    assert {n.recipient for n in bench.service.notifications_for(post_id=pid)
            if n.event is Event.PUBLISHED} >= {who.drafter, who.issuer}


# --- mass send ---------------------------------------------------------------------------------


def test_a_mass_send_failing_after_its_msg_id_is_followed_by_the_retry_never_sent_twice(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("message/mass/get", "errcode", errcode=45009, times=1)
    pid = bench.signed_post(who, mode="mass_send")
    bench.start_worker("w1")
    bench.wait_status(pid, FAILED)
    (sent,) = control.state()["mass_sends"]
    assert f"msg_id {sent['msg_id']}; retry will check it, not send again" in problem(bench, pid)[1]
    bench.service.act(pid, "retry", who.admin, comment="配额已恢复")
    bench.wait_status(pid, PUBLISHED)
    assert len(control.state()["mass_sends"]) == 1


def test_a_mass_send_wechat_reports_failed_goes_again_under_a_new_clientmsgid(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("message/mass/sendall", "mass_outcome", status="SEND_FAIL", times=1)
    pid = bench.signed_post(who, mode="mass_send")
    bench.start_worker("w1")
    bench.wait_status(pid, FAILED)
    assert "a retry sends it again" in problem(bench, pid)[1]
    bench.service.act(pid, "retry", who.admin, comment="重新群发")
    bench.wait_status(pid, PUBLISHED)
    first, second = control.state()["mass_sends"]
    assert (first["status"], second["status"]) == ("SEND_FAIL", "SEND_SUCCESS")
    assert first["clientmsgid"] != second["clientmsgid"]


def test_a_lost_reply_to_a_mass_send_is_resent_under_the_same_clientmsgid_and_sent_once(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("message/mass/sendall", "drop_reply", times=1)
    pid = bench.signed_post(who, mode="mass_send")
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED)
    assert control.calls("message/mass/sendall") == 2  # the resend was answered 45065
    assert len(control.state()["mass_sends"]) == 1


def test_a_mass_sends_draft_gone_at_the_send_is_made_again_and_sent_once(
        bench: Bench, control: SimControl, who: Personas) -> None:
    # The draft left the box between the check and the send (an earlier send of ours used it
    # up, or someone deleted it): a clear "no" to this request, not to the post.
    control.inject("message/mass/sendall", "errcode", errcode=40007, times=1)
    pid = bench.signed_post(who, mode="mass_send")
    bench.start_worker("w1")
    bench.wait_status(pid, PUBLISHED)
    assert control.calls("message/mass/sendall") == 2 and control.calls("draft/add") == 2
    assert len(control.state()["mass_sends"]) == 1


def test_a_mass_send_deleted_after_sending_goes_to_a_person(
        bench: Bench, control: SimControl, who: Personas) -> None:
    control.inject("message/mass/sendall", "mass_outcome", status="DELETE", times=1)
    pid = bench.signed_post(who, mode="mass_send")
    bench.start_worker("w1")
    bench.wait_status(pid, UNCONFIRMED)
    with pytest.raises(InvalidTransition):
        bench.service.act(pid, "retry", who.admin, comment="重试")
    assert len(control.state()["mass_sends"]) == 1
