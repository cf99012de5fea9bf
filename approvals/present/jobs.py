"""The jobs page's words: what the queue says of a job, in zh-CN and en."""

from __future__ import annotations

from approvals.present.common import t
from approvals.rules.errors import Text
from approvals.views import QueueJob

JOB_STATUS: dict[str, Text] = {
    "queued": Text("排队中", "queued"),
    "scheduled": Text("定时等待", "scheduled"),
    "deferred": Text("等待前置任务", "deferred"),
    "started": Text("执行中", "running"),
    "finished": Text("已结束", "finished"),
    "failed": Text("失败", "failed"),
    "stopped": Text("已停止", "stopped"),
    "canceled": Text("已取消", "cancelled"),
    "missing": Text("队列中没有（巡检会补派）", "not on the queue (the reconciler puts it back)"),
}
NO_JOB = Text("尚未派发（巡检会派发）", "not dispatched yet (the reconciler will)")
UNKNOWN = Text("队列无法连接，状态未知", "the queue does not answer; state unknown")

JOB_KIND: dict[str, Text] = {
    "worker.jobs.publish_post": Text("发布", "publish"),
    "worker.jobs.prepare_preview": Text("预览草稿", "preview draft"),
    "worker.jobs.delete_draft": Text("删除草稿", "delete a draft"),
    "worker.jobs.deliver_notifications": Text("发送通知", "deliver notifications"),
}


def job_status(job: QueueJob | None, lang: str, *, known: bool = True) -> str:
    """What the queue says of a work item's job, in the person's language."""
    if not known:
        return t(UNKNOWN, lang)
    if job is None:
        return t(NO_JOB, lang)
    return t(JOB_STATUS.get(job.status, Text(job.status, job.status)), lang)


def job_kind(func: str, lang: str) -> str:
    """What a job does, in the person's language (its function name when unknown)."""
    return t(JOB_KIND[func], lang) if func in JOB_KIND else func
