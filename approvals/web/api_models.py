"""The JSON API's request and answer shapes: one set of pydantic models that both validates
every request and writes the OpenAPI document, so what is documented is what is checked."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from flask_openapi3 import FileStorage
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from werkzeug.datastructures import FileStorage as UploadedFile

from approvals.rules.states import (
    SYSTEM_ACTIONS,
    Action,
    Category,
    Classification,
    PostStatus,
    PublishMode,
)
from approvals.services.handin import BODY_MAX_HANDIN
from approvals.views import QUEUE_PAGE_MAX, QUEUE_SORTS

ID_MAX = 2**31 - 1
Day = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)]  # parsed by parse_day
BODY_MAX = BODY_MAX_HANDIN  # characters of a draft's body (the core checks its own limits too)
# Everything a person does to a post through /actions (a new layout goes to /revisions).
ApiAction = StrEnum("ApiAction", {a.name: a.value for a in Action  # type: ignore[misc]
                                  if a not in SYSTEM_ACTIONS and a is not Action.NEW_REVISION})
SortOrder = StrEnum("SortOrder", {f"S{i}": s for i, s in enumerate(QUEUE_SORTS)})  # type: ignore[misc]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ErrorBody(BaseModel):
    """What went wrong, in the caller's language."""

    code: str = Field(description="a stable code: unauthorized, invalid_input, not_found, "
                                  "not_allowed, stale_revision, already_decided, "
                                  "invalid_transition, gate_blocked, …")
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    """Every 4xx answer."""

    error: ErrorBody


class PostPath(BaseModel):
    """A post in the path."""

    post_id: int = Field(ge=1, le=ID_MAX)


class PostQuery(BaseModel):
    """Which posts to list: the console queue's filters, order and pages."""

    status: PostStatus | None = None
    department: str | None = Field(None, max_length=64)
    drafter: str | None = Field(None, max_length=64)
    q: str | None = Field(None, max_length=200, description="part of the title")
    overdue: bool = False
    include_archived: bool = False
    sort: SortOrder = Field(SortOrder("-id"), description="id, -id, due or -due")
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=QUEUE_PAGE_MAX)


class PostIn(_In):
    """A draft handed in by the token's owner (the drafter)."""

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=BODY_MAX)
    body_format: Literal["text", "markdown", "html"] = "text"
    category: Category = Category.PUBLICITY
    classification: Classification = Classification.PROACTIVE
    formed_on: Day | None = Field(None, description="YYYY-MM-DD (default: today)")
    department: str | None = Field(None, max_length=64,
                                   description="default: the drafter's department")
    repost_source: str | None = Field(None, max_length=200,
                                      description="a repost's source, as on the allowlist")


class PostDocxForm(_In):
    """A draft handed in as a Word document (multipart/form-data)."""

    file: FileStorage = Field(description="the .docx file")
    title: str = Field(min_length=1, max_length=200)
    category: Category = Category.PUBLICITY
    classification: Classification = Classification.PROACTIVE
    formed_on: Day | None = Field(None, description="YYYY-MM-DD")
    repost_source: str | None = Field(None, max_length=200)

    @field_validator("file", mode="before")
    @classmethod
    def _uploaded(cls, value: Any) -> Any:
        # A plain form field of that name is text, not a file (it ended in an AttributeError).
        if not isinstance(value, UploadedFile):
            raise ValueError("a file upload is expected here (multipart/form-data)")
        return value


class RevisionIn(_In):
    """A new layout of the post; `base_revision` is the hash of the revision it was made from
    (a layout made from an older revision is refused)."""

    base_revision: str | None = Field(None, max_length=64)
    title: str | None = Field(None, min_length=1, max_length=200)
    author: str | None = Field(None, max_length=64)
    digest: str = Field("", max_length=500)
    body_html: str | None = Field(None, min_length=1, max_length=BODY_MAX)
    comment: str = Field("", max_length=2000)


class ActionIn(_In):
    """An action on the revision the caller saw (its hash, or a unique prefix of it)."""

    action: ApiAction
    revision: str | None = Field(None, max_length=64)
    comment: str = Field("", max_length=2000)
    schedule_at: str | None = Field(None, max_length=40,
                                    description="schedule: YYYY-MM-DDTHH:MM in the unit's zone; "
                                                "empty for as soon as signed")
    mode: PublishMode | None = Field(None, description="schedule: publish or mass_send")
    basis: str | None = Field(None, max_length=2000, description="clear_pii: the recorded basis")
    url: str | None = Field(None, max_length=1024, description="confirm_published: the article")


class RevisionOut(BaseModel):
    """A laid-out revision."""

    number: int
    hash: str
    title: str
    author: str
    digest: str
    made_by: str
    created_at: datetime


class FindingOut(BaseModel):
    """One gate's verdict and the article of the rules it enforces."""

    code: str
    article: str
    blocking: bool
    message: str


class WeChatIds(BaseModel):
    """What WeChat holds of the post's current revision."""

    draft_media_id: str | None
    publish_id: str | None
    msg_id: str | None
    article_id: str | None
    article_url: str | None
    status: str | None


class PostOut(BaseModel):
    """A post as the caller may see it, with the actions open to the caller now."""

    id: int
    title: str
    status: PostStatus
    status_label: str
    department: str
    drafter: str
    category: Category
    classification: Classification
    formed_on: str
    due_on: str
    due_estimated: bool
    revision: RevisionOut | None
    step: str | None
    waiting_on: str | None
    findings: list[FindingOut]
    allowed_actions: list[str]
    preview_url: str | None = Field(description="the signed preview page of the revision")
    wechat_preview_url: str | None
    publish_mode: PublishMode
    scheduled_at: datetime | None
    article_url: str | None
    published_at: datetime | None
    problem: str
    wechat: WeChatIds | None


class DocxPostOut(PostOut):
    """A post handed in as a .docx, with what the conversion could not keep."""

    warnings: list[str]


class PostBrief(BaseModel):
    """A post as a list shows it (GET /posts/{id} has the rest)."""

    id: int
    title: str
    status: PostStatus
    status_label: str
    department: str
    drafter: str
    category: Category
    formed_on: str
    due_on: str
    due_estimated: bool
    revision_number: int
    step: str | None
    waiting_on: str | None
    scheduled_at: datetime | None
    article_url: str | None
    published_at: datetime | None


class PostListOut(BaseModel):
    """One page of posts."""

    posts: list[PostBrief]
    total: int
    page: int
    per_page: int
    pages: int


class ActionOut(BaseModel):
    """What the action did, and the post now."""

    action: str
    status_before: PostStatus
    status_after: PostStatus
    message: str
    post: PostOut


class AuditEntryOut(BaseModel):
    """One row of the post's hash-chained audit trail."""

    seq: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]
    hash: str


class AuditOut(BaseModel):
    """The post's audit trail, oldest first."""

    post_id: int
    entries: list[AuditEntryOut]


class MeOut(BaseModel):
    """Whose token this is."""

    person: str
    name: str
    department: str | None
    roles: list[str]
    language: str
