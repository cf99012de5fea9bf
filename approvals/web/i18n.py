"""The console's language: ?lang= switches it for the session; else the person's, else the unit's."""

from __future__ import annotations

from flask import Flask, current_app, g, request, session
from flask_login import current_user

from approvals.rules.errors import Text, normalize_language

UI: dict[str, Text] = {
    "app": Text("公众号发布审批", "Publishing sign-off"),
    "login": Text("登录", "Log in"),
    "logout": Text("退出", "Log out"),
    "person": Text("账号（拼音或姓名）", "Account (key or name)"),
    "password": Text("密码", "Password"),
    "bad_login": Text("账号或密码不正确。", "Wrong account or password."),
    "too_many": Text("尝试次数过多，请稍后再试。", "Too many attempts; try again later."),
    "queue": Text("稿件队列", "Queue"),
    "no_posts": Text("没有稿件", "No posts"),
    "id": Text("编号", "No."), "title": Text("标题", "Title"), "status": Text("状态", "Status"),
    "department": Text("科室", "Department"), "drafter": Text("拟稿人", "Drafter"),
    "due": Text("公开期限", "Due"), "step": Text("当前环节", "Step"),
    "timeline": Text("时间线", "Timeline"), "findings": Text("门槛检查", "Gates"),
    "actions": Text("可执行的操作", "What you may do"), "none": Text("无", "none"),
    "comment": Text("意见", "Comment"), "preview": Text("预览", "Preview"),
    "revision": Text("版本", "Revision"), "done": Text("已完成：", "Done: "),
    "error": Text("错误：", "Error: "), "other_lang": Text("English", "中文"),
    "overdue": Text("已逾期", "overdue"), "estimated": Text("（预估）", " (estimated)"),
    "session_expired": Text("页面已过期，请刷新后重试。", "The page expired; reload and try again."),
    "not_found": Text("没有这个页面。", "No such page."),
    "preview_expired": Text("预览链接已过期，请向法宣科索取新链接。",
                            "This preview link has expired; ask the Legal & Publicity section "
                            "for a new one."),
    "preview_invalid": Text("预览链接无效（可能复制不完整）。",
                            "This preview link is not valid (perhaps it was not copied whole)."),
    "preview_superseded": Text("该版本已被新版本取代，请查看最新预览。",
                               "This revision has been replaced by a newer one; open the latest "
                               "preview."),
    "open_preview": Text("打开手机预览", "Open the phone preview"),
    "people": Text("组织架构", "Org chart"), "members": Text("成员", "Members"),
    "deputy": Text("代签", "stand-in"), "admins": Text("管理员", "Admins"),
    "operators": Text("排版人员", "Layout"), "inbox": Text("我的通知", "My notifications"),
    "forbidden": Text("您无权查看此页面。", "You may not see this page."),
    "publishing": Text("发布安排", "Publishing"),
    "publish_at": Text("发布时间（留空则签发后立即发布）", "Publish at (empty: as soon as signed)"),
    "mode_publish": Text("发布", "Publish"), "mode_mass_send": Text("群发", "Mass send"),
    "schedule": Text("保存发布安排", "Save schedule"),
    "waiting_on": Text("等待", "Waiting on"), "nobody": Text("无人可办理", "nobody entitled"),
    "diff": Text("与上一版比较", "Compare with the previous revision"),
    "no_change": Text("两版内容相同。", "The two revisions are the same."),
    "filter": Text("筛选", "Filter"), "total": Text("共", "Total"), "sort": Text("排序", "Order"),
    "sort_-id": Text("最新在前", "Newest first"), "sort_id": Text("最早在前", "Oldest first"),
    "sort_due": Text("期限最近在前", "Due soonest first"),
    "sort_-due": Text("期限最远在前", "Due latest first"),
    # the jobs page (publishing and notification work)
    "jobs": Text("任务", "Jobs"),
    "jobs_publishing": Text("发布任务", "Publishing"),
    "jobs_notifications": Text("通知任务", "Notifications"),
    "jobs_failed": Text("队列中失败的任务", "Failed jobs on the queue"),
    "jobs_when": Text("时间", "When"), "jobs_job": Text("队列状态", "Queue"),
    "jobs_error": Text("错误", "Error"), "jobs_kind": Text("类型", "Kind"),
    "jobs_recipient": Text("接收人", "To"), "jobs_attempts": Text("尝试次数", "Attempts"),
    "jobs_reason": Text("原因（取消时必填）", "Reason (needed to cancel)"),
    "jobs_redispatch": Text("重新派发", "Dispatch again"),
    "jobs_resend": Text("重新发送", "Send again"), "jobs_retry": Text("重试", "Retry"),
    "jobs_dispatched": Text("已重新派发。", "Put on the queue again."),
    "jobs_queue_down": Text("队列（Redis）无法连接：下面只列出数据库中的任务，队列状态未知。",
                            "The queue (Redis) does not answer: the work below is read from the "
                            "database; what the queue holds is unknown."),
    "jobs_state_pending": Text("待发送", "pending"), "jobs_state_failed": Text("发送失败", "failed"),
    "jobs_state_delivered": Text("已送达", "delivered"),
    "jobs_state_no_channel": Text("无可用渠道", "no channel"),
}


def lang() -> str:
    """The language of this request."""
    if "lang" in g:
        return str(g.lang)
    chosen = session.get("lang")
    if not chosen and getattr(current_user, "is_authenticated", False):
        person = current_app.extensions["signoff"].service.org.people.get(current_user.id)
        chosen = person.language if person else None
    if not chosen:
        chosen = current_app.extensions["signoff"].settings.language
    g.lang = normalize_language(chosen)
    return str(g.lang)


def ui(key: str) -> str:
    """A console label in this request's language."""
    return UI[key].get(lang())


def install(app: Flask) -> None:
    """?lang=en|zh-CN remembered in the session; `ui`, `lang` and `t` in every template."""

    @app.before_request
    def _choose() -> None:
        wanted = request.args.get("lang")
        if wanted:
            session["lang"] = normalize_language(wanted)

    @app.context_processor
    def _texts() -> dict[str, object]:
        return {"ui": ui, "lang": lang, "t": lambda text: text.get(lang())}
