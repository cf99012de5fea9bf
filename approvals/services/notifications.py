"""The notification outbox: rows written with the change that caused them, delivered at least once.

Who is told what is a rule (`approvals.rules.notices`); the texts come from `approvals.present`
in each recipient's language; a channel (the log channel now, chat later) delivers through the
small `Channel` port, and answers delivered, retry after N seconds, or permanent.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import insert, literal_column, select, update
from sqlalchemy.orm import Session

from approvals import present
from approvals.rules.assign import resolve_assignee
from approvals.rules.errors import Text, normalize_language
from approvals.rules.gates import content_findings
from approvals.rules.notices import CHANNELS, Event, Notice, channels_for, notices
from approvals.rules.records import PostState
from approvals.rules.states import PostStatus
from approvals.services.base import Deps, UnitOfWork
from approvals.services.chat import ChatAccounts
from approvals.services.state import MAX_ID
from approvals.store import models as m
from approvals.views import (
    Delivered,
    Delivery,
    DeliveryState,
    Message,
    NotificationView,
    OutboxKind,
    Pending,
    Permanent,
    RetryAfter,
    Uncertain,
)

log = logging.getLogger("signoff.notify")

# With the backoff doubling up to ten minutes, 20 attempts ride out about two hours of a chat
# service being away before a person is asked to look.
MAX_ATTEMPTS = 20
MAX_BACKOFF_SECONDS = 600.0


class Channel(Protocol):
    """A way to reach people (a log file, a chat). Implemented outside the core."""

    name: str

    def deliver(self, message: Message) -> Delivery:
        """Send one message; never raise for a failure the answer can describe."""
        ...

    # A channel may also offer `deliver_many(messages) -> list[Delivery]`: several messages sent
    # together, an answer each in the same order (the chat channel sends them concurrently).


class Notifications:
    """Writes chain notifications into the outbox and records what delivery made of them."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # --- writing (inside the transaction of the change) ------------------------------------------

    def record(self, uow: UnitOfWork, post: m.Post, before: PostState, after: PostState,
               actor: str, audit_seq: int, *, comment: str = "", problem: Text | None = None,
               url: str | None = None, title: str | None = None) -> int:
        """Write one row per person told and channel that reaches them; returns how many."""
        return self.prepare(uow, post, before, after, actor, comment=comment, problem=problem,
                            url=url, title=title).write(uow, audit_seq)

    def prepare(self, uow: UnitOfWork, post: m.Post, before: PostState, after: PostState,
                actor: str, *, comment: str = "", problem: Text | None = None,
                url: str | None = None, title: str | None = None) -> Prepared:
        """Who is told what of this change, in their language, before its audit row is written:
        `write` then only puts the rows in (the audit log's head is locked from the append to
        the commit, so the less work in between, the sooner the next change may append)."""
        found = notices(before, after, actor, self.deps.org, self.deps.today())
        return self.compose(uow, post, after, found, actor, comment=comment, problem=problem,
                            url=url, title=title, fallback=before)

    def tell(self, uow: UnitOfWork, post: m.Post, state: PostState, found: Sequence[Notice],
             actor: str, audit_seq: int, *, tag: str = "", comment: str = "",
             waited: float | None = None, days_left: int | None = None) -> int:
        """Write the rows of `found` about `post` (in `state`), caused by audit row `audit_seq`;
        `tag` tells apart rows of one cause sent again (a second reminder)."""
        return self.compose(uow, post, state, found, actor, tag=tag, comment=comment,
                            waited=waited, days_left=days_left).write(uow, audit_seq)

    def compose(self, uow: UnitOfWork, post: m.Post, state: PostState, found: Sequence[Notice],
                actor: str, *, tag: str = "", comment: str = "", problem: Text | None = None,
                url: str | None = None, title: str | None = None,
                fallback: PostState | None = None, waited: float | None = None,
                days_left: int | None = None) -> Prepared:
        """The rows of `found`: each person's text in their language, once per channel that
        reaches them."""
        org, now = self.deps.org, self.deps.now()
        if not found:
            return Prepared(post.id, now, [], tag)
        revision = state.revision or (fallback.revision if fallback else None)
        links = self._links(uow, {n.recipient for n in found})
        rows: list[dict[str, object]] = []
        for notice in found:
            person = org.people[notice.recipient]
            linked = links.get(notice.recipient, {})
            chosen = next((lang for lang in linked.values() if lang), None)
            lang = normalize_language(chosen or person.language)
            facts = present.NoticeFacts(
                post_id=post.id, title=title or post.title,
                department=org.departments[post.department].name
                if post.department in org.departments else post.department,
                drafter=org.name_of(post.drafter), actor=org.name_of(actor)
                if actor in org.people else "",
                revision_number=revision.number if revision else None,
                revision_hash=revision.content_hash if revision else None,
                due_on=post.due_on, due_estimated=post.due_estimated, comment=comment,
                url=url, problem=resolve_assignee(state, notice.step, org).problem
                if notice.event is Event.NO_ONE_FOR_STEP and notice.step else problem,
                findings=tuple(content_findings(state, org))
                if notice.event in (Event.STEP_OPENED, Event.REMINDER) else (),
                waited=waited, days_left=days_left,
            )
            text = present.notice_text(notice, facts, org, lang)
            for channel in channels_for(person, self.deps.channels, linked) or [""]:
                rows.append({
                    "post_id": post.id,
                    "revision_hash": revision.content_hash if revision else None,
                    "event": notice.event.value,
                    "recipient": notice.recipient, "channel": channel, "language": lang,
                    "text": text, "due_at": now, "created_at": now,
                })
        return Prepared(post.id, now, rows, tag)

    def _links(self, uow: UnitOfWork, people: set[str]) -> dict[str, dict[str, str | None]]:
        """For each of `people`, the chat services they linked and the language they read there:
        the one chosen, else English when their chat app is in English (read only when a chat
        channel is switched on)."""
        if all(not CHANNELS.get(c) for c in self.deps.channels):
            return {}
        found: dict[str, dict[str, str | None]] = {}
        for person, service, language, app in uow.session.execute(
                select(m.ChatLink.person, m.ChatLink.service, m.ChatLink.language,
                       m.ChatLink.app_language).where(m.ChatLink.person.in_(people))):
            found.setdefault(person, {})[service] = language or app
        return found

    def record_status_change(self, uow: UnitOfWork, post: m.Post, before: PostState,
                             status: PostStatus, actor: str, audit_seq: int, **facts: object
                             ) -> int:
        """`record` for a change of status alone (the worker's: published, failed, on hold)."""
        return self.record(uow, post, before, replace(before, status=status), actor, audit_seq,
                           **facts)  # type: ignore[arg-type]

    # --- reading ----------------------------------------------------------------------------------

    def rows(self, *, person: str | None = None, post_id: int | None = None,
             limit: int | None = None) -> list[NotificationView]:
        """Outbox rows, oldest first, optionally for one person and/or one post."""
        q = select(m.Notification).order_by(m.Notification.id)
        if person is not None:
            q = q.where(m.Notification.recipient == person)
        if post_id is not None:
            if not 0 < post_id <= MAX_ID:
                return []  # no post has such an id
            q = q.where(m.Notification.post_id == post_id)
        if limit is not None:
            q = q.limit(limit)
        with self.deps.sessions() as s:
            return [_view(n) for n in s.scalars(q)]

    def pending(self) -> list[Pending]:
        """Notifications waiting for a delivery job, oldest first."""
        with self.deps.sessions() as s:
            rows = s.execute(select(
                m.Notification.id, m.Notification.post_id, m.Notification.due_at,
                m.Notification.job_id, m.Notification.enqueue_count, m.Notification.channel)
                .where(m.Notification.state == DeliveryState.PENDING.value)
                .order_by(m.Notification.id)).all()
        return [Pending(OutboxKind.NOTIFY, nid, pid, due, job, count, None, channel)
                for nid, pid, due, job, count, channel in rows]

    def get_pending(self, ids: Sequence[int]) -> list[Pending]:
        """These notifications as the dispatcher needs them, those still waiting for delivery."""
        if not ids:
            return []
        with self.deps.sessions() as s:
            rows = s.execute(select(
                m.Notification.id, m.Notification.post_id, m.Notification.due_at,
                m.Notification.job_id, m.Notification.enqueue_count, m.Notification.channel)
                .where(m.Notification.id.in_(ids),
                       m.Notification.state == DeliveryState.PENDING.value)
                .order_by(m.Notification.id)).all()
        return [Pending(OutboxKind.NOTIFY, nid, pid, due, job, count, None, channel)
                for nid, pid, due, job, count, channel in rows]

    def mark_enqueued(self, jobs: Sequence[tuple[int, str, int]]) -> None:
        """Record that the dispatcher put each notification on the queue: (id, job id, times enqueued)."""
        self.deps.record_enqueued(m.Notification.__table__, jobs)

    def deliver(self, notification_id: int, channels: Mapping[str, Channel]) -> str:
        """Deliver one notification through its channel and record the answer; returns a summary
        (`deliver_all` of one)."""
        return self.deliver_all([notification_id], channels)[0]

    def deliver_all(self, notification_ids: Sequence[int], channels: Mapping[str, Channel]
                    ) -> list[str]:
        """Deliver a job's notifications and record the answers; a summary each, in order.

        They are read and claimed in one transaction, sent (a channel that can send several at
        once, the chat's, sends them together, each chat's in order), and their answers recorded
        in one more: two write transactions a job, not two a notification.

        Delivery is at least once: a worker that dies after the channel took a message but
        before this is recorded delivers it again, with the same key; a chat message is never
        sent twice (its "sending" mark tells the next attempt an earlier one may have sent it).
        """
        ids = list(dict.fromkeys(notification_ids))
        outcomes: dict[int, str] = {}
        now = self.deps.now()
        with self.deps.uow() as uow:  # the reads, and the "sending" mark of chat messages
            s = uow.session
            rows = self._rows(s, ids)
            due = []
            for nid in ids:
                row = rows.get(nid)
                if row is None:
                    outcomes[nid] = "skipped (no such notification)"
                elif row.state != DeliveryState.PENDING.value:
                    outcomes[nid] = f"skipped ({row.state})"
                elif row.due_at > now + timedelta(seconds=1):
                    outcomes[nid] = f"skipped (not due until {row.due_at.isoformat()})"
                else:
                    due.append(row)
            addresses = ChatAccounts(self.deps).addresses_in(
                s, {(r.channel, r.recipient) for r in due if CHANNELS.get(r.channel)})
            sends = [self._send_of(row, channels, addresses.get((row.channel, row.recipient)))
                     for row in due]
            marked = [row for row, send in zip(due, sends, strict=True)
                      if send.message is not None and CHANNELS.get(row.channel)]
            claimed = self._claim(s, marked, now)
            for row in marked:
                if row.id not in claimed:
                    outcomes[row.id] = "skipped (another job is delivering it)"
            sends = [send for send in sends if send.id not in outcomes]
        answers = self._send_all(sends)
        if answers:
            with self.deps.uow() as uow:
                outcomes.update(self._record_answers(uow, answers))
        return [outcomes[nid] for nid in ids]

    @staticmethod
    def _rows(s: Session, ids: Sequence[int]) -> dict[int, m.Notification]:
        if not ids:
            return {}
        return {r.id: r for r in s.scalars(
            select(m.Notification).where(m.Notification.id.in_(ids)))}

    @staticmethod
    def _claim(s: Session, rows: Sequence[m.Notification], now: datetime) -> set[int]:
        """Mark chat messages as being sent, each only if its mark is still as it was read: of
        two jobs holding a row at once (Redis lost one that was still running, and it was made
        again), one sends. A chat message must not go twice: an attempt that never records its
        answer leaves the mark for the next one to see. (The log channel needs no mark: it
        repeats a keyed line instead.) The ids claimed."""
        seen = m.Notification.sending_at
        pending = m.Notification.state == DeliveryState.PENDING.value
        fresh = [r.id for r in rows if r.sending_at is None]
        claimed: set[int] = set()
        if fresh:
            claimed.update(s.scalars(update(m.Notification).where(
                m.Notification.id.in_(fresh), pending, seen.is_(None))
                .values(sending_at=now).returning(m.Notification.id)
                .execution_options(synchronize_session=False)))
        for row in rows:
            if row.sending_at is not None and s.execute(update(m.Notification).where(
                    m.Notification.id == row.id, pending, seen == row.sending_at)
                    .values(sending_at=now).execution_options(synchronize_session=False)
                    ).rowcount == 1:  # type: ignore[attr-defined]
                claimed.add(row.id)
        return claimed

    def _send_of(self, row: m.Notification, channels: Mapping[str, Channel],
                 address: int | None) -> _Send:
        person = self.deps.org.people.get(row.recipient)
        channel = channels.get(row.channel)
        if person is None:
            return _Send(row.id, None, None, Permanent(
                f"{row.recipient} is no longer in the org chart"))
        if channel is None:
            return _Send(row.id, None, None, Permanent(
                f"the {row.channel!r} channel is not set up in this worker"))
        return _Send(row.id, channel, Message(
            row.id, row.key, row.post_id, Event(row.event), person, row.channel, row.language,
            row.text, row.attempts + 1, address, interrupted=row.sending_at is not None))

    @staticmethod
    def _send_all(sends: Sequence[_Send]) -> dict[int, Delivery]:
        """Each channel's answers to its messages (a channel bug or an unforeseen error: retry)."""
        answers = {send.id: send.answer for send in sends if send.answer is not None}
        by_channel: dict[int, list[_Send]] = {}
        for send in sends:
            if send.answer is None:
                by_channel.setdefault(id(send.channel), []).append(send)
        for group in by_channel.values():
            channel = group[0].channel
            messages = [send.message for send in group if send.message is not None]
            many = getattr(channel, "deliver_many", None)
            try:
                got = list(many(messages)) if many is not None \
                    else [_deliver_one(channel, message) for message in messages]
            except Exception as exc:
                got = [RetryAfter(0, f"{type(exc).__name__}")] * len(messages)
            answers.update(zip((send.id for send in group), got, strict=True))
        return answers

    def _record_answers(self, uow: UnitOfWork, answers: Mapping[int, Delivery]
                        ) -> dict[int, str]:
        now, s = self.deps.now(), uow.session
        rows = self._rows(s, list(answers))
        outcomes: dict[int, str] = {}
        for notification_id, answer in answers.items():
            row = rows.get(notification_id)
            if row is None or row.state != DeliveryState.PENDING.value:
                outcomes[notification_id] = "skipped (recorded by another job)"
                continue
            attempts = row.attempts + 1
            values: dict[str, object]
            if isinstance(answer, Delivered):
                values = {"state": DeliveryState.DELIVERED.value, "delivered_at": now,
                          "delivery_ref": answer.ref[:128], "last_error": ""}
                outcome = "delivered"
            elif isinstance(answer, Uncertain):
                values = {"state": DeliveryState.FAILED.value,
                          "last_error": f"uncertain: {answer.reason}"}
                outcome = f"uncertain ({answer.reason})"
                log.warning("notification %s may or may not have been delivered: %s", row.key,
                            answer.reason)
            elif isinstance(answer, Permanent) or attempts >= MAX_ATTEMPTS:
                values = {"state": DeliveryState.FAILED.value, "last_error": answer.reason}
                outcome = f"failed ({answer.reason})"
                log.warning("notification %s failed for good: %s", row.key, answer.reason)
            else:
                wait = max(answer.seconds, min(2.0 ** attempts, MAX_BACKOFF_SECONDS))
                values = {"due_at": now + timedelta(seconds=wait), "last_error": answer.reason}
                outcome = f"retry in {wait:.0f} s ({answer.reason})"
            s.execute(update(m.Notification).where(
                m.Notification.id == notification_id,
                m.Notification.state == DeliveryState.PENDING.value,
                m.Notification.attempts == row.attempts).values(
                    attempts=attempts, sending_at=None, **values)
                .execution_options(synchronize_session=False))
            if values.get("due_at") is not None:
                uow.hand_off(OutboxKind.NOTIFY, notification_id)
            outcomes[notification_id] = outcome
        return outcomes


@dataclass(frozen=True)
class _Send:
    """A claimed notification: its channel and message, or the answer it has without sending."""

    id: int
    channel: Channel | None
    message: Message | None = None
    answer: Delivery | None = None


def _deliver_one(channel: Channel | None, message: Message) -> Delivery:
    assert channel is not None
    try:
        return channel.deliver(message)
    except Exception as exc:  # a channel bug or an unforeseen network error: retry
        return RetryAfter(0, f"{type(exc).__name__}")


_TABLE = m.Notification.__table__
# What every new row starts with is written into the statement, not bound for each row: a
# change's rows (four people told, say) then stay under the driver's 50 parameters for a
# statement it parses once.
_NEW = {"attempts": literal_column("0"), "enqueue_count": literal_column("0"),
        "delivery_ref": literal_column("''"), "last_error": literal_column("''")}
_INSERT_PENDING = insert(_TABLE).values(
    state=literal_column(f"'{DeliveryState.PENDING.value}'"), **_NEW,
).returning(_TABLE.c.key, _TABLE.c.id)
_INSERT_UNREACHED = insert(_TABLE).values(
    state=literal_column(f"'{DeliveryState.NO_CHANNEL.value}'"), **_NEW)


@dataclass(frozen=True)
class Prepared:
    """A change's notification rows but for the audit row they hang on (`Notifications.prepare`)."""

    post_id: int
    now: datetime
    rows: list[dict[str, object]]
    tag: str = ""  # a second reminder of one cause: its key differs by this

    def write(self, uow: UnitOfWork, audit_seq: int) -> int:
        """Put the rows in, keyed by the change's audit row; returns how many. Where the queue
        adapter names jobs ahead (`Deps.plan_job`), each channel's rows record the job that will
        deliver them, enqueued under that id once the transaction commits."""
        if not self.rows:
            return 0
        reached, unreached = [], []
        for row in self.rows:
            channel = str(row["channel"] or "")
            values = {**row}  # its state follows from the channel
            values.update(audit_seq=audit_seq, key=f"p{self.post_id}-a{audit_seq}-"
                          f"{row['event']}{self.tag}-{row['recipient']}-{channel or 'none'}")
            (reached if channel else unreached).append(values)
        planned: dict[str, str] = {}
        if uow.deps.plan_job is not None:
            # A job per channel, named after its rows' keys (unique in the table, so no other
            # write's job has the same name: an escalation hangs on the audit row of the step's
            # opening too).
            keys: dict[str, list[str]] = {}
            for values in reached:
                keys.setdefault(str(values["channel"]), []).append(str(values["key"]))
            for channel, ks in keys.items():
                digest = hashlib.sha256("\n".join(sorted(ks)).encode()).hexdigest()[:12]
                planned[channel] = uow.deps.plan_job(
                    f"p{self.post_id}-a{audit_seq}-{channel}-{digest}")
        for values in reached:
            values["job_id"] = planned.get(str(values["channel"]))
        # One INSERT for those a channel reaches (each id comes back with its unique key), one
        # for those none does (rare).
        conn = uow.session.connection()
        ids = dict(conn.execute(_INSERT_PENDING, reached).all()) if reached else {}
        if unreached:
            conn.execute(_INSERT_UNREACHED, unreached)
        for values in reached:
            nid = ids[values["key"]]
            uow.hand_off(OutboxKind.NOTIFY, nid, pending=Pending(
                OutboxKind.NOTIFY, nid, self.post_id, self.now, values["job_id"], 0, None,
                str(values["channel"])))
        return len(reached) + len(unreached)


def _view(n: m.Notification) -> NotificationView:
    return NotificationView(
        id=n.id, key=n.key, post_id=n.post_id, event=Event(n.event), recipient=n.recipient,
        channel=n.channel, language=n.language, text=n.text, state=DeliveryState(n.state),
        attempts=n.attempts, created_at=n.created_at, due_at=n.due_at,
        delivered_at=n.delivered_at, last_error=n.last_error,
    )


__all__ = ["Channel", "Notice", "Notifications"]
