"""How a publication ended well."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Published:
    """The article's URL and id (a mass send has neither) and what the audit row should say."""

    url: str | None
    article_id: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    wechat_status: str | None = None  # recorded with PUBLISHED, in the same transaction
