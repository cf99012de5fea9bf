"""Post statuses, actions, chain steps and the transition table (pure)."""

from __future__ import annotations

from enum import StrEnum

from approvals.rules.errors import InvalidTransition, Text


class PostStatus(StrEnum):
    """Where a post stands; approval state lives here, never in a chat FSM."""

    DRAFT = "draft"  # material handed in, waiting for layout
    IN_REVIEW = "in_review"  # a laid-out revision walks the chain (art. 27)
    CHANGES_REQUESTED = "changes_requested"  # back to layout (art. 27)
    SIGNED = "signed"  # issuer signed (签发); queued for publishing
    PUBLISHING = "publishing"  # a worker claimed it
    PUBLISHED = "published"
    ON_HOLD = "on_hold"  # a gate no longer held at publish time; re-sign needed
    FAILED = "failed"  # publishing failed permanently; an admin may retry
    # WeChat may hold it, but nothing can confirm the outcome: a person checks the account and
    # says which it is (published, with its URL, or absent); a blind retry is refused.
    UNCONFIRMED = "unconfirmed"
    REJECTED = "rejected"  # terminal, archived
    WITHDRAWN = "withdrawn"  # terminal, archived


TERMINAL = frozenset({PostStatus.PUBLISHED, PostStatus.REJECTED, PostStatus.WITHDRAWN})


class Step(StrEnum):
    """A step of the chain; the chain's order comes from configuration."""

    DRAFTER_CONFIRM = "drafter_confirm"  # art. 25: the department answers for accuracy
    DEPT_HEAD = "dept_head"  # 科室负责人
    REVIEWER = "reviewer"  # 分管领导 = 审核人 (art. 28)
    ISSUER = "issuer"  # 签发人 (art. 28)


class Action(StrEnum):
    """Every verb that moves a post; persons take the first group, the worker the second."""

    NEW_REVISION = "new_revision"
    CONFIRM = "confirm"
    APPROVE = "approve"
    SIGN = "sign"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    RESUBMIT = "resubmit"
    CLEAR_PII = "clear_pii"
    RETRY = "retry"
    SCHEDULE = "schedule"  # set, change or clear when and how a post is published
    CONFIRM_PUBLISHED = "confirm_published"  # a person found the article online (with its URL)
    CONFIRM_ABSENT = "confirm_absent"  # a person found it is not online: publish it anew
    # Stop a signed post's publication while WeChat holds nothing of it (see chain.cancel).
    CANCEL = "cancel"
    # system actions, taken by the publishing worker
    CLAIM = "claim"
    MARK_PUBLISHED = "mark_published"
    HOLD = "hold"
    FAIL = "fail"
    CANNOT_CONFIRM = "cannot_confirm"


SYSTEM_ACTIONS = frozenset({Action.CLAIM, Action.MARK_PUBLISHED, Action.HOLD, Action.FAIL,
                            Action.CANNOT_CONFIRM})
# What people do (the worker's actions are never offered, nor listed in an error).
PERSON_ACTIONS = tuple(a for a in Action if a not in SYSTEM_ACTIONS)
# The actor the audit log and the notifications name for what the publishing worker does.
WORKER = "worker"

# The verb that completes each step.
STEP_VERB: dict[Step, Action] = {
    Step.DRAFTER_CONFIRM: Action.CONFIRM,
    Step.DEPT_HEAD: Action.APPROVE,
    Step.REVIEWER: Action.APPROVE,
    Step.ISSUER: Action.SIGN,
}

S, A = PostStatus, Action

# (status, action) -> status after the action. IN_REVIEW + confirm/approve stays IN_REVIEW:
# the chain advances to its next step; sign on the last step leaves the chain.
TRANSITIONS: dict[tuple[PostStatus, Action], PostStatus] = {
    (S.DRAFT, A.NEW_REVISION): S.IN_REVIEW,
    (S.DRAFT, A.WITHDRAW): S.WITHDRAWN,
    (S.IN_REVIEW, A.CONFIRM): S.IN_REVIEW,
    (S.IN_REVIEW, A.APPROVE): S.IN_REVIEW,
    (S.IN_REVIEW, A.SIGN): S.SIGNED,
    (S.IN_REVIEW, A.CLEAR_PII): S.IN_REVIEW,
    (S.IN_REVIEW, A.REQUEST_CHANGES): S.CHANGES_REQUESTED,
    (S.IN_REVIEW, A.REJECT): S.REJECTED,
    (S.IN_REVIEW, A.NEW_REVISION): S.IN_REVIEW,  # restarts the chain
    (S.IN_REVIEW, A.WITHDRAW): S.WITHDRAWN,
    (S.CHANGES_REQUESTED, A.NEW_REVISION): S.IN_REVIEW,
    (S.CHANGES_REQUESTED, A.RESUBMIT): S.IN_REVIEW,
    (S.CHANGES_REQUESTED, A.WITHDRAW): S.WITHDRAWN,
    (S.SIGNED, A.WITHDRAW): S.WITHDRAWN,
    (S.SIGNED, A.CLAIM): S.PUBLISHING,
    (S.SIGNED, A.HOLD): S.ON_HOLD,
    (S.PUBLISHING, A.CLAIM): S.PUBLISHING,  # a worker takes over the claim of one that died
    (S.PUBLISHING, A.MARK_PUBLISHED): S.PUBLISHED,
    (S.PUBLISHING, A.HOLD): S.ON_HOLD,
    (S.PUBLISHING, A.FAIL): S.FAILED,
    (S.PUBLISHING, A.CANNOT_CONFIRM): S.UNCONFIRMED,
    (S.UNCONFIRMED, A.CONFIRM_PUBLISHED): S.PUBLISHED,
    (S.UNCONFIRMED, A.CONFIRM_ABSENT): S.SIGNED,  # a fresh submission, after a person checked
    (S.ON_HOLD, A.SIGN): S.SIGNED,  # the currently entitled issuer re-signs the same revision
    (S.ON_HOLD, A.CLEAR_PII): S.ON_HOLD,
    (S.ON_HOLD, A.NEW_REVISION): S.IN_REVIEW,
    (S.ON_HOLD, A.RESUBMIT): S.IN_REVIEW,  # the chain restarts with the people entitled now
    (S.ON_HOLD, A.WITHDRAW): S.WITHDRAWN,
    (S.FAILED, A.RETRY): S.SIGNED,
    (S.FAILED, A.WITHDRAW): S.WITHDRAWN,
    # Cancel publication: held, not published, until the issuer signs it again (chain.cancel).
    (S.SIGNED, A.CANCEL): S.ON_HOLD,
    (S.PUBLISHING, A.CANCEL): S.ON_HOLD,
    (S.FAILED, A.CANCEL): S.ON_HOLD,
    # Scheduling changes when (and how) a post goes out, never where it stands.
    **{(s, A.SCHEDULE): s for s in (S.DRAFT, S.IN_REVIEW, S.CHANGES_REQUESTED, S.SIGNED,
                                   S.ON_HOLD, S.FAILED)},
}


def next_status(status: PostStatus, action: Action) -> PostStatus | None:
    """The status `action` leads to from `status`, or None when it does not apply."""
    return TRANSITIONS.get((status, action))


def advance(status: PostStatus, action: Action) -> PostStatus:
    """The status after `action`; every status change, the worker's included, goes through here.

    Raises:
        InvalidTransition: the action does not apply in `status`.
    """
    after = next_status(status, action)
    if after is None:
        raise InvalidTransition(
            Text("稿件当前状态为“{s}”，不能执行“{a}”。",
                 "The post is “{s_en}”; “{a_en}” does not apply.")
            .format(s=STATUS_LABEL[status].zh, s_en=STATUS_LABEL[status].en,
                    a=ACTION_LABEL[action].zh, a_en=ACTION_LABEL[action].en)
        )
    return after


STATUS_LABEL: dict[PostStatus, Text] = {
    S.DRAFT: Text("待排版", "awaiting layout"),
    S.IN_REVIEW: Text("审核中", "in review"),
    S.CHANGES_REQUESTED: Text("退回修改", "changes requested"),
    S.SIGNED: Text("已签发，待发布", "signed, queued"),
    S.PUBLISHING: Text("发布中", "publishing"),
    S.PUBLISHED: Text("已发布", "published"),
    S.ON_HOLD: Text("暂缓发布", "on hold"),
    S.FAILED: Text("发布失败", "publishing failed"),
    S.UNCONFIRMED: Text("发布结果待核实", "outcome unconfirmed"),
    S.REJECTED: Text("已否决", "rejected"),
    S.WITHDRAWN: Text("已撤回", "withdrawn"),
}

STEP_LABEL: dict[Step, Text] = {
    Step.DRAFTER_CONFIRM: Text("拟稿人确认", "drafter confirms"),
    Step.DEPT_HEAD: Text("科室负责人审核", "department head"),
    Step.REVIEWER: Text("分管领导审核", "supervising leader (reviewer)"),
    Step.ISSUER: Text("签发", "issuer signs"),
}

ACTION_LABEL: dict[Action, Text] = {
    A.NEW_REVISION: Text("提交排版稿", "new layout revision"),
    A.CONFIRM: Text("确认无误", "confirm"),
    A.APPROVE: Text("审核同意", "approve"),
    A.SIGN: Text("签发", "sign off"),
    A.REQUEST_CHANGES: Text("退回修改", "request changes"),
    A.REJECT: Text("否决", "reject"),
    A.WITHDRAW: Text("撤回", "withdraw"),
    A.RESUBMIT: Text("原稿重新提交", "resubmit unchanged"),
    A.CLEAR_PII: Text("记录个人信息公开依据", "record personal-data clearance"),
    A.RETRY: Text("重新发布", "retry publishing"),
    A.SCHEDULE: Text("安排发布时间", "schedule publishing"),
    A.CONFIRM_PUBLISHED: Text("确认已发布", "confirm published"),
    A.CONFIRM_ABSENT: Text("确认未发布", "confirm not published"),
    A.CANCEL: Text("取消发布", "cancel publishing"),
    A.CLAIM: Text("开始发布", "claimed for publishing"),
    A.MARK_PUBLISHED: Text("发布成功", "published"),
    A.HOLD: Text("暂缓发布", "put on hold"),
    A.FAIL: Text("发布失败", "publishing failed"),
    A.CANNOT_CONFIRM: Text("发布结果无法确认", "outcome could not be confirmed"),
}


class Category(StrEnum):
    """Art. 26: what the official account may carry."""

    NOTICE = "notice"  # 最新业务活动公告、通知
    PUBLICITY = "publicity"  # 重要工作及活动宣传
    POLICY = "policy"  # 政策文件解读
    REPOST = "repost"  # 发布或转载的其他信息 (art. 28: source required)
    OTHER = "other"  # 由各科室提出、经领导审批同意发布的信息


CATEGORY_LABEL: dict[Category, Text] = {
    Category.NOTICE: Text("公告通知", "announcement / notice"),
    Category.PUBLICITY: Text("工作宣传", "work publicity"),
    Category.POLICY: Text("政策解读", "policy interpretation"),
    Category.REPOST: Text("转载", "repost"),
    Category.OTHER: Text("其他", "other"),
}


class Classification(StrEnum):
    """Art. 13: every piece of government information is classed as one of three."""

    PROACTIVE = "proactive"  # 主动公开: the only class that may be published
    ON_REQUEST = "on_request"  # 依申请公开
    NOT_DISCLOSED = "not_disclosed"  # 不予公开


CLASSIFICATION_LABEL: dict[Classification, Text] = {
    Classification.PROACTIVE: Text("主动公开", "proactive disclosure"),
    Classification.ON_REQUEST: Text("依申请公开", "disclosure on request"),
    Classification.NOT_DISCLOSED: Text("不予公开", "not disclosed"),
}


class PublishMode(StrEnum):
    """How a signed post reaches the public."""

    PUBLISH = "publish"  # 发布 (freepublish): on the account, not pushed to followers
    MASS_SEND = "mass_send"  # 群发: pushed to every follower (a daily quota)


PUBLISH_MODE_LABEL: dict[PublishMode, Text] = {
    PublishMode.PUBLISH: Text("发布", "publish"),
    PublishMode.MASS_SEND: Text("群发", "mass send"),
}


class IntentKind(StrEnum):
    """What a publish intent (an outbox row) asks the worker to do."""

    PUBLISH = "publish"  # publish the signed revision
    PREVIEW = "preview"  # make the WeChat draft of a new revision for its temporary link


class IntentState(StrEnum):
    """Where an outbox row (publish intent or notification) stands."""

    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"
