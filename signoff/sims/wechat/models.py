"""The simulated account's records: uploaded media, drafts, publish jobs and mass sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Media:
    """An uploaded image: an article-body image (uploadimg), a permanent material or a temporary media."""

    kind: str  # uploadimg | image | thumb | temporary
    url: str
    filename: str
    size: int
    sha256: str
    created_at: float
    media_id: str | None = None

    @property
    def is_permanent(self) -> bool:
        """Whether it may serve as a draft cover (only add_material ids may)."""
        return self.kind in ("image", "thumb")

    def as_dict(self) -> dict[str, Any]:
        """The record as the inspection API shows it."""
        return {"kind": self.kind, "media_id": self.media_id, "url": self.url, "filename": self.filename,
                "size": self.size, "sha256": self.sha256, "created_at": self.created_at}


@dataclass
class Draft:
    """One draft in the draft box: up to eight articles."""

    media_id: str
    articles: list[dict[str, Any]]
    create_time: int
    update_time: int
    tempkey: str

    def as_dict(self) -> dict[str, Any]:
        """The record as the inspection API shows it."""
        return {"articles": self.articles, "create_time": self.create_time, "update_time": self.update_time}


@dataclass
class Publication:
    """One freepublish job, from submission to its final status."""

    publish_id: str
    draft_media_id: str
    articles: list[dict[str, Any]]  # a snapshot taken at submission
    submitted_at: float
    due_at: float
    outcome: int = 0  # the status it will end in: 0, or an injected 2/3/4
    fail_idx: list[int] = field(default_factory=list)
    status: int = 1
    article_id: str | None = None
    article_urls: list[str] = field(default_factory=list)
    deleted: list[bool] = field(default_factory=list)
    published_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The record as the inspection API shows it."""
        return {"publish_id": self.publish_id, "draft_media_id": self.draft_media_id, "status": self.status,
                "fail_idx": self.fail_idx, "article_id": self.article_id, "article_urls": self.article_urls,
                "titles": [a["title"] for a in self.articles],
                "submitted_at": self.submitted_at, "published_at": self.published_at}

    def entries(self) -> list[dict[str, Any]]:
        """One flat record per published article."""
        return [
            {"publish_id": self.publish_id, "article_id": self.article_id, "idx": idx, "url": url,
             "title": article["title"], "author": article["author"], "digest": article["digest"],
             "content": article["content"], "thumb_media_id": article["thumb_media_id"],
             "content_source_url": article["content_source_url"], "published_at": self.published_at,
             "is_deleted": deleted}
            for idx, (article, url, deleted) in enumerate(
                zip(self.articles, self.article_urls, self.deleted, strict=True), start=1)
        ]


@dataclass
class MassSend:
    """One message/mass/sendall job."""

    msg_id: int
    msg_data_id: int
    msgtype: str
    media_id: str | None
    articles: list[dict[str, Any]]
    is_to_all: bool
    tag_id: int | None
    clientmsgid: str | None
    dedup_key: str
    created_at: float
    due_at: float
    total: int
    status: str = "SENDING"
    outcome: str = "SEND_SUCCESS"  # the status it will end in (an injected SEND_FAIL or DELETE)
    article_urls: list[str] = field(default_factory=list)
    finished_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The record as the inspection API shows it."""
        return {"msg_id": self.msg_id, "msg_data_id": self.msg_data_id, "msgtype": self.msgtype,
                "media_id": self.media_id, "titles": [a["title"] for a in self.articles],
                "is_to_all": self.is_to_all, "tag_id": self.tag_id, "clientmsgid": self.clientmsgid,
                "status": self.status, "article_urls": self.article_urls, "created_at": self.created_at,
                "finished_at": self.finished_at}
