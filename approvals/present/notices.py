"""Chain notifications as people read them, and the outbox as `signoff notifications` lists it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from approvals.present.common import local_time, t
from approvals.rules.errors import Text, sentences
from approvals.rules.gates import Finding
from approvals.rules.notices import EVENT_LABEL, Event, Notice
from approvals.rules.org import OrgChart
from approvals.rules.states import STEP_LABEL
from approvals.views import DeliveryState, NotificationView


@dataclass(frozen=True)
class NoticeFacts:
    """What a notification text says about its post, gathered in the transaction that wrote it."""

    post_id: int
    title: str
    department: str
    drafter: str
    actor: str  # the person who caused it ("" for the publishing worker)
    revision_number: int | None
    revision_hash: str | None
    due_on: date
    due_estimated: bool = False
    comment: str = ""
    url: str | None = None
    problem: Text | None = None
    # What the revision's content raises (markings, personal data, the source): an approver sees
    # it before deciding, and a classified revision is said to be stopped.
    findings: tuple[Finding, ...] = ()
    waited: float | None = None  # working hours a step has waited (reminders, escalation)
    days_left: int | None = None  # working days to the due date (negative: past it)


STATE_LABEL: dict[DeliveryState, Text] = {
    DeliveryState.PENDING: Text("待发送", "pending"),
    DeliveryState.DELIVERED: Text("已送达", "delivered"),
    DeliveryState.FAILED: Text("发送失败", "failed"),
    DeliveryState.NO_CHANNEL: Text("无可用渠道", "no channel"),
}


def notice_text(notice: Notice, f: NoticeFacts, org: OrgChart, lang: str) -> str:
    """The message one person receives, in their language."""
    en = lang == "en"
    head = f"[{t(EVENT_LABEL[notice.event], lang)}]" if en else f"【{t(EVENT_LABEL[notice.event], lang)}】"
    post = (f"post #{f.post_id} “{f.title}” ({f.department}, drafted by {f.drafter})" if en
            else f"稿件 #{f.post_id}《{f.title}》（{f.department} {f.drafter} 拟稿）")
    rev = ""
    if f.revision_number is not None and f.revision_hash:
        rev = (f"revision {f.revision_number} ({f.revision_hash[:8]})" if en
               else f"第{f.revision_number}版（{f.revision_hash[:8]}）")
    comment = ""
    if f.comment:
        said = f.comment.rstrip("。.！!")
        comment = f" Comment: {said}." if en else f"意见：{said}。"
    est = (" (estimated)" if en else "（预估）") if f.due_estimated else ""
    event = notice.event
    if event is Event.STEP_OPENED:
        assert notice.step is not None
        step = t(STEP_LABEL[notice.step], lang)
        deputy = ""
        if notice.on_behalf_of:
            name = org.name_of(notice.on_behalf_of)
            deputy = f" You may act for {name}." if en else f"您可按委托代{name}办理。"
        return (f"{head} {post} waits for you at “{step}”: open {rev} and decide. "
                f"Publish by {f.due_on}{est} (art. 14).{deputy}{_findings(f.findings, lang)}"
                if en else
                f"{head}{post}已到“{step}”环节，请查看{rev}后办理。"
                f"公开期限：{f.due_on}{est}（第十四条）。{deputy}{_findings(f.findings, lang)}")
    if event is Event.PROGRESS:
        assert notice.step is not None
        step = t(STEP_LABEL[notice.step], lang)
        return (f"{head} {post}: {f.actor} completed “{step}” ({rev})." if en else
                f"{head}{post}：{f.actor}已完成“{step}”（{rev}）。")
    if event is Event.REMINDER:
        assert notice.step is not None
        step = t(STEP_LABEL[notice.step], lang)
        hours = f"{f.waited or 0:.0f}"
        deputy = ""
        if notice.on_behalf_of:
            name = org.name_of(notice.on_behalf_of)
            deputy = f" You may act for {name}." if en else f"您可按委托代{name}办理。"
        return (f"{head} {post} has waited {hours} working hours for you at “{step}”: open {rev} "
                f"and decide. Publish by {f.due_on}{est} (art. 14).{deputy}" if en else
                f"{head}{post}在“{step}”环节已等待您办理 {hours} 个工作小时，请尽快查看{rev}后办理。"
                f"公开期限：{f.due_on}{est}（第十四条）。{deputy}")
    if event is Event.ESCALATED:
        assert notice.step is not None
        step = t(STEP_LABEL[notice.step], lang)
        hours = f"{f.waited or 0:.0f}"
        return (f"{head} {post} has waited {hours} working hours at “{step}” for {f.actor}, "
                f"reminded {f.comment} time(s). Publish by {f.due_on}{est} (art. 14)." if en else
                f"{head}{post}在“{step}”环节等待{f.actor}办理已 {hours} 个工作小时，已催办 "
                f"{f.comment} 次仍未办理。公开期限：{f.due_on}{est}（第十四条）。")
    if event is Event.DUE_SOON:
        left = f.days_left or 0
        if left < 0:
            return (f"{head} {post} is {-left} working day(s) past its due date {f.due_on}{est} "
                    f"(art. 14)." if en else
                    f"{head}{post}已超过公开期限 {f.due_on}{est} {-left} 个工作日（第十四条）。")
        return (f"{head} {post} is due by {f.due_on}{est} (art. 14): {left} working day(s) "
                f"left." if en else
                f"{head}{post}公开期限为 {f.due_on}{est}（第十四条），还剩 {left} 个工作日。")
    if event is Event.NO_ONE_FOR_STEP:
        assert notice.step is not None
        step = t(STEP_LABEL[notice.step], lang)
        why = f" {t(f.problem, lang)}" if f.problem else ""
        return (f"{head} Under the org chart as it stands, nobody may take the “{step}” step of "
                f"{post}.{why or ' Fix the org chart ([chain] fallback, deputies).'}" if en else
                f"{head}按现行组织架构，{post}的“{step}”环节无人可办。"
                f"{why.strip() or '请检查组织架构配置（[chain] fallback、委托代签）。'}")
    if event is Event.CHANGES_REQUESTED:
        return (f"{head} {f.actor} sent {post} back at {rev}.{comment} Lay out a new revision "
                f"(art. 27)." if en else
                f"{head}{post}{rev}被{f.actor}退回修改。{comment}请重新排版后提交（第二十七条）。")
    if event is Event.REJECTED:
        return (f"{head} {f.actor} rejected {post}.{comment}" if en else
                f"{head}{post}已被{f.actor}否决。{comment}")
    if event is Event.WITHDRAWN:
        return (f"{head} {f.actor} withdrew {post}.{comment}" if en else
                f"{head}{post}已由{f.actor}撤回。{comment}")
    if event is Event.PUBLISHED:
        return (f"{head} {post} is published on the official account: {f.url or '—'}" if en else
                f"{head}{post}已在公众号发布：{f.url or '—'}")
    problem = t(f.problem, lang) if f.problem else ""
    if not en:
        problem = problem.rstrip("。")  # the sentence below ends it
    if event is Event.FAILED:
        return (f"{head} Publishing {post} failed: {problem} An admin may retry once it is "
                f"checked." if en else
                f"{head}{post}发布失败：{problem}。管理员核实后可重新发布。")
    if event is Event.UNCONFIRMED:
        return (f"{head} {post}: {problem} Check the account backend, then either confirm it is "
                f"published (confirm_published, with its URL) or confirm it is absent "
                f"(confirm_absent) so it is submitted anew." if en else
                f"{head}{post}：{problem}。请在公众号后台核实后，执行“确认已发布”（附文章链接）"
                f"或“确认未发布”（将重新提交）。")
    return (f"{head} {post} is on hold: {problem} The issuer entitled now may sign it again." if en
            else f"{head}{post}暂缓发布：{problem}。现任签发人可重新签发。")


def _findings(findings: tuple[Finding, ...], lang: str) -> str:
    """The content findings, stopping ones first, as one more sentence of the notice."""
    if not findings:
        return ""
    en = lang == "en"
    ordered = sorted(findings, key=lambda x: not x.blocking)
    stops = any(x.code == "classified_marker" for x in findings)
    said = sentences(Text("审查提示：", " Found: "), [x.text for x in ordered]).get(lang)
    if stops:
        said += (" This revision cannot be confirmed or approved: send it back for a clean layout."
                 if en else "本版本不能确认或同意，请退回修改。")
    return said


def notification_line(n: NotificationView, org: OrgChart, zone: ZoneInfo, lang: str) -> str:
    """One outbox row: when, to whom, through which channel, delivered or not, and the text."""
    state = t(STATE_LABEL[n.state], lang)
    channel = n.channel or "—"
    extra = ""
    if n.state is DeliveryState.PENDING and n.attempts:
        extra = (f", attempt {n.attempts}, next {local_time(n.due_at, zone)}" if lang == "en"
                 else f"，已尝试 {n.attempts} 次，下次 {local_time(n.due_at, zone)}")
    if n.last_error and n.state is not DeliveryState.DELIVERED:
        extra += f": {n.last_error}" if lang == "en" else f"：{n.last_error}"
    return (f"{local_time(n.created_at, zone)}  #{n.post_id}  → {org.name_of(n.recipient)} "
            f"[{channel}, {state}{extra}]  {n.text}")
