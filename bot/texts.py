"""What the bot says, in Chinese and English (the person's chat language decides)."""

from __future__ import annotations

from approvals.rules.errors import Text
from approvals.rules.states import Action

T: dict[str, Text] = {
    "stranger": Text(
        "您好！这是本单位公众号发布审核助手，仅供本单位工作人员使用。如需使用，请向法宣科管理员索取"
        "绑定码，然后发送 /start 绑定码。",
        "Hello! This is the unit's publishing assistant, for its staff only. To use it, ask the "
        "Legal & Publicity section's admin for a binding code and send /start CODE."),
    "stranger_tap": Text("您尚未绑定，不能操作。", "You are not linked, so you cannot do this."),
    "linked": Text("绑定成功：您是{name}。", "Linked: you are {name}."),
    "welcome": Text("{name}，您好！", "Hello, {name}!"),
    "help": Text(
        "可用命令：\n/new 提交新稿件\n/pending 待我处理的稿件\n/mine 我的稿件\n/status 编号 查看稿件"
        "\n/lang zh 或 /lang en 切换语言\n/cancel 取消当前操作\n/help 帮助\n\n"
        "轮到您审核时，我会发来稿件和按钮，点一下即可确认、同意或签发。",
        "Commands:\n/new hand in a draft\n/pending what waits on me\n/mine my drafts\n"
        "/status ID a post\n/lang zh or /lang en language\n/cancel stop what you are doing\n"
        "/help this help\n\nWhen a post reaches your step I send it with buttons: one tap "
        "confirms, approves or signs."),
    "lang_set": Text("已切换为中文。", "Language set to English."),
    "lang_usage": Text("用法：/lang zh 或 /lang en（当前：中文）",
                       "Usage: /lang zh or /lang en (now: English)"),
    "nothing_pending": Text("目前没有等您处理的稿件。", "Nothing waits on you."),
    "pending_head": Text("等您处理的稿件（{n}）：", "Waiting on you ({n}):"),
    "no_posts": Text("您还没有稿件。", "You have no posts yet."),
    "mine_head": Text("我的稿件：", "My posts:"),
    "status_usage": Text("用法：/status 稿件编号，例如 /status 12", "Usage: /status ID, e.g. /status 12"),
    "superseded": Text("该版本已被新版本取代，请查看当前版本。",
                       "This revision has been replaced by a newer one; see the current one."),
    "already_decided": Text("该步骤已有决定，无需再次操作。",
                            "This step has already been decided."),
    "not_yours": Text("您当前不能对该稿件执行此操作。", "You cannot do this on this post now."),
    "ask_comment": Text("请输入“{action}”的意见（发送 /cancel 取消）：",
                        "Type your comment for “{action}” (/cancel to stop):"),
    "comment_empty": Text("意见不能为空，请重新输入（发送 /cancel 取消）。",
                          "The comment cannot be empty; type it again (/cancel to stop)."),
    "cancelled": Text("已取消。", "Cancelled."),
    "nothing_to_cancel": Text("当前没有进行中的操作。", "Nothing to cancel."),
    "done": Text("已{action}。", "Done: {action}."),
    "decided_line": Text("—— {name}：{action}（{at}）", "—— {name}: {action} ({at})"),
    "preview": Text("预览：{url}", "Preview: {url}"),
    "wechat_preview": Text("公众号临时预览：{url}", "WeChat temporary link: {url}"),
    "unknown_command": Text("没有这个命令。发送 /help 查看可用命令。",
                            "No such command. Send /help to see what I can do."),
    "unknown_button": Text("这个按钮已失效，没有执行任何操作。发送 /pending 查看待办。",
                           "This button no longer works; nothing was done. Send /pending for "
                           "what waits on you."),
    "busy": Text("出了点问题，这次操作没有完成（已记录）。请稍后再试。",
                 "Something went wrong and this was not done (it is logged). Try again in a "
                 "moment."),
}

# The buttons: short, as a phone shows them.
BUTTON: dict[Action, Text] = {
    Action.CONFIRM: Text("确认", "Confirm"),
    Action.APPROVE: Text("同意", "Approve"),
    Action.SIGN: Text("签发", "Sign"),
    Action.REQUEST_CHANGES: Text("退回修改", "Request changes"),
    Action.REJECT: Text("驳回", "Reject"),
}


def tr(key: str, lang: str, **kw: object) -> str:
    """The text `key` in `lang`, with its placeholders filled."""
    text = T[key].get(lang)
    return text.format(**kw) if kw else text
