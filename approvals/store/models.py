"""SQLAlchemy 2.0 typed models: posts, revisions, decisions, clearances, assets and the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC and read back as aware UTC, on SQLite and PostgreSQL alike.

    SQLite keeps no offset: without this, a local (+08:00) time would be stored as its wall
    clock and read back as if it were UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Post(Base):
    """A post and where it stands; approval state lives here (the chat FSM never holds it)."""

    __tablename__ = "posts"
    # The queue counts and pages the open posts: a partial index keeps that off the archive.
    __table_args__ = (Index("ix_posts_open", "id", postgresql_where=text("NOT archived"),
                            sqlite_where=text("NOT archived")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(32), index=True)
    drafter: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[str] = mapped_column(String(16))
    classification: Mapped[str] = mapped_column(String(16))
    formed_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(24), index=True)
    # A run is one walk of the chain; a new revision or a resubmission starts the next run.
    run: Mapped[int] = mapped_column(Integer, default=0)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by every transition; updates are conditional on it, so one of two racers wins.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The material as handed in by the drafter, before layout.
    material_format: Mapped[str] = mapped_column(String(16), default="text")
    material_body: Mapped[str] = mapped_column(Text, default="")
    repost_source: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    cover_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Publishing: "publish" (freepublish) or "mass_send" (pushed to followers); when, and the result.
    publish_mode: Mapped[str] = mapped_column(String(16), default="publish")
    scheduled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # A worker's claim is a lease: a worker that dies loses it, and another may take over.
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    article_url: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    problem_zh: Mapped[str] = mapped_column(Text, default="")  # why it is on hold or failed
    problem_en: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    revisions: Mapped[list[Revision]] = relationship(
        back_populates="post", order_by="Revision.number", lazy="raise"
    )


class Revision(Base):
    """An immutable laid-out snapshot; decisions refer to its content hash."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("post_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(64), default="")
    digest: Mapped[str] = mapped_column(String(512), default="")
    body_html: Mapped[str] = mapped_column(Text)
    cover_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    repost_source: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    category: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    made_by: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    post: Mapped[Post] = relationship(back_populates="revisions", lazy="raise")


class Decision(Base):
    """One person's decision at one step of one run, on one exact revision."""

    __tablename__ = "decisions"
    # Exactly one decision per step per run (and per re-sign attempt): the database, not a
    # lock in a web or bot process, decides who was first.
    __table_args__ = (UniqueConstraint("post_id", "run", "step", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    run: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(24))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(32))
    on_behalf_of: Mapped[str | None] = mapped_column(String(32), nullable=True)
    revision_hash: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    decided_on: Mapped[date] = mapped_column(Date)
    # The reports' time per step reads the decisions of a year by this (a range).
    decided_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Clearance(Base):
    """The issuer's art. 16 record that personal data in one revision may be published."""

    __tablename__ = "clearances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    revision_hash: Mapped[str] = mapped_column(String(64))
    basis: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(32))
    on_behalf_of: Mapped[str | None] = mapped_column(String(32), nullable=True)
    recorded_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Asset(Base):
    """An uploaded file (a cover, an in-article image, a .docx's picture), stored once by content
    hash. One that nothing refers to is deleted a grace period after its last upload."""

    __tablename__ = "assets"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # its last upload


class PublishIntent(Base):
    """The outbox: written with the sign-off in one transaction; the dispatcher puts it on the queue.

    The database is the source of truth; Redis may be wiped at any time and the reconciler puts
    every pending intent back.
    """

    __tablename__ = "publish_intents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # publish | preview
    revision_hash: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|done|cancelled
    job_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    enqueue_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Publication(Base):
    """What the official account knows of one revision: every external id, saved as soon as known."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("post_id", "revision_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    revision_hash: Mapped[str] = mapped_column(String(64))
    # An admin's retry after a failure starts a new attempt: the failed attempt's ids are cleared.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    thumb_media_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    images: Mapped[str] = mapped_column(Text, default="{}")  # JSON: asset sha256 -> uploaded URL
    content_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    draft_media_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    preview_url: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    submit_started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # WeChat's callback finds the publication by the id its event carries (indexed for it).
    publish_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    clientmsgid: Mapped[str | None] = mapped_column(String(32), nullable=True)
    msg_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    article_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    article_url: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # What WeChat last reported of this attempt's submission: freepublish's publish_status
    # ("0".."6") or the mass send's msg_status. Only a failure WeChat itself reported ("2", "3",
    # "4", "SEND_FAIL") lets a retry submit again; otherwise every retry follows the ids above.
    wechat_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """An append-only log row, hash-chained to the row before it."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(32))
    post_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head: one row, locked while a row is appended, so appends are serialized."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class Notification(Base):
    """The notification outbox: one row per person, event and channel, written in the transaction
    of the change that caused it; delivery jobs send it at least once.

    `key` is the idempotency key a channel is handed, so a duplicate delivery is recognisable.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    revision_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the audit row of the change that caused it (the reminder pass looks rows up by it)
    audit_seq: Mapped[int] = mapped_column(BigInteger, index=True)
    event: Mapped[str] = mapped_column(String(24))
    recipient: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # "" when no configured channel reaches them
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    # pending | delivered | failed | no_channel
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column()  # the next delivery attempt
    job_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    enqueue_count: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    delivery_ref: Mapped[str] = mapped_column(String(128), default="")  # the channel's message id
    # set just before the channel is asked, cleared with its answer: still set at the next
    # attempt means a worker died in between, and the service may hold the message
    sending_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WeChatMedia(Base):
    """An image already uploaded to the account, by content hash: uploaded once, reused by every
    post (the default cover above all). Permanent material stays on the account."""

    __tablename__ = "wechat_media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # image (a cover) | inline
    media_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    url: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Account(Base):
    """A person's console login: the password hash only (scrypt, salted), never the password."""

    __tablename__ = "accounts"

    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A person's bearer token for the JSON API: only its SHA-256 is kept (the token is shown
    once, when it is issued); `prefix` lets people tell their tokens apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ChatLink(Base):
    """A person's account on a chat service (Telegram now): who a chat user is, where to reach
    them, the language they asked for there (`/lang`) and the one their chat app reports. People
    in the org file with a telegram_id get a row when they first choose a language or their app
    reports English; others bind with a one-time code."""

    __tablename__ = "chat_links"
    __table_args__ = (UniqueConstraint("service", "user_id", name="uq_chat_links_user"),
                      UniqueConstraint("service", "person", name="uq_chat_links_person"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(16))  # telegram
    person: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(BigInteger)  # the chat service's id of the user
    chat_id: Mapped[int] = mapped_column(BigInteger)  # their private chat with the bot
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)  # None: as the org file
    # "en" when the chat app is in English (used until they choose with /lang); None: it is not
    app_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    display: Mapped[str] = mapped_column(String(128), default="")  # @username or name, for admins
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    linked_by: Mapped[str] = mapped_column(String(64))  # who issued the code, or "org-file"


class ChatCode(Base):
    """A one-time code that binds the first chat account to use it to `person` (only its SHA-256
    is kept)."""

    __tablename__ = "chat_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
