"""The console's language: ?lang= switches it for the session; else the person's, else the unit's."""

from __future__ import annotations

from flask import Flask, current_app, g, request, session
from flask_login import current_user

from approvals.rules.errors import Text, normalize_language

UI: dict[str, Text] = {
    "app": Text("公众号发布审批", "Publishing sign-off"),
    # --- reports: the dashboard (art. 30) and the disclosure catalogue (art. 9) ---
    "reports": Text("统计报表", "Dashboard"), "catalogue": Text("政府信息公开目录", "Disclosure catalogue"),
    "year": Text("年度", "Year"), "table": Text("数据表", "Table"),
    "catalogue_search": Text("名称或内容概述", "Name or summary"),
    "export_csv": Text("导出 CSV", "Export CSV"), "no_entries": Text("没有条目", "No entries"),
    "all_years": Text("全部年度", "All years"),
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
    # people: API tokens and chat bindings
    "api_tokens": Text("API 令牌", "API tokens"), "owner": Text("人员", "Person"),
    "token_name": Text("用途", "Used by"), "token_prefix": Text("令牌开头", "Starts with"),
    "issued": Text("签发时间", "Issued"), "last_used": Text("最近使用", "Last used"),
    "revoked": Text("已吊销", "revoked"), "revoke": Text("吊销", "Revoke"),
    "issue_token": Text("签发新令牌", "Issue a token"),
    "token_once": Text("新令牌只显示这一次，请立即复制并妥善保存：",
                       "The new token is shown only this once; copy it now and keep it safe:"),
    "token_revoked": Text("令牌已吊销。", "The token is revoked."),
    "chat_bindings": Text("聊天账号绑定", "Chat bindings"),
    "chat_language": Text("聊天语言", "Chat language"),
    "chat_linked": Text("绑定", "Linked"),
    "chat_from_org_file": Text("组织架构文件", "org file"),
    "bind_code": Text("生成 Telegram 绑定码", "Make a Telegram binding code"),
    "bind_code_once": Text("一次性绑定码（三天内有效，用后失效）：请本人在 Telegram 中向机器人发送",
                           "One-time binding code (three days, works once): the person sends "
                           "this to the bot in Telegram"),
    # the post page's publication
    "article": Text("文章链接", "Article"), "wechat_status": Text("微信状态", "WeChat status"),
    "wechat_preview": Text("微信临时预览", "WeChat's temporary preview"),
    "open": Text("打开", "open"),
    # one-time invite links
    "invite_title": Text("设置控制台密码", "Set your console password"),
    "invite_again": Text("再次输入密码", "The password again"),
    "invite_set": Text("设置密码", "Set the password"),
    "invite_mismatch": Text("两次输入的密码不一致。", "The two passwords differ."),
    "invite_done": Text("密码已设置，请登录。", "Your password is set; log in."),
    "invite_expired": Text("邀请链接已过期（有效期三天），请向管理员索取新链接。",
                           "This invite has expired (it lasts three days); ask an admin for "
                           "a new one."),
    "invite_used": Text("该邀请链接已使用过（或密码已另行设置），请直接登录或向管理员索取新链接。",
                        "This invite was used already (or the password was set otherwise); log "
                        "in, or ask an admin for a new one."),
    "invite_invalid": Text("邀请链接无效（可能复制不完整）。",
                           "This invite link is not valid (perhaps it was not copied whole)."),
    "invite_link": Text("生成邀请链接", "Make an invite link"),
    "invite_once": Text("一次性邀请链接（三天内有效，设置密码后失效）：",
                        "A one-time invite link (three days; spent once the password is set):"),
    # --- the layout editor (approvals/web/editor.py) ---
    "edit_layout": Text("编辑排版", "Edit layout"),
    "editor_opened_on": Text("基于第 {n} 版", "Based on revision {n}"),
    "editor_no_revision": Text("尚无排版稿：以下为拟稿人提交的原稿", "No layout yet: the drafter's "
                               "material below"),
    "author": Text("作者", "Author"), "digest": Text("摘要", "Digest"),
    "body_html": Text("正文（HTML）", "Body (HTML)"), "cover": Text("封面", "Cover"),
    "cover_hint": Text("JPG、PNG、GIF 或 BMP，最大 10 MB；不选则保留当前封面",
                       "JPG, PNG, GIF or BMP, at most 10 MB; leave empty to keep the current one"),
    "docx": Text("导入 Word 文档（.docx，将替换正文）", "Import a Word document (.docx; replaces "
                 "the body)"),
    "import_docx": Text("导入", "Import"),
    "image": Text("插入正文图片（JPG 或 PNG，小于 1 MB，插入到光标处）", "Insert an in-article image "
                  "(JPG or PNG under 1 MB, at the cursor)"),
    "upload_image": Text("上传并插入", "Upload and insert"),
    "revision_comment": Text("修改说明（可选）", "What changed (optional)"),
    "save_revision": Text("保存为新版本（审批流程将重新开始）", "Save as a new revision (the "
                          "chain restarts)"),
    "live_preview": Text("实时预览（含文末署名）", "Live preview (footer included)"),
    "choose_docx": Text("请先选择一个 .docx 文件。", "Choose a .docx file first."),
    "choose_image": Text("请先选择一张图片。", "Choose an image first."),
    "docx_imported": Text("已导入 Word 文档，正文已替换（尚未保存）；请核对后保存。",
                          "The Word document was imported into the body (not saved yet); "
                          "check it and save."),
    "image_inserted": Text("图片已上传并插入正文（尚未保存）。", "The image was uploaded and "
                           "inserted into the body (not saved yet)."),
    "cover_kept": Text("新封面已上传（尚未保存）。", "The new cover was uploaded (not saved yet)."),
    "fix_fields": Text("未保存：请按各栏下方的提示修改。", "Not saved: fix what each field says."),
    "unknown_op": Text("未保存：表单要求的操作无效（请用页面上的按钮）。",
                       "Not saved: the form asked for an operation there is none of (use the "
                       "page's buttons)."),
    "text_kept": Text("未保存。您的修改仍在下方，可复制或修改后再保存。",
                      "Not saved. Your text is still below: copy it, or change it and save."),
    "may_not_edit": Text("您现在不能修改本稿的排版：", "You may not change this post's layout now: "),
    "too_large": Text("上传内容过大（一次最多 16 MB），未保存。请返回上一页，您输入的文字仍在浏览器中。",
                      "The upload is too large (at most 16 MB at once); nothing was saved. Go "
                      "back: your text is still in the browser."),
    "file_too_large": Text("文件过大，请选择更小的文件。", "The file is too large; choose a "
                           "smaller one."),
    # WeChat's callback (/wechat/callback): short plain answers to WeChat's server
    "wechat_bad_request": Text("请求缺少或带有格式错误的 signature、timestamp、nonce 或 echostr。",
                               "The request lacks signature, timestamp, nonce or echostr, or "
                               "one is malformed."),
    "wechat_bad_signature": Text("签名无效。", "Invalid signature."),
    "wechat_stale": Text("时间戳超出允许范围（请求过旧或时钟不准）。",
                         "The timestamp is outside the allowed window (an old request, or a "
                         "wrong clock)."),
    "wechat_replay": Text("该请求已处理过，拒绝重放。", "This request was seen before; replay refused."),
    "wechat_too_large": Text("消息过大。", "The message is too large."),
    "wechat_malformed": Text("消息格式不正确。", "The message is malformed."),
    "wechat_unavailable": Text("暂时无法处理，请稍后重试。",
                               "Cannot handle it right now; try again later."),
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
