"""What WeChat's reported outcomes mean, in words: one source for the poller (freepublish/get,
mass/get) and the callback (PUBLISHJOBFINISH, MASSSENDJOBFINISH), so both say the same thing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from approvals.rules.errors import Text

# publish_status values (freepublish/get and the PUBLISHJOBFINISH event)
PUBLISHED = 0
PUBLISHING = 1
FAILED_STATUS = {
    2: Text("原创声明校验未通过", "the originality check failed"),
    3: Text("发布失败", "publishing failed"),
    4: Text("未通过平台审核", "rejected by the platform's review"),
}
GONE_STATUS = {
    5: Text("发布后文章已被删除", "it was published and then deleted"),
    6: Text("发布后文章已被封禁", "it was published and then blocked"),
}
CHECK_BACKEND = Text("请在公众号后台核实，然后执行“确认已发布”（附文章链接）或“确认未发布”。",
                     "Check the account backend, then confirm it published (with its URL) or "
                     "confirm it is absent.")

# mass/get's msg_status values; the MASSSENDJOBFINISH event's Status is mapped onto them
SEND_SUCCESS = "SEND_SUCCESS"
SEND_FAIL = "SEND_FAIL"
SENDING = "SENDING"
_MASS_FAILED = re.compile(r"send fail|err\(\d{1,9}\)")


def publish_failed(publish_id: str, status: int, fail_idx: Sequence[int] | object) -> Text:
    """WeChat reported the submission failed (publish_status 2, 3, 4): a retry submits again."""
    why = FAILED_STATUS.get(status, Text(f"状态 {status}", f"status {status}"))
    return Text(f"微信发布未成功：{why.zh}（publish_status={status}，fail_idx={fail_idx}）；"
                "重新发布将再次提交",
                f"WeChat did not publish: {why.en} (publish_status={status}, "
                f"fail_idx={fail_idx}); a retry submits it again")


def publish_gone(publish_id: str, status: int) -> Text:
    """Published, then deleted or blocked (publish_status 5, 6): a person decides."""
    why = GONE_STATUS[status]
    return Text(f"微信报告{why.zh}（publish_id {publish_id}，publish_status={status}）。"
                f"{CHECK_BACKEND.zh}",
                f"WeChat reports {why.en} (publish_id {publish_id}, publish_status {status}). "
                f"{CHECK_BACKEND.en}")


def publish_unclear(publish_id: str, status: int) -> Text:
    """A publish_status WeChat does not document: whether it published is unknown, and a retry
    would only follow the same submission; a person decides."""
    return Text(f"微信报告了无法识别的发布状态（publish_id {publish_id}，publish_status={status}）。"
                f"{CHECK_BACKEND.zh}",
                f"WeChat reported a publish status it does not document (publish_id "
                f"{publish_id}, publish_status {status}). {CHECK_BACKEND.en}")


def mass_send_failed(said: str) -> bool:
    """Whether the MASSSENDJOBFINISH event's Status says the send failed: "send fail", or
    "err(N)" (refused by the platform's review). Anything else is no failure to act on."""
    return bool(_MASS_FAILED.fullmatch(said.strip().lower()))


def mass_unclear(msg_id: str, said: str) -> Text:
    """A mass send's status WeChat does not document: it may have reached every follower, so
    sending it again is a person's decision."""
    return Text(f"微信报告了无法识别的群发状态（msg_id {msg_id}，“{said[:40]}”）。{CHECK_BACKEND.zh}",
                f"WeChat reported a mass-send status it does not document (msg_id {msg_id}, "
                f"“{said[:40]}”). {CHECK_BACKEND.en}")


def mass_failed(msg_id: str, said: str = SEND_FAIL) -> Text:
    """WeChat reported the mass send failed: a retry sends it again (`said`: WeChat's words)."""
    return Text(f"群发失败（msg_id {msg_id}，{said}）；重新发布将再次群发",
                f"the mass send failed (msg_id {msg_id}, {said}); a retry sends it again")


def mass_deleted(msg_id: str, status: str) -> Text:
    """Sent, then deleted: sending it again is a person's decision."""
    return Text(f"群发后消息已被删除（msg_id {msg_id}，{status}）。{CHECK_BACKEND.zh}",
                f"the mass send was deleted after sending (msg_id {msg_id}, {status}). "
                f"{CHECK_BACKEND.en}")
