"""Posts as people read them: the post page, list rows, timelines, findings and outcomes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from approvals.present.common import local_time, t, who
from approvals.rules.errors import Text
from approvals.rules.gates import Finding
from approvals.rules.org import OrgChart
from approvals.rules.states import (
    ACTION_LABEL,
    CATEGORY_LABEL,
    CLASSIFICATION_LABEL,
    PUBLISH_MODE_LABEL,
    STATUS_LABEL,
    STEP_LABEL,
    Action,
    Category,
    Classification,
    PostStatus,
    PublishMode,
    Step,
)
from approvals.views import ActOutcome, PostSummary, PostView, TimelineEntry

EVENT_LABEL = {
    "post.created": Text("提交稿件", "handed in the material"),
    "gates.passed": Text("门槛检查通过", "gates passed"),
    "gates.refused": Text("门槛检查未通过，签发被拒", "gates refused the sign-off"),
    # WeChat's callback: a mass send's article link, learned after it was marked published
    "post.article_url": Text("微信回报文章链接", "WeChat reported the article's link"),
    # the jobs page
    "notification.retry": Text("重发失败的通知", "sent a failed notification again"),
    "outbox.redispatch": Text("重新派发任务", "put the work on the queue again"),
}


def event_line(e: TimelineEntry, org: OrgChart, zone: ZoneInfo, lang: str) -> str:
    """One timeline row: when, who, what, on which revision, with comments and 代签."""
    actor = who(e.actor, org, lang)
    d = e.detail
    if e.action in EVENT_LABEL:
        what = t(EVENT_LABEL[e.action], lang)
    else:
        action = Action(e.action.removeprefix("post."))
        what = t(ACTION_LABEL[action], lang)
        if "step" in d and action is not Action.SIGN:
            what += f"（{t(STEP_LABEL[Step(str(d['step']))], lang)}）" if lang != "en" else \
                f" ({t(STEP_LABEL[Step(str(d['step']))], lang)})"
    parts = [f"{local_time(e.at, zone)}  {actor}  {what}"]
    if d.get("on_behalf_of"):
        parts.append(t(Text("代{p}签", "for {p}"), lang).format(p=org.name_of(str(d["on_behalf_of"]))))
    if str(d.get("note", "")).startswith("fallback_for:"):
        usual = str(d["note"]).split(":", 1)[1].split(";")[0]
        parts.append(t(Text("按三审不同人原则代替{p}", "in place of {p} (four eyes)"), lang)
                     .format(p=org.name_of(usual)))
    if d.get("revision"):
        rev = t(Text("第{n}版", "rev. {n}"), lang).format(n=d["revision"])
        parts.append(f"{rev} {str(d.get('revision_hash', ''))[:8]}")
    if e.action == "post.schedule":
        parts.append(schedule_text(_parse_time(d.get("at")), str(d.get("mode") or "publish"),
                                   zone, lang))
    if d.get("url"):
        parts.append(str(d["url"]))
    if d.get("reason_zh"):
        parts.append(str(d["reason_en" if lang == "en" else "reason_zh"]))
    if d.get("comment"):
        parts.append(t(Text("意见：{c}", "comment: {c}"), lang).format(c=d["comment"]))
    findings = d.get("findings")
    if isinstance(findings, list) and findings:
        key = "en" if lang == "en" else "zh"
        parts.append("; ".join(str(f[key]) for f in findings if isinstance(f, dict)))
    return "  ·  ".join(parts)


def findings_lines(findings: Iterable[Finding], lang: str) -> list[str]:
    """One line per finding, marked ✘ (blocking) or ! (warning)."""
    return [f"  {'✘' if f.blocking else '!'} {f.text.get(lang)}" for f in findings]


def post_view(v: PostView, org: OrgChart, zone: ZoneInfo, lang: str,
              allowed: list[Action] | None = None, person: str | None = None) -> str:
    """The full `post show` page."""
    p, en = v.post, lang == "en"
    status = t(STATUS_LABEL[PostStatus(p.status)], lang)
    lines = [f"#{p.id}  {p.title}"]
    step = ""
    if v.step is not None:
        holder = org.name_of(v.assignee.person) if v.assignee and v.assignee.person else "—"
        step = (f" — open step: {t(STEP_LABEL[v.step], lang)} ({holder})" if en
                else f" — 当前环节：{t(STEP_LABEL[v.step], lang)}（{holder}）")
    lines.append((f"status: {status}" if en else f"状态：{status}") + step)
    dept = org.departments.get(p.department)
    cat = t(CATEGORY_LABEL[Category(p.category)], lang)
    cls = t(CLASSIFICATION_LABEL[Classification(p.classification)], lang)
    dname = dept.name if dept else p.department
    lines.append(f"department: {dname}  drafter: {org.name_of(p.drafter)}  category: {cat}  "
                 f"classification: {cls}" if en else
                 f"科室：{dname}  拟稿人：{org.name_of(p.drafter)}  类别：{cat}  属性：{cls}")
    est = (" (estimated)" if en else "（预估）") if p.due_estimated else ""
    lines.append(f"formed on {p.formed_on}; publish by {p.due_on}{est} (art. 14: 20 working days)"
                 if en else f"信息形成：{p.formed_on}  公开期限：{p.due_on}{est}（第十四条，20个工作日）")
    if p.article_url:
        lines.append(("article: " if en else "文章链接：") + p.article_url)
    if p.status in (PostStatus.ON_HOLD, PostStatus.FAILED) and p.problem.zh:
        lines.append(("problem: " if en else "问题：") + t(p.problem, lang))
    if (p.scheduled_at is not None or p.publish_mode is not PublishMode.PUBLISH) and \
            p.status is not PostStatus.PUBLISHED:
        lines.append(schedule_text(p.scheduled_at, p.publish_mode, zone, lang))
    if p.repost_source:
        lines.append(("source: " if en else "来源：") + p.repost_source)
    if v.revision is not None:
        r = v.revision
        lines.append(f"revision {r.number}: {r.content_hash}  laid out by {org.name_of(r.made_by)}"
                     if en else
                     f"当前版本：第{r.number}版 {r.content_hash}  排版：{org.name_of(r.made_by)}")
        if v.preview_url:
            lines.append(("preview (temporary link): " if en else "预览（临时链接）：") + v.preview_url)
        if v.findings:
            lines.append("gates now:" if en else "门槛检查：")
            lines.extend(findings_lines(v.findings, lang))
        else:
            lines.append("gates now: all hold" if en else "门槛检查：全部通过")
    if allowed is not None and person is not None:
        acts = ", ".join(f"{a.value}（{t(ACTION_LABEL[a], lang)}）" if not en else
                         f"{a.value} ({t(ACTION_LABEL[a], lang)})" for a in allowed) or "—"
        lines.append((f"{org.name_of(person)} may: " if en else
                      f"{org.name_of(person)}可执行：") + acts)
    lines.append("timeline:" if en else "时间线：")
    lines.extend("  " + event_line(e, org, zone, lang) for e in v.timeline)
    return "\n".join(lines)


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def schedule_text(at: datetime | None, mode: PublishMode | str, zone: ZoneInfo, lang: str) -> str:
    """When and how a post goes out: "计划发布时间：2026-12-09 09:00（群发）"."""
    how = t(PUBLISH_MODE_LABEL[PublishMode(mode)], lang)
    if at is None:
        return f"publish as soon as signed ({how})" if lang == "en" else f"签发后立即{how}"
    return (f"scheduled for {local_time(at, zone)} ({how})" if lang == "en"
            else f"计划发布时间：{local_time(at, zone)}（{how}）")


def post_line(p: PostSummary, org: OrgChart, lang: str) -> str:
    """One row of a post list: id, status, due date (estimated marked), drafter, title."""
    label = t(STATUS_LABEL[p.status], lang)
    due = f"{p.due_on}" + ((" (estimated)" if lang == "en" else "（预估）") if p.due_estimated
                           else "")
    return f"#{p.id:<5} {label:<10} {due}  {org.name_of(p.drafter):<6} {p.title}"


def outcome_text(out: ActOutcome, org: OrgChart, zone: ZoneInfo, lang: str) -> str:
    """What an action did: "审核同意（代陈刚签） → 审核中", or the schedule it set."""
    done = t(ACTION_LABEL[out.action], lang)
    if out.on_behalf_of:
        name = org.name_of(out.on_behalf_of)
        done += f" (for {name})" if lang == "en" else f"（代{name}签）"
    if out.action is Action.SCHEDULE and out.publish_mode is not None:
        return f"{done} → {schedule_text(out.scheduled_at, out.publish_mode, zone, lang)}"
    return f"{done} → {t(STATUS_LABEL[out.status_after], lang)}"
