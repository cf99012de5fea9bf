"""Chat accounts on a real database: one-time binding codes, who a chat user is, the language they
chose in chat, and the Telegram channel's address and language in the notification outbox."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy import Engine, event, select

from approvals.bootstrap import Core, bootstrap
from approvals.config.settings import Settings
from approvals.rules.errors import InvalidInput, NotAllowed, NotFound
from approvals.rules.notices import Event
from approvals.rules.org import OrgChart
from approvals.services.chat import TELEGRAM, app_language, code_hash
from approvals.store import models as m
from approvals.views import Delivered, DeliveryState, Message, Uncertain
from tests.conftest import EXAMPLE_ORG, Clock, Personas

BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"


@pytest.fixture
def chat_core(engine: Engine, org: OrgChart, clock: Clock, who: Personas) -> Core:
    """The core with the Telegram channel on, and the drafter without a telegram_id in the org
    file (she links her account with a code)."""
    people = dict(org.people)
    people[who.drafter] = replace(people[who.drafter], telegram_id=None)
    core = bootstrap(Settings(org_file=EXAMPLE_ORG, notify_channels=["telegram"]), engine=engine,
                     org=replace(org, people=people), clock=clock)
    return core


def test_a_code_links_the_first_account_that_sends_it_once(chat_core: Core, who: Personas) -> None:
    chat = chat_core.service.chat
    assert chat.person_for(TELEGRAM, 555001) is None
    code, _ = chat.issue_code(who.drafter, by=who.admin)
    person = chat.link_with_code(code, service=TELEGRAM, user_id=555001, chat_id=555001,
                                 display="@lina")
    assert person.key == who.drafter and person.language == "zh-CN"
    assert chat.person_for(TELEGRAM, 555001) == person
    with pytest.raises(InvalidInput):  # spent
        chat.link_with_code(code, service=TELEGRAM, user_id=555002, chat_id=555002)
    assert chat.person_for(TELEGRAM, 555002) is None
    with chat_core.deps.sessions() as s:  # only the hash is kept
        assert s.scalars(select(m.ChatCode.code_hash)).all() == [code_hash(code)]
        actions = s.scalars(select(m.AuditEntry.action).order_by(m.AuditEntry.seq)).all()
    assert actions[-2:] == ["chat.code_issued", "chat.linked"]


def test_an_expired_forged_or_foreign_code_links_nobody(chat_core: Core, who: Personas,
                                                        clock: Clock) -> None:
    chat = chat_core.service.chat
    code, _ = chat.issue_code(who.drafter, by=who.admin)
    for bad in ["", "short", code + "x", code.upper() if code.upper() != code else code[::-1],
                "a" * 65, "with space in it!", "../../etc/passwd"]:
        with pytest.raises(InvalidInput):
            chat.link_with_code(bad, service=TELEGRAM, user_id=555001, chat_id=555001)
    clock.advance(days=3, seconds=1)
    with pytest.raises(InvalidInput) as caught:
        chat.link_with_code(code, service=TELEGRAM, user_id=555001, chat_id=555001)
    assert "过期" in caught.value.text.zh and "expired" in caught.value.text.en
    # The head's Telegram account (from the org file) cannot be taken over with her code.
    fresh, _ = chat.issue_code(who.drafter, by=who.admin)
    head_id = chat_core.org.people[who.head].telegram_id
    assert head_id is not None
    with pytest.raises(NotAllowed):
        chat.link_with_code(fresh, service=TELEGRAM, user_id=head_id, chat_id=head_id)
    assert chat.person_for(TELEGRAM, head_id).key == who.head  # type: ignore[union-attr]


def test_a_new_code_moves_the_person_to_their_new_account(chat_core: Core, who: Personas) -> None:
    chat = chat_core.service.chat
    for user in (555001, 555009):
        code, _ = chat.issue_code(who.drafter, by=who.admin)
        chat.link_with_code(code, service=TELEGRAM, user_id=user, chat_id=user)
    assert chat.person_for(TELEGRAM, 555001) is None
    assert chat.person_for(TELEGRAM, 555009).key == who.drafter  # type: ignore[union-attr]
    assert chat.address(TELEGRAM, who.drafter) == 555009
    with pytest.raises(NotFound):
        chat.issue_code("nobody-here", by=who.admin)


def test_the_language_chosen_in_chat_is_what_the_person_is_told_in(
        chat_core: Core, who: Personas) -> None:
    svc, chat = chat_core.service, chat_core.service.chat
    head_id = chat_core.org.people[who.head].telegram_id
    assert head_id is not None
    with pytest.raises(InvalidInput):
        chat.set_language(TELEGRAM, head_id, head_id, "fr")
    with pytest.raises(NotFound):
        chat.set_language(TELEGRAM, 999999, 999999, "en")
    assert chat.set_language(TELEGRAM, head_id, head_id, "en").language == "en"
    assert chat.person_for(TELEGRAM, head_id).language == "en"  # type: ignore[union-attr]
    pid = svc.create_post(drafter=who.drafter, title="我局开展冬季防汛应急演练", body=BODY)
    svc.act(pid, "new_revision", who.operator)
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    (told,) = [n for n in svc.notifications_for(post_id=pid)
               if n.recipient == who.head and n.event is Event.STEP_OPENED]
    assert told.channel == TELEGRAM and told.language == "en" and "waiting for you" in told.text


def test_telegram_reaches_linked_people_and_the_rest_get_a_visible_row(
        chat_core: Core, who: Personas) -> None:
    svc = chat_core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    svc.act(pid, "new_revision", who.operator)
    (row,) = svc.notifications_for(post_id=pid)  # the drafter has no account yet
    assert row.state is DeliveryState.NO_CHANNEL
    code, _ = svc.chat.issue_code(who.drafter, by=who.admin)
    svc.chat.link_with_code(code, service=TELEGRAM, user_id=555001, chat_id=777001)
    later = svc.create_post(drafter=who.drafter, title="测试稿二", body=BODY)
    svc.act(later, "new_revision", who.operator)
    (row,) = svc.notifications_for(post_id=later)
    assert row.state is DeliveryState.PENDING and row.channel == TELEGRAM
    seen: list[Message] = []

    class Recorder:
        name = TELEGRAM

        def deliver(self, message: Message) -> Delivered:
            seen.append(message)
            return Delivered("42")

    assert chat_core.notifications.deliver(row.id, {TELEGRAM: Recorder()}) == "delivered"
    assert seen[0].address == 777001 and not seen[0].interrupted


def test_an_attempt_that_never_recorded_its_answer_is_not_sent_blindly_again(
        chat_core: Core, who: Personas) -> None:
    """A worker that dies after asking the channel leaves the mark; the next attempt tells the
    channel, which answers 'uncertain' rather than send the message a second time."""
    svc = chat_core.service
    head_id = chat_core.org.people[who.head].telegram_id
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    svc.act(pid, "new_revision", who.operator)
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    (row,) = [n for n in svc.notifications_for(post_id=pid) if n.recipient == who.head]

    class Dies:
        name = TELEGRAM

        def deliver(self, message: Message) -> Delivered:
            raise SystemExit("the worker is killed while Telegram holds the message")

    with pytest.raises(SystemExit):
        chat_core.notifications.deliver(row.id, {TELEGRAM: Dies()})
    seen: list[Message] = []

    class Careful:
        name = TELEGRAM

        def deliver(self, message: Message) -> Delivered | Uncertain:
            seen.append(message)
            return Uncertain("an earlier attempt may have sent it") if message.interrupted \
                else Delivered("1")

    assert chat_core.notifications.deliver(row.id, {TELEGRAM: Careful()}).startswith("uncertain")
    assert seen[0].interrupted and seen[0].address == head_id
    (after,) = [n for n in svc.notifications_for(post_id=pid) if n.recipient == who.head]
    assert after.state is DeliveryState.FAILED and after.last_error.startswith("uncertain")


def test_two_jobs_delivering_one_notification_at_once_send_it_once(
        chat_core: Core, who: Personas) -> None:
    """Two delivery jobs holding one row at the same moment (Redis lost a job that was still
    running, and it was made again): both read the row before either marks it; one sends."""
    if chat_core.engine.dialect.name == "sqlite":
        pytest.skip("SQLite takes the write lock before the read: the two cannot overlap there")
    svc = chat_core.service
    pid = svc.create_post(drafter=who.drafter, title="测试稿", body=BODY)
    svc.act(pid, "new_revision", who.operator)
    h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
    svc.act(pid, "confirm", who.drafter, revision_hash=h)
    (row,) = [n for n in svc.notifications_for(post_id=pid) if n.recipient == who.head]
    # Each delivery waits, before it marks the row, until the other has read it too.
    both_read = threading.Barrier(2, timeout=30)

    def before_mark(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        if sql.lstrip().upper().startswith("UPDATE NOTIFICATIONS SET SENDING_AT"):
            both_read.wait()

    sent: list[Message] = []

    class Slow:
        name = TELEGRAM

        def deliver(self, message: Message) -> Delivered:
            sent.append(message)
            time.sleep(0.2)
            return Delivered(str(len(sent)))

    event.listen(chat_core.engine, "before_cursor_execute", before_mark)
    try:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda _: chat_core.notifications.deliver(
                row.id, {TELEGRAM: Slow()}), range(2)))
    finally:
        event.remove(chat_core.engine, "before_cursor_execute", before_mark)
    assert sorted(answers) == ["delivered", "skipped (another job is delivering it)"]
    assert len(sent) == 1 and not sent[0].interrupted
    (after,) = [n for n in svc.notifications_for(post_id=pid) if n.recipient == who.head]
    assert after.state is DeliveryState.DELIVERED


@pytest.mark.parametrize("code, expected", [
    ("en", "en"), ("en-US", "en"), ("EN-gb", "en"), (" en_AU", "en"), ("zh-hans", None),
    ("zh-CN", None), ("de", None), ("", None), (None, None), ("fr-en", None),
])
def test_a_chat_apps_language_counts_when_it_is_english(code: str | None,
                                                        expected: str | None) -> None:
    assert app_language(code) == expected


def test_until_a_person_chooses_they_are_told_in_their_chat_apps_language(
        chat_core: Core, who: Personas) -> None:
    svc, chat = chat_core.service, chat_core.service.chat
    head_id = chat_core.org.people[who.head].telegram_id
    assert head_id is not None
    assert chat.note_app_language(TELEGRAM, 999999, "en") is None  # a stranger: nothing kept
    noted = chat.note_app_language(TELEGRAM, head_id, "en-US")
    assert noted is not None and noted.language == "en" and noted.app_language == "en"
    assert chat.person_for(TELEGRAM, head_id) == noted

    def told(title: str) -> str:
        pid = svc.create_post(drafter=who.drafter, title=title, body=BODY)
        svc.act(pid, "new_revision", who.operator)
        h = svc.view(pid).revision.content_hash  # type: ignore[union-attr]
        svc.act(pid, "confirm", who.drafter, revision_hash=h)
        (row,) = [n for n in svc.notifications_for(post_id=pid)
                  if n.recipient == who.head and n.event is Event.STEP_OPENED]
        return row.language

    assert told("我局开展冬季防汛应急演练") == "en"
    assert chat.note_app_language(TELEGRAM, head_id, "zh-hans").language == "zh-CN"  # type: ignore[union-attr]
    assert told("我局开展冬季防汛应急演练（二）") == "zh-CN"
    chat.set_language(TELEGRAM, head_id, head_id, "zh")  # chosen: the app no longer counts
    assert chat.note_app_language(TELEGRAM, head_id, "en").language == "zh-CN"  # type: ignore[union-attr]
    assert told("我局开展冬季防汛应急演练（三）") == "zh-CN"
    with chat_core.deps.sessions() as s:  # one row for the head, kept up to date
        rows = s.scalars(select(m.ChatLink).where(m.ChatLink.person == who.head)).all()
    assert [(r.user_id, r.language, r.app_language, r.linked_by) for r in rows] == \
        [(head_id, "zh-CN", "en", "org-file")]
