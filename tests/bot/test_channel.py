"""The outbox's Telegram channel against the simulator's faults: a 429 storm, Telegram away, a
reply lost after Telegram took the message; and the rules it keeps (message size, callback data
size) checked over generated cases."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from approvals.rules.states import Action
from approvals.services.state import MAX_ID
from approvals.views import DeliveryState, RevisionInput
from bot.cards import Button, split, utf16_len
from bot.telegram import channel as channel_module
from bot.telegram.app import links, make_bot
from bot.telegram.callbacks import CODE, Decide
from bot.telegram.channel import TelegramChannel
from tests.bot.conftest import World
from tests.conftest import Personas

BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


def hand_over(w: World, who: Personas) -> int:
    """A laid-out post: the drafter is told to confirm it (one Telegram notification)."""
    svc = w.core.service
    pid = svc.create_post(drafter=who.drafter, title="我局开展冬季防汛应急演练", body=BODY)
    svc.act(pid, "new_revision", who.operator, revision=RevisionInput())
    w.delivery.settle()
    return pid


def cards_about(w: World, person: str, pid: int) -> list[dict[str, object]]:
    return [m for m in w.messages(person) if f"#{pid}" in str(m["text"])]


def drafter_row(w: World, pid: int, who: Personas) -> object:
    (row,) = [n for n in w.core.service.notifications_for(post_id=pid) if n.recipient == who.drafter]
    return row


def test_a_429_storm_delays_but_every_message_arrives_once(world: World, who: Personas) -> None:
    world.control.inject("sendMessage", "retry_after", times=3, retry_after=2)
    pid = hand_over(world, who)
    assert len(cards_about(world, who.drafter, pid)) == 1
    row = drafter_row(world, pid, who)
    assert row.state is DeliveryState.DELIVERED and row.attempts == 4  # type: ignore[attr-defined]
    assert [o.split(" ")[0] for o in world.delivery.outcomes] == ["retry"] * 3 + ["delivered"]
    assert all("(Telegram: too many requests)" in o for o in world.delivery.outcomes[:3])


def test_server_errors_are_retried_and_the_message_arrives_once(world: World, who: Personas) -> None:
    world.control.inject("sendMessage", "server_error", times=2, status=502)
    pid = hand_over(world, who)
    assert len(cards_about(world, who.drafter, pid)) == 1
    assert drafter_row(world, pid, who).state is DeliveryState.DELIVERED  # type: ignore[attr-defined]


def test_a_reply_lost_after_telegram_took_the_message_is_never_sent_again(
        world: World, who: Personas) -> None:
    world.control.inject("sendMessage", "accept_then_drop", times=1)
    pid = hand_over(world, who)
    row = drafter_row(world, pid, who)
    assert row.state is DeliveryState.FAILED and row.last_error.startswith("uncertain")  # type: ignore[attr-defined]
    # Telegram holds it once; nothing retries it behind a person's back.
    assert len(cards_about(world, who.drafter, pid)) == 1
    assert world.core.notifications.pending() == []


def test_telegram_unreachable_is_a_clear_no_and_the_notification_waits(
        world: World, who: Personas) -> None:
    settings = world.settings.model_copy(update={"telegram_api_base": "http://127.0.0.1:9"})
    away = TelegramChannel(world.core.service, lambda: make_bot(settings), links(settings))
    try:
        svc = world.core.service
        pid = svc.create_post(drafter=who.drafter, title="测试稿", body=BODY)
        world.core.deps.enqueue = None  # nothing is delivered by the embedded loop now
        svc.act(pid, "new_revision", who.operator)
        row = drafter_row(world, pid, who)
        outcome = world.core.notifications.deliver(row.id, {"telegram": away})  # type: ignore[attr-defined]
        assert outcome.startswith("retry") and "unreachable" in outcome
        again = drafter_row(world, pid, who)
        assert again.state is DeliveryState.PENDING and again.attempts == 1  # type: ignore[attr-defined]
        # Telegram is back: the next attempt delivers it, once.
        world.core.deps.clock.now = again.due_at  # type: ignore[attr-defined]
        assert world.core.notifications.deliver(row.id, world.delivery.channels) \
            == "delivered"  # type: ignore[attr-defined]
        assert len(cards_about(world, who.drafter, pid)) == 1
    finally:
        away.close()


def confirmed(w: World, who: Personas) -> tuple[int, list[int], dict[str, int]]:
    """A post the drafter confirmed, its notifications (the head's card, the admins' notices)
    written and not yet delivered, and how many messages about it each of them held before."""
    svc = w.core.service
    pid = hand_over(w, who)
    w.core.deps.enqueue = None  # nothing is delivered by the embedded loop now
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    rows = [n for n in svc.notifications_for(post_id=pid) if n.state is DeliveryState.PENDING]
    assert len({n.recipient for n in rows}) >= 2
    return pid, [n.id for n in rows], {n.recipient: len(cards_about(w, n.recipient, pid))
                                       for n in rows}


def test_a_jobs_notifications_go_out_together_each_once_each_recorded(
        world: World, who: Personas) -> None:
    pid, rows, before = confirmed(world, who)
    outcomes = world.core.notifications.deliver_all(rows, world.delivery.channels)  # type: ignore[attr-defined]
    assert outcomes == ["delivered"] * len(rows)
    told = [n for n in world.core.service.notifications_for(post_id=pid) if n.id in rows]
    assert all(n.state is DeliveryState.DELIVERED and n.attempts == 1 for n in told)
    for n in told:  # each person holds their message once
        assert len(cards_about(world, n.recipient, pid)) == before[n.recipient] + 1
    # The job run again (Redis made it twice): nothing goes a second time.
    assert world.core.notifications.deliver_all(rows, world.delivery.channels) \
        == ["skipped (delivered)"] * len(rows)  # type: ignore[attr-defined]


def test_one_refusal_among_messages_sent_together_touches_only_its_own(
        world: World, who: Personas) -> None:
    pid, rows, before = confirmed(world, who)
    world.control.inject("sendMessage", "retry_after", times=1, retry_after=2)
    world.control.inject("sendMessage", "accept_then_drop", times=1)
    outcomes = world.core.notifications.deliver_all(rows, world.delivery.channels)  # type: ignore[attr-defined]
    kinds = sorted(o.split(" ")[0] for o in outcomes)
    assert kinds == sorted(["retry", "uncertain"] + ["delivered"] * (len(rows) - 2))
    after = {n.id: n for n in world.core.service.notifications_for(post_id=pid)}
    for nid, outcome in zip(rows, outcomes, strict=True):
        row = after[nid]
        sent = len(cards_about(world, row.recipient, pid)) - before[row.recipient]
        if outcome.startswith("retry"):  # a clear no: waits for its retry, nothing sent
            assert row.state is DeliveryState.PENDING and row.attempts == 1 and sent == 0
        elif outcome.startswith("uncertain"):  # Telegram took it, the reply was lost
            assert row.state is DeliveryState.FAILED and sent == 1
        else:
            assert row.state is DeliveryState.DELIVERED and sent == 1


def test_a_send_with_no_answer_in_time_is_uncertain_never_retried(
        world: World, who: Personas, monkeypatch: pytest.MonkeyPatch) -> None:
    pid, rows, before = confirmed(world, who)
    monkeypatch.setattr(channel_module, "SEND_TIMEOUT", 0.05)  # the wait for the whole job
    world.control.inject("sendMessage", "delay", times=None, seconds=1)
    outcomes = world.core.notifications.deliver_all(rows, world.delivery.channels)  # type: ignore[attr-defined]
    assert all(o.startswith("uncertain") for o in outcomes)
    world.control.clear_faults()
    told = [n for n in world.core.service.notifications_for(post_id=pid) if n.id in rows]
    assert all(n.state is DeliveryState.FAILED and n.last_error.startswith("uncertain")
               for n in told)
    assert world.core.notifications.pending() == []  # nothing waits to be sent again
    # The messages went out late all the same, each once.
    deadline = time.monotonic() + 60
    while any(len(cards_about(world, n.recipient, pid)) <= before[n.recipient] for n in told):
        assert time.monotonic() < deadline, "the late messages never arrived"
        time.sleep(0.05)
    assert all(len(cards_about(world, n.recipient, pid)) == before[n.recipient] + 1 for n in told)


# --- the rules, over generated cases ------------------------------------------------------------------


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=9000)
       | st.lists(st.sampled_from(["审", "核", "😀", "a", "\n", "𠀀", " "]), max_size=9000).map("".join),
       st.integers(min_value=5, max_value=4096))
def test_a_long_text_is_cut_into_messages_that_each_fit(text: str, limit: int) -> None:
    pieces = split(text, limit)
    assert all(utf16_len(p) <= limit for p in pieces)
    # Nothing is lost: the pieces are the text, cut at line ends or inside an over-long line.
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


@given(st.integers(min_value=1, max_value=MAX_ID), st.sampled_from(list(CODE)),
       st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_callback_data_stays_under_64_bytes_and_reads_back(post_id: int, action: Action,
                                                             revision: str) -> None:
    data = Decide.of(Button("x", post_id, revision, action)).pack()
    assert len(data.encode()) <= 64
    back = Decide.unpack(data)
    assert back.p == post_id and back.action is action and back.matches(revision)
    assert not back.matches(("f" if revision[0] != "f" else "e") + revision[1:])
