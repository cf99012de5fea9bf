"""The texts people read, in zh-CN and en, pure: the CLI, the console and the bot add only markup."""

from approvals.present.common import local_time, t, who
from approvals.present.notices import NoticeFacts, notice_text, notification_line
from approvals.present.posts import (
    event_line,
    findings_lines,
    outcome_text,
    post_line,
    post_view,
    schedule_text,
)

__all__ = [
    "NoticeFacts",
    "event_line",
    "findings_lines",
    "local_time",
    "notice_text",
    "notification_line",
    "outcome_text",
    "post_line",
    "post_view",
    "schedule_text",
    "t",
    "who",
]
