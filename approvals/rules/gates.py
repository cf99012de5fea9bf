"""The gates a post must pass before it is signed and published, each citing its article (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from approvals.rules import scan
from approvals.rules.assign import resolve_assignee
from approvals.rules.errors import Text
from approvals.rules.org import OrgChart
from approvals.rules.records import BASIS_LABEL, Outcome, PostState
from approvals.rules.states import CLASSIFICATION_LABEL, STEP_LABEL, Classification, Step


@dataclass(frozen=True)
class Finding:
    """One gate's verdict: a code, a message, the article it enforces, and whether it blocks."""

    code: str
    text: Text
    article: str
    blocking: bool = True

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the audit log."""
        return {
            "code": self.code,
            "article": self.article,
            "blocking": self.blocking,
            "zh": self.text.zh,
            "en": self.text.en,
        }


def gate_classification(state: PostState) -> list[Finding]:
    """Art. 13: only information classed as proactive disclosure may be published."""
    if state.classification is Classification.PROACTIVE:
        return []
    return [
        Finding(
            "not_proactive",
            Text(
                "本稿属性为“{c}”，只有“主动公开”类信息可以发布（第十三条）。",
                "The post is classed “{c_en}”; only proactive-disclosure information may be "
                "published (art. 13).",
            ).format(c=CLASSIFICATION_LABEL[state.classification].zh,
                     c_en=CLASSIFICATION_LABEL[state.classification].en),
            "13",
        )
    ]


def gate_metadata(state: PostState, org: OrgChart) -> list[Finding]:
    """Art. 28: drafter, reviewer and issuer are recorded, real, and entitled for this post."""
    findings: list[Finding] = []
    dept = org.departments.get(state.department)
    if state.drafter not in org.people:
        findings.append(Finding(
            "drafter_unknown",
            Text("拟稿人“{p}”不在组织架构中（第二十八条）。",
                 "The drafter “{p}” is not in the org chart (art. 28).").format(p=state.drafter),
            "28",
        ))
    elif dept is None or state.drafter not in dept.members:
        findings.append(Finding(
            "drafter_not_in_department",
            Text("拟稿人{p}不属于科室“{d}”（第二十八条）。",
                 "The drafter {p} is not a member of department “{d}” (art. 28).")
            .format(p=org.name_of(state.drafter), d=dept.name if dept else state.department),
            "28",
        ))
    for step in org.chain.steps:
        findings.extend(_step_recorded_and_entitled(state, step, org))
    for step, label in ((Step.REVIEWER, "审核人"), (Step.ISSUER, "签发人")):
        if step not in org.chain.steps:
            findings.append(Finding(
                f"{step.value}_not_in_chain",
                Text("审批链未包含{l}环节，发布信息必须注明{l}（第二十八条）。",
                     "The chain has no {s} step; every published post names one (art. 28).")
                .format(l=label, s=step.value),
                "28",
            ))
    return findings


def _step_recorded_and_entitled(state: PostState, step: Step, org: OrgChart) -> list[Finding]:
    decision = state.decision_for(step)
    label = STEP_LABEL[step]
    if decision is None or decision.outcome is not Outcome.APPROVED:
        return [Finding(
            f"{step.value}_missing",
            Text("“{s}”环节尚无同意记录（第二十七、二十八条）。",
                 "No approval is recorded for the “{s_en}” step (art. 27, 28).")
            .format(s=label.zh, s_en=label.en),
            "27,28",
        )]
    assignment = resolve_assignee(state, step, org)
    entitled = assignment.person is not None and decision.principal == assignment.person
    if entitled and decision.on_behalf_of is not None:
        entitled = any(
            g.deputy == decision.actor
            for g in org.deputies_for(decision.on_behalf_of, step, decision.decided_on)
        )
    if entitled:
        return []
    return [Finding(
        f"{step.value}_not_entitled",
        Text("“{s}”由{p}办理，但按现行组织架构此环节应由{q}办理（第二十八条）。",
             "The “{s_en}” step was taken by {p}, but under the org chart as it stands the "
             "step belongs to {q} (art. 28).")
        .format(s=label.zh, s_en=label.en, p=org.name_of(decision.actor),
                q=org.name_of(assignment.person) if assignment.person else "—"),
        "28",
    )]


def gate_four_eyes(state: PostState, org: OrgChart) -> list[Finding]:
    """No self-approval; one person in two review steps only where configuration allows it."""
    findings: list[Finding] = []
    maker = state.revision.made_by if state.revision else None
    seen: dict[str, Step] = {}
    for d in sorted(state.decisions, key=lambda d: org.chain.steps.index(d.step)
                    if d.step in org.chain.steps else 99):
        if d.step is Step.DRAFTER_CONFIRM or d.outcome is not Outcome.APPROVED:
            continue
        who = {d.actor, d.principal}
        if state.drafter in who:
            findings.append(Finding(
                "self_approval",
                Text("{p}不能审核自己拟写的稿件（“{s}”；第二十五、二十八条）。",
                     "{p} cannot approve their own draft (“{s_en}”; art. 25, 28).")
                .format(p=org.name_of(state.drafter), s=STEP_LABEL[d.step].zh,
                        s_en=STEP_LABEL[d.step].en),
                "25,28",
            ))
        if maker is not None and maker in who:
            findings.append(Finding(
                "maker_approves",
                Text("排版人{p}不能审核自己制作的排版稿（“{s}”；第二十五、二十七条）。",
                     "{p} made this revision and cannot approve it (“{s_en}”; art. 25, 27).")
                .format(p=org.name_of(maker), s=STEP_LABEL[d.step].zh, s_en=STEP_LABEL[d.step].en),
                "25,27",
            ))
        for person in who:
            if person in seen and seen[person] is not d.step:
                allowed = org.chain.allow_same_person_in_two_steps
                findings.append(Finding(
                    "same_person_two_steps",
                    Text("{p}同时办理了“{a}”和“{b}”两个环节{x}（第二十八条）。",
                         "{p} took both “{a_en}” and “{b_en}”{x_en} (art. 28).")
                    .format(p=org.name_of(person), a=STEP_LABEL[seen[person]].zh,
                            b=STEP_LABEL[d.step].zh, a_en=STEP_LABEL[seen[person]].en,
                            b_en=STEP_LABEL[d.step].en,
                            x="（配置允许）" if allowed else "，违反三审不同人原则",
                            x_en=" (allowed by configuration)" if allowed
                            else ", against the four-eyes rule"),
                    "28",
                    blocking=not allowed,
                ))
            seen.setdefault(person, d.step)
    return findings


def gate_current_revision(state: PostState) -> list[Finding]:
    """Every approval of this run refers to the revision that would be published."""
    if state.revision is None:
        return [Finding("no_revision", Text("本稿还没有排版稿（第二十七条）。",
                                            "The post has no laid-out revision (art. 27)."), "27")]
    stale = [d for d in state.decisions if d.revision_hash != state.revision.content_hash]
    return [
        Finding(
            "stale_approval",
            Text("“{s}”的决定针对的是旧版本（{h}），不是当前版本（第二十七条）。",
                 "The “{s_en}” decision refers to an older revision ({h}), not the current one "
                 "(art. 27).")
            .format(s=STEP_LABEL[d.step].zh, s_en=STEP_LABEL[d.step].en, h=d.revision_hash[:12]),
            "27",
        )
        for d in stale
    ]


def gate_repost_source(state: PostState, org: OrgChart) -> list[Finding]:
    """Art. 28: a repost names its source, and the source is an allowlisted official channel."""
    source = state.revision.content.repost_source if state.revision else None
    is_repost = state.category.value == "repost"
    if not source:
        if not is_repost:
            return []
        return [Finding("source_missing",
                        Text("转载信息必须注明信息来源（第二十八条）。",
                             "A repost must name its source (art. 28)."), "28")]
    if org.sources.allows(source):
        return []
    return [Finding(
        "source_not_official",
        Text("信息来源“{s}”不在官方渠道白名单中，转载来源必须为官方渠道（第二十八条）。",
             "The source “{s}” is not on the allowlist of official channels; reposts must come "
             "from an official channel (art. 28).").format(s=source),
        "28",
    )]


def _texts(state: PostState) -> list[tuple[str, str]]:
    if state.revision is None:
        return []
    c = state.revision.content
    return [("title", c.title), ("author", c.author), ("digest", c.digest),
            ("body", scan.html_to_text(c.body_html))]


FIELD_LABEL = {"title": ("标题", "title"), "author": ("作者", "author"),
               "digest": ("摘要", "digest"), "body": ("正文", "body")}


def gate_classified(state: PostState) -> list[Finding]:
    """Art. 15, 18, 26: nothing bearing a classification marking goes out."""
    findings: list[Finding] = []
    for fld, text in _texts(state):
        zh_f, en_f = FIELD_LABEL[fld]
        for hit in scan.find_classification_markers(text):
            if hit.blocking:
                findings.append(Finding(
                    "classified_marker",
                    Text("{f}含有密级或内部标识“{m}”，涉密信息不得发布（第十五、十八、二十六条）。",
                         "The {f_en} carries the classification marking “{m}”; classified "
                         "information must not be published (art. 15, 18, 26).")
                    .format(f=zh_f, f_en=en_f, m=hit.text),
                    "15,18,26",
                ))
            else:
                findings.append(Finding(
                    "classified_mention",
                    Text("{f}提到“{m}”，请确认不是密级标识且内容已经保密审查（第十八条）。",
                         "The {f_en} mentions “{m}”; make sure it is not a classification "
                         "marking and the text passed the secrecy review (art. 18).")
                    .format(f=zh_f, f_en=en_f, m=hit.text),
                    "18",
                    blocking=False,
                ))
    return findings


PII_LABEL = {"resident_id": ("居民身份证号", "resident ID number"),
             "mobile": ("手机号码", "mobile number"),
             "bank_card": ("银行卡号", "bank card number")}


def gate_personal_data(state: PostState, org: OrgChart) -> list[Finding]:
    """Art. 16: personal data blocks unless the issuer recorded consent or public interest."""
    hits = [(fld, h) for fld, text in _texts(state) for h in scan.find_personal_data(text)]
    if not hits:
        return []
    clearance = state.clearance
    cleared = (
        clearance is not None
        and state.revision is not None
        and clearance.revision_hash == state.revision.content_hash
        and _clearance_entitled(state, org)
    )
    findings = []
    for fld, hit in hits:
        zh_k, en_k = PII_LABEL.get(hit.kind, (hit.kind, hit.kind))
        zh_f, en_f = FIELD_LABEL[fld]
        masked = scan.mask(hit.kind, hit.text)
        if cleared:
            assert clearance is not None
            findings.append(Finding(
                "personal_data_cleared",
                Text("{f}含{k}（{m}），签发人已记录公开依据：{b}，理由：{r}（第十六条）。",
                     "The {f_en} contains a {k_en} ({m}); the issuer recorded the basis "
                     "“{b_en}”, reason: {r} (art. 16).")
                .format(f=zh_f, f_en=en_f, k=zh_k, k_en=en_k, m=masked,
                        b=BASIS_LABEL[clearance.basis].zh, b_en=BASIS_LABEL[clearance.basis].en,
                        r=clearance.reason),
                "16",
                blocking=False,
            ))
        else:
            findings.append(Finding(
                "personal_data",
                Text("{f}含有{k}（{m}），涉及个人隐私不得公开；确需公开的，须由签发人记录权利人同意"
                     "或公共利益的理由（第十六条）。",
                     "The {f_en} contains a {k_en} ({m}); personal data must not be published "
                     "unless the issuer records the holder's consent or the public interest, "
                     "with a reason (art. 16).")
                .format(f=zh_f, f_en=en_f, k=zh_k, k_en=en_k, m=masked),
                "16",
            ))
    return findings


def _clearance_entitled(state: PostState, org: OrgChart) -> bool:
    clearance = state.clearance
    if clearance is None:
        return False
    assignment = resolve_assignee(state, Step.ISSUER, org)
    if assignment.person is None or clearance.principal != assignment.person:
        return False
    if clearance.on_behalf_of is None:
        return True
    return any(g.deputy == clearance.recorded_by
               for g in org.deputies_for(clearance.on_behalf_of, Step.ISSUER, clearance.recorded_on))


def classified_blocking(state: PostState) -> list[Finding]:
    """The classification markings that stop the revision at every step (art. 15, 18, 26)."""
    return [f for f in gate_classified(state) if f.blocking]


def content_findings(state: PostState, org: OrgChart) -> list[Finding]:
    """What the content itself raises (markings, personal data, the source, the class), as
    every approver is shown before deciding; the chain's own bookkeeping is left out."""
    return [*gate_classification(state), *gate_repost_source(state, org), *gate_classified(state),
            *gate_personal_data(state, org)]


def evaluate(state: PostState, org: OrgChart) -> list[Finding]:
    """Run every gate; any blocking finding refuses sign-off and publishing."""
    return [
        *gate_classification(state),
        *gate_current_revision(state),
        *gate_metadata(state, org),
        *gate_four_eyes(state, org),
        *gate_repost_source(state, org),
        *gate_classified(state),
        *gate_personal_data(state, org),
    ]


def blocking(findings: list[Finding]) -> list[Finding]:
    """The findings that refuse sign-off."""
    return [f for f in findings if f.blocking]
