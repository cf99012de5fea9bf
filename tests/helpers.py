"""Builders for pure chain tests: states and revisions as plain values."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from approvals.rules import chain
from approvals.rules.org import OrgChart
from approvals.rules.records import PostState, RevisionInfo
from approvals.rules.revisions import RevisionContent
from approvals.rules.states import Action, Category, Classification, PostStatus

DAY = date(2026, 12, 8)  # inside the example chart's delegation range (2026-12-07..18)


def revision(number: int = 1, *, body: str = "<p>12月7日，我局开展应急演练。</p>",
             title: str = "我局开展应急演练", made_by: str = "he_jing", category: str = "publicity",
             source: str | None = None) -> RevisionInfo:
    content = RevisionContent(title=title, body_html=body, category=category, author="吴江应急",
                              repost_source=source).normalized()
    return RevisionInfo(number, content, content.content_hash(), made_by)


def draft(*, drafter: str = "li_na", department: str = "jyk", category: str = "publicity",
          classification: str = "proactive") -> PostState:
    return PostState(id=1, status=PostStatus.DRAFT, department=department, drafter=drafter,
                     category=Category(category), classification=Classification(classification))


def laid_out(org: OrgChart, rev: RevisionInfo | None = None, **kw: str) -> PostState:
    """A post with revision 1 laid out by the operator: the chain waits for the drafter."""
    state = draft(**kw)
    rev = rev or revision(category=state.category.value)
    return chain.apply(state, chain.new_revision(state, "he_jing", org, rev, on=DAY))


def act(state: PostState, org: OrgChart, action: str, actor: str, *, on: date = DAY,
        comment: str = "ok", **kw: object) -> PostState:
    """Take a decision with the current revision hash and return the next state."""
    a = Action(action)
    h = state.revision.content_hash if state.revision else None
    result = chain.decide(state, a, actor, org, on=on, revision_hash=h, comment=comment, **kw)  # type: ignore[arg-type]
    return chain.apply(state, result)


def through_reviewer(org: OrgChart, state: PostState | None = None) -> PostState:
    """李娜's post confirmed, approved by 张伟 and reviewed by 陈刚: waiting for the issuer."""
    state = state or laid_out(org)
    state = act(state, org, "confirm", "li_na")
    state = act(state, org, "approve", "zhang_wei")
    return act(state, org, "approve", "chen_gang")


def rebound(state: PostState, rev: RevisionInfo) -> PostState:
    """`state` with its revision replaced and every decision bound to the new one: what a post
    approved before a rule existed (or written behind the application's back) looks like."""
    return replace(state, revision=rev, decisions=tuple(
        replace(d, revision_hash=rev.content_hash) for d in state.decisions))
