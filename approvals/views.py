"""Plain values that cross the façade: what faces hand in and what they get back.

No ORM row ever leaves the services; the CLI, the console, the bot and the worker see only these
frozen dataclasses (and the rules' own values), so `present` can render them without a database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from approvals.rules.assign import Assignment
from approvals.rules.errors import InvalidInput, Text
from approvals.rules.gates import Finding
from approvals.rules.notices import Event
from approvals.rules.org import Person
from approvals.rules.records import PostState
from approvals.rules.states import (
    Action,
    Category,
    Classification,
    IntentKind,
    PostStatus,
    PublishMode,
    Step,
)

# --- what faces hand in --------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionInput:
    """A layout revision as the operator hands it in; unset fields come from the material."""

    title: str | None = None
    body: str | None = None
    body_format: str = "html"
    author: str | None = None
    digest: str = ""
    cover_sha256: str | None = None
    repost_source: str | None = None
    # The layout editor: the revision hash the editor was opened on ("" when the post had none
    # yet); a save on top of someone else's newer revision is refused. None: not checked.
    based_on: str | None = None


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(value: str | None) -> date | None:
    """A day as people type it, strictly `YYYY-MM-DD` (None stays None).

    Raises:
        InvalidInput: any other form.
    """
    if value is None:
        return None
    try:
        if not _DAY.fullmatch(value.strip()):
            raise ValueError(value)
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(Text("日期“{v}”无效，应为 YYYY-MM-DD。",
                                "Invalid date “{v}”; use YYYY-MM-DD.").format(v=value)) from None


_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?:[+-]\d{2}:\d{2}|Z)?")


@dataclass(frozen=True)
class ScheduleInput:
    """When (None: as soon as it is signed) and how a post is to be published."""

    at: datetime | None = None
    mode: PublishMode | str | None = None  # None keeps the post's current mode

    @classmethod
    def parse(cls, at: str | None, mode: str | None, zone: ZoneInfo) -> ScheduleInput:
        """From what a person typed: `YYYY-MM-DDTHH:MM` (in `zone` unless a zone follows), or
        nothing for "as soon as it is signed".

        Raises:
            InvalidInput: any other form of time.
        """
        text = (at or "").strip()
        if not text:
            return cls(None, mode or None)
        try:
            if not _LOCAL_TIME.fullmatch(text):
                raise ValueError(text)
            when = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(Text("时间“{v}”无效，应为 YYYY-MM-DDTHH:MM（如 2026-12-09T09:00）。",
                                    "Invalid time “{v}”; use YYYY-MM-DDTHH:MM (like "
                                    "2026-12-09T09:00).").format(v=text[:40])) from None
        return cls(when.replace(tzinfo=zone) if when.tzinfo is None else when, mode or None)


# --- what faces get back -------------------------------------------------------------------------


@dataclass(frozen=True)
class PostSummary:
    """A post as lists and pages show it."""

    id: int
    title: str
    status: PostStatus
    department: str
    drafter: str
    category: Category
    classification: Classification
    formed_on: date
    due_on: date
    due_estimated: bool
    run: int
    revision_number: int
    version: int
    archived: bool
    publish_mode: PublishMode
    scheduled_at: datetime | None
    article_url: str | None
    published_at: datetime | None
    problem: Text  # why it is on hold or failed ("" in both languages otherwise)
    repost_source: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RevisionSummary:
    """The current laid-out revision of a post."""

    number: int
    content_hash: str
    title: str
    author: str
    digest: str
    made_by: str
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class TimelineEntry:
    """One audit row of a post, as people read it."""

    seq: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, object]
    hash: str = ""  # the row's link in the audit chain


@dataclass(frozen=True)
class PostView:
    """Everything `post show`, the console and the bot display about one post."""

    post: PostSummary
    state: PostState
    revision: RevisionSummary | None
    step: Step | None
    assignee: Assignment | None
    findings: tuple[Finding, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    preview_url: str | None = None  # the WeChat draft's temporary link for this revision
    publication: PublicationIds | None = None  # what WeChat holds of this revision


@dataclass(frozen=True)
class PostGlance:
    """A post as a chat card needs it, read in one short transaction: no timeline, no audit
    check (`view` has those; an action checks everything again anyway)."""

    post: PostSummary
    state: PostState
    preview_url: str | None = None  # the WeChat draft's temporary link for the current revision

    @property
    def revision_hash(self) -> str | None:
        """The current revision's content hash (None before layout)."""
        return self.state.revision.content_hash if self.state.revision else None


@dataclass(frozen=True)
class ActOutcome:
    """What an action did, for the face to render."""

    post_id: int
    action: Action
    status_before: PostStatus
    status_after: PostStatus
    step: Step | None
    on_behalf_of: str | None
    revision_number: int
    findings: tuple[Finding, ...] = ()
    scheduled_at: datetime | None = None
    publish_mode: PublishMode | None = None


class DeliveryState(StrEnum):
    """Where one notification stands."""

    PENDING = "pending"  # waiting for (another) delivery attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # refused for good, or out of attempts: a person looks at it
    NO_CHANNEL = "no_channel"  # no configured channel reaches the person (config check warns)


@dataclass(frozen=True)
class NotificationView:
    """One row of the notification outbox, with its delivery state."""

    id: int
    key: str
    post_id: int
    event: Event
    recipient: str
    channel: str
    language: str
    text: str
    state: DeliveryState
    attempts: int
    created_at: datetime
    due_at: datetime
    delivered_at: datetime | None
    last_error: str


# --- the layout editor ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LayoutDraft:
    """What the layout editor opens on: the current revision, or the material laid out plainly
    when there is none yet; `based_on` goes back with the save ("" when there was none)."""

    post_id: int
    based_on: str
    revision_number: int
    title: str
    author: str
    digest: str
    body_html: str
    cover_sha256: str | None


@dataclass(frozen=True)
class DocxImport:
    """A .docx as clean body HTML; its images are stored and referenced as /assets/<sha256>."""

    html: str
    images: tuple[str, ...]
    warnings: tuple[Text, ...]


@dataclass(frozen=True)
class LayoutPreview:
    """The article as it will look if saved: the body as the sanitiser keeps it, the art. 28
    footer the new revision gets; `problems` pairs each limit it breaks with its field."""

    article_html: str
    problems: tuple[tuple[str, Text], ...] = ()


# --- the notification port: what a channel is handed and answers -------------------------------


@dataclass(frozen=True)
class Message:
    """One notification as a channel delivers it; `key` recognises a duplicate delivery."""

    id: int
    key: str
    post_id: int
    event: Event
    person: Person
    channel: str
    language: str
    text: str
    attempt: int
    address: int | None = None  # where a chat channel reaches the person (their chat's id)
    # an earlier attempt began and never recorded an answer: the service may hold the message
    interrupted: bool = False


@dataclass(frozen=True)
class Delivered:
    """The channel took the message; `ref` is its own id for it (a chat message id)."""

    ref: str = ""


@dataclass(frozen=True)
class RetryAfter:
    """Not now (rate limit, network, the service down): try again after `seconds`."""

    seconds: float
    reason: str = ""


@dataclass(frozen=True)
class Permanent:
    """The channel will never take this message (blocked, unknown chat): a person looks at it."""

    reason: str


@dataclass(frozen=True)
class Uncertain:
    """The request went out and its answer was lost: the service may have taken the message. A
    channel that cannot look it up answers this rather than send it twice; a person decides."""

    reason: str


Delivery = Delivered | RetryAfter | Permanent | Uncertain


# --- the publishing outbox, as the worker sees it -------------------------------------------------


class OutboxKind(StrEnum):
    """What an outbox item asks the queue to run."""

    PUBLISH = IntentKind.PUBLISH.value
    PREVIEW = IntentKind.PREVIEW.value
    NOTIFY = "notify"


@dataclass(frozen=True)
class Handoff:
    """An outbox item a transaction created or cancelled; handed to the queue after the commit.

    A new item carries what the queue needs (`pending`), so the hand-off need not read it back.
    """

    kind: OutboxKind
    id: int
    cancel: bool = False
    pending: Pending | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Pending:
    """An outbox item that needs a live job: a publish or preview intent, or a notification."""

    kind: OutboxKind
    id: int
    post_id: int
    due_at: datetime
    job_id: str | None
    enqueue_count: int
    revision_hash: str | None = None
    channel: str = ""


@dataclass(frozen=True)
class DraftRef:
    """A draft in the account's draft box, and the revision it was made for."""

    post_id: int
    revision_hash: str
    media_id: str


@dataclass(frozen=True)
class Asset:
    """A stored file to upload."""

    sha256: str
    filename: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class StoredAsset:
    """A stored file as maintenance lists it (never its bytes)."""

    sha256: str
    filename: str
    mime: str
    size: int
    stored_at: datetime  # when it was last uploaded


@dataclass(frozen=True)
class PrunedAssets:
    """What a prune of unsaved uploads deleted (or, on a dry run, would delete)."""

    assets: tuple[StoredAsset, ...]
    dry_run: bool = False

    @property
    def size(self) -> int:
        """Their bytes, together."""
        return sum(a.size for a in self.assets)


@dataclass(frozen=True)
class Snapshot:
    """Everything a worker needs to publish one claimed post, read fresh from the database."""

    post_id: int
    revision_hash: str
    mode: PublishMode
    title: str
    author: str
    digest: str
    body_html: str
    repost_source: str | None
    footer: str
    cover: Asset | None
    images: dict[str, Asset] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """The outcome of trying to claim a post for publishing."""

    snapshot: Snapshot | None = None  # set when this worker now holds the post
    held: tuple[Finding, ...] = ()  # blocking findings: the post was put on hold
    reason: str = ""  # why nothing is to be done (published, taken by another worker, ...)
    ids: PublicationIds | None = None  # what WeChat holds of the revision, read with the claim
    cover_media_id: str | None = None  # the cover, when the account holds it already


@dataclass(frozen=True)
class PublicationIds:
    """What WeChat knows of one revision: every external id saved so far."""

    post_id: int
    revision_hash: str
    attempt: int = 0
    thumb_media_id: str | None = None
    images: dict[str, str] = field(default_factory=dict)  # asset sha256 -> uploaded URL
    content_sha256: str | None = None
    draft_media_id: str | None = None
    preview_url: str | None = None
    submit_started_at: datetime | None = None
    publish_id: str | None = None
    clientmsgid: str | None = None
    msg_id: str | None = None
    article_id: str | None = None
    article_url: str | None = None
    wechat_status: str | None = None
    last_error: str = ""


# --- the queue ------------------------------------------------------------------------------------

QUEUE_SORTS = ("-id", "id", "due", "-due")
QUEUE_PAGE_MAX = 100


@dataclass(frozen=True)
class QueueQuery:
    """Which posts the queue shows: filters, order (a QUEUE_SORTS value) and page (from 1)."""

    status: str | None = None
    department: str | None = None
    drafter: str | None = None
    search: str | None = None  # part of the title
    overdue: bool = False  # past their due date and not yet published or closed
    include_archived: bool = False
    sort: str = "-id"
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue and how many posts match in all."""

    posts: tuple[PostSummary, ...]
    total: int
    page: int
    per_page: int
    # For each post in review: its open step and who it waits on (None: nobody is entitled).
    waiting: Mapping[int, tuple[Step, str | None]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the matching posts fill (at least one)."""
        return max(1, -(-self.total // self.per_page))


# --- WeChat's callback (issue 9): what a pushed event reports, as plain values -----------------


@dataclass(frozen=True)
class PublishFinished:
    """PUBLISHJOBFINISH (or FREEPUBLISHJOBFINISH): how the submission `publish_id` ended."""

    publish_id: str
    status: int  # publish_status: 0 published, 1 publishing, 2–4 failed, 5–6 gone after publishing
    article_id: str | None = None
    url: str | None = None  # the first article's permanent link, on status 0
    fail_idx: tuple[int, ...] = ()


@dataclass(frozen=True)
class MassSendFinished:
    """MASSSENDJOBFINISH: how the mass send `msg_id` ended; `url` from ArticleUrlResult."""

    msg_id: str
    status: str  # WeChat's words: "send success", "send fail", "err(20001)" …
    url: str | None = None
    sent: int = 0
    errors: int = 0


WeChatEvent = PublishFinished | MassSendFinished


class Reported(StrEnum):
    """What applying one of WeChat's pushed events changed."""

    PUBLISHED = "published"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    URL_RECORDED = "url_recorded"  # a mass send's link, after the poller marked it published
    PENDING = "pending"  # publish_status 1: nothing to do yet
    ALREADY = "already"  # the post was finished before (by the poller, or this event earlier)
    UNKNOWN = "unknown"  # no publication of ours has this id
# --- the jobs page: publishing and notification work, with what the queue says of it -----------

# RQ statuses of a job that will still run (or runs); anything else leaves its item to be put
# on the queue again ("missing": Redis does not know the job).
LIVE_JOB_STATES = frozenset({"queued", "scheduled", "started", "deferred"})


@dataclass(frozen=True)
class QueueJob:
    """What the queue says of one job; `error` is the exception's last line, secrets redacted."""

    job_id: str
    status: str  # RQ's status, or "missing"
    error: str = ""
    func: str = ""
    post_id: int | None = None
    at: datetime | None = None  # when it ended, or was enqueued

    @property
    def live(self) -> bool:
        """Whether the job will still run (or is running)."""
        return self.status in LIVE_JOB_STATES


@dataclass(frozen=True)
class PublishWork:
    """A signed post on its way out: its pending intent, its job, and what this person may do."""

    post_id: int
    title: str
    status: PostStatus
    publish_mode: PublishMode
    scheduled_at: datetime | None
    intent_id: int | None  # the pending publish intent, if any
    due_at: datetime | None
    job: QueueJob | None
    last_error: str  # the publication's last error (as the worker stored it, redacted)
    problem: Text  # why it failed or is held
    claimed_by: str | None
    offered: tuple[Action, ...]  # retry / cancel, as allowed_actions says
    redispatch: bool  # pending, and no live job: it may be put on the queue again now


@dataclass(frozen=True)
class NotifyWork:
    """A notification not yet delivered, or given up on."""

    id: int
    post_id: int
    recipient: str
    event: Event
    channel: str
    state: DeliveryState
    attempts: int
    due_at: datetime
    last_error: str
    job: QueueJob | None
    retry: bool  # failed for good: it may be sent again
    redispatch: bool  # pending with no live job


@dataclass(frozen=True)
class JobsOverview:
    """Everything the jobs page shows; `queue_known` is False when the queue did not answer."""

    publishing: tuple[PublishWork, ...]
    notifications: tuple[NotifyWork, ...]
    failed_jobs: tuple[QueueJob, ...]  # failed jobs not shown with an item above
    queue_known: bool
