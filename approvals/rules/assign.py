"""Who takes each step of a post: the org chart's holder, the four-eyes rule, fallback and deputies (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from approvals.rules.errors import Text
from approvals.rules.org import OrgChart
from approvals.rules.records import DecisionRecord, Outcome, PostState, RevisionInfo
from approvals.rules.revisions import RevisionContent
from approvals.rules.states import STEP_LABEL, Category, Classification, PostStatus, Step


@dataclass(frozen=True)
class Assignment:
    """Who takes a step of one post, and how that was decided."""

    step: Step
    person: str | None
    usual: str | None
    via_fallback: bool = False
    same_person_allowed: bool = False
    problem: Text | None = None


def _earlier_participants(state: PostState, step: Step, org: OrgChart) -> set[str]:
    steps = org.chain.steps
    before = steps[: steps.index(step)] if step in steps else steps
    people: set[str] = set()
    for d in state.decisions:
        if d.step in before and d.step is not Step.DRAFTER_CONFIRM and d.outcome is Outcome.APPROVED:
            people.update({d.actor, d.principal})
    return people


def _hard_excluded(state: PostState) -> set[str]:
    # No one approves their own draft; whoever made a revision does not approve it.
    excluded = {state.drafter}
    if state.revision is not None:
        excluded.add(state.revision.made_by)
    return excluded


def resolve_assignee(state: PostState, step: Step, org: OrgChart) -> Assignment:
    """Who takes `step` for this post, applying the four-eyes rule and the configured fallback."""
    usual = org.holder(step, state.department, state.drafter)
    if step is Step.DRAFTER_CONFIRM:
        return Assignment(step, state.drafter, state.drafter)
    if usual is None or usual not in org.people:
        return Assignment(
            step, None, usual,
            problem=Text(
                "科室“{d}”没有配置{s}，请在组织架构中补充。",
                "Department “{d}” has no one configured for “{s_en}”; add them to the org chart.",
            ).format(d=state.department, s=STEP_LABEL[step].zh, s_en=STEP_LABEL[step].en),
        )
    hard, earlier = _hard_excluded(state), _earlier_participants(state, step, org)
    if usual not in hard and usual not in earlier:
        return Assignment(step, usual, usual)
    if usual not in hard and org.chain.allow_same_person_in_two_steps:
        return Assignment(step, usual, usual, same_person_allowed=True)
    fallbacks = org.fallbacks()
    for fallback in fallbacks:
        if fallback in org.people and fallback not in hard and fallback not in earlier:
            return Assignment(step, fallback, usual, via_fallback=True)
    why = Text("“{s}”一步本应由{p}办理，但其已是本稿的拟稿人、排版人或前一环节审核人（三审不得同一人）。",
               "The “{s_en}” step would go to {p}, who already drafted, laid out or reviewed "
               "this post (four eyes).").format(
        s=STEP_LABEL[step].zh, s_en=STEP_LABEL[step].en, p=org.name_of(usual))
    if not fallbacks:
        todo = Text("未配置备选人员：请在 [chain] fallback 中列出主要领导或指定人员，"
                    "或明确设置 allow_same_person_in_two_steps = true。",
                    "No fallback is configured: list the principal leader or named alternates in "
                    "[chain] fallback, or set allow_same_person_in_two_steps = true.")
    else:
        names = "、".join(org.name_of(f) for f in fallbacks)
        names_en = ", ".join(org.name_of(f) for f in fallbacks)
        todo = Text(f"备选人员（{names}）也都已参与本稿：请在 [chain] fallback 中再列一位"
                    "不参与本科室稿件的领导。",
                    f"The fallbacks ({names_en}) are all in this post's chain already: add "
                    "another leader to [chain] fallback.")
    return Assignment(step, None, usual, problem=Text(why.zh + todo.zh, why.en + " " + todo.en))


@dataclass(frozen=True)
class Gap:
    """A post nobody could sign: a step with no one entitled when `drafter` of `department`
    hands it in and `maker` lays it out."""

    department: str
    drafter: str
    maker: str
    step: Step
    problem: Text


def unfilled_steps(org: OrgChart) -> list[Gap]:
    """Walk every department × drafter (member) × layout maker (operator or admin) through the
    chain, each step taken by whoever it resolves to, and report each walk that stops."""
    content = RevisionContent(title="", body_html="", category=Category.PUBLICITY.value)
    digest = content.content_hash()
    gaps: list[Gap] = []
    for code, dept in org.departments.items():
        for drafter in dept.members:
            for maker in dict.fromkeys([*org.operators, *org.admins]):
                state = PostState(0, PostStatus.IN_REVIEW, code, drafter, Category.PUBLICITY,
                                  Classification.PROACTIVE, run=1,
                                  revision=RevisionInfo(1, content, digest, maker))
                for step in org.chain.steps:
                    taken = resolve_assignee(state, step, org)
                    if taken.person is None:
                        assert taken.problem is not None
                        gaps.append(Gap(code, drafter, maker, step, taken.problem))
                        break
                    state = replace(state, decisions=(*state.decisions, DecisionRecord(
                        step, Outcome.APPROVED, taken.person, digest, 1, date.min)))
    return gaps


def acting_for(
    state: PostState, step: Step, actor: str, org: OrgChart, on: date
) -> tuple[Assignment, str | None] | None:
    """(assignment, on_behalf_of) when `actor` may take `step` on day `on`, else None."""
    assignment = resolve_assignee(state, step, org)
    if assignment.person is None or actor not in org.people:
        return None
    if actor == assignment.person:
        return assignment, None
    if actor in _hard_excluded(state) or actor in _earlier_participants(state, step, org):
        return None
    if any(g.deputy == actor for g in org.deputies_for(assignment.person, step, on)):
        return assignment, assignment.person
    return None
