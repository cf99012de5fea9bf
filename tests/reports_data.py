"""A year of posts walked through the real chain and published through the worker's use cases,
with a record of what happened when, kept by the test itself (the figures are checked against it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from approvals.bootstrap import Core
from approvals.rules.states import Step
from approvals.views import RevisionInput
from tests.conftest import ZONE, Clock

# Each department's chain in the example org chart: drafter, head, supervising leader.
CHAINS = {"jyk": ("li_na", "zhang_wei", "chen_gang"), "jck": ("xu_fang", "huang_tao", "sun_li")}
ISSUER, OPERATOR = "wang_min", "he_jing"


@dataclass
class Made:
    """One generated post and what the test knows of it."""

    post_id: int
    department: str
    category: str
    source: str | None = None
    published_at: datetime | None = None
    decisions: list[tuple[Step, float, datetime]] = field(default_factory=list)  # step, hours, at
    title: str = ""
    digest: str = ""


def local(text: str) -> datetime:
    """A local time of the unit, e.g. "2026-03-10 09:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


def make_post(core: Core, clock: Clock, *, department: str = "jyk", start: str,
              hours: tuple[float, ...] = (1, 1, 1, 1), category: str = "publicity",
              source: str | None = None, formed_on: str | None = None, publish: bool = True,
              title: str = "我局开展应急演练", digest: str = "",
              changes_after: float | None = None, relayout_after: float = 1.0) -> Made:
    """Hand in at `start`, lay out, then take each step `hours[i]` after the previous one and
    (when all four are given and `publish`) publish half an hour after the sign-off.

    `changes_after`: the head first sends the post back this many hours after the confirmation,
    and the operator lays out a new revision `relayout_after` hours later (a second run).
    """
    svc = core.service
    drafter, head, leader = CHAINS[department]
    clock.now = local(start)
    pid = svc.create_post(drafter=drafter, title=title, body="12月7日，我局在太浦河沿线开展应急演练。",
                          category=category, repost_source=source,
                          formed_on=datetime.fromisoformat(formed_on).date() if formed_on else None)
    made = Made(pid, department, category, source, title=title, digest=digest)
    svc.act(pid, "new_revision", OPERATOR, revision=RevisionInput(digest=digest))
    if changes_after is not None:
        clock.advance(hours=hours[0])
        svc.act(pid, "confirm", drafter)
        made.decisions.append((Step.DRAFTER_CONFIRM, hours[0], clock.now))
        clock.advance(hours=changes_after)
        svc.act(pid, "request_changes", head, comment="请补充时间地点")
        made.decisions.append((Step.DEPT_HEAD, changes_after, clock.now))
        clock.advance(hours=relayout_after)
        svc.act(pid, "new_revision", OPERATOR,
                revision=RevisionInput(body="12月7日上午，我局在太浦河沿线开展应急演练。",
                                       body_format="text", digest=digest))
    steps = ((Step.DRAFTER_CONFIRM, "confirm", drafter), (Step.DEPT_HEAD, "approve", head),
             (Step.REVIEWER, "approve", leader), (Step.ISSUER, "sign", ISSUER))
    for (step, action, person), h in zip(steps, hours, strict=False):
        clock.advance(hours=h)
        svc.act(pid, action, person)
        made.decisions.append((step, h, clock.now))
    if publish and len(hours) == 4:
        clock.advance(minutes=30)
        claim = core.publishing.claim(pid, "w1", 60)
        assert claim.snapshot is not None, claim
        assert core.publishing.mark_published(pid, "w1", url=f"https://mp.weixin.qq.com/s/{pid}",
                                              article_id=f"a{pid}")
        made.published_at = clock.now
    return made


def a_year(core: Core, clock: Clock) -> list[Made]:
    """Posts across months, categories and departments of 2026 (and one of 2025), ending on
    2026-12-08 10:00, the day the figures are read."""
    made = [
        make_post(core, clock, start="2025-06-02 09:00", title="去年的稿件"),
        # Laid out on New Year's Eve, published at 01:00 on 1 January (17:00 UTC the day before):
        # January 2026. Two of its decisions fall in 2025, two in 2026.
        make_post(core, clock, start="2025-12-31 20:00", hours=(1, 2, 1, 0.5),
                  title="元旦值班安排", digest="元旦期间全局值班安排"),
        make_post(core, clock, department="jck", start="2026-03-10 09:00", hours=(2, 4, 6, 8),
                  category="notice", title="关于开展安全生产月活动的通知"),
        make_post(core, clock, start="2026-03-20 09:00", category="repost",
                  source="https://www.mem.gov.cn/xw/yjglbgzdt/202603/t1.shtml", title="应急管理部发布提示"),
        # Formed on 1 April, handed in on 6 May: published after its due date (art. 14).
        make_post(core, clock, department="jck", start="2026-05-06 09:00", formed_on="2026-04-01",
                  title="四月检查情况通报"),
        make_post(core, clock, department="jck", start="2026-06-01 09:00", hours=(3, 3, 3, 3),
                  category="repost", source="应急管理部", title="转载：防汛知识"),
        make_post(core, clock, start="2026-07-15 09:00", hours=(5, 1, 2, 1), category="repost",
                  source="https://mem.gov.cn/kp/t2.shtml", title="转载：高温防护"),
        make_post(core, clock, start="2026-08-03 09:00", hours=(1, 2, 1, 1), category="policy",
                  changes_after=2, relayout_after=3, title="政策解读：新修订的条例"),
        # Formed on 1 September and never published: overdue now.
        make_post(core, clock, start="2026-09-01 09:00", hours=(2,), title="九月未发布的稿件"),
    ]
    # Withdrawn: not to be disclosed, so never overdue.
    withdrawn = make_post(core, clock, department="jck", start="2026-09-02 10:00", hours=(),
                          title="撤回的稿件")
    core.service.act(withdrawn.post_id, "withdraw", "xu_fang", comment="不再发布")
    clock.now = local("2026-12-08 10:00")
    return [*made, withdrawn]
