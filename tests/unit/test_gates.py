"""The gates a post passes before it is signed (art. 13, 15, 16, 18, 25–28) and who takes each step."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from approvals.rules import assign, chain, gates, permits
from approvals.rules.errors import GateBlocked, NotAllowed, Text
from approvals.rules.gates import Finding
from approvals.rules.org import Delegation, OrgChart, SourceAllowlist
from approvals.rules.records import Clearance, ClearanceBasis, DecisionRecord, Outcome, PostState
from approvals.rules.states import STEP_VERB, Category, PostStatus, Step
from tests.conftest import Personas
from tests.helpers import DAY, act, draft, laid_out, rebound, revision, through_reviewer

ID_NUMBER = "320500198503171249"  # a valid resident ID (GB 11643 check character)
MOBILE = "13812345678"
SECRECY_LAW = "《中华人民共和国保守国家秘密法》"
OFFICIAL_URL = "https://www.mem.gov.cn/xw/yjglbgzdt/202612/t20261207_1.shtml"


# --- helpers ----------------------------------------------------------------------------------

_DIGITS = "一二三四五六七八九"


def _zh_number(n: int) -> str:
    """13 -> 十三, 28 -> 二十八 (the article numbers the rules use)."""
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens - 1]) + "十" + (_DIGITS[ones - 1] if ones else "")


def assert_cites(finding: Finding, article: str) -> None:
    """The finding enforces `article` ("15,18,26") and says so in both languages."""
    assert finding.article == article
    numbers = [int(n) for n in article.split(",")]
    assert "第" + "、".join(_zh_number(n) for n in numbers) + "条" in finding.text.zh
    assert "art. " + ", ".join(str(n) for n in numbers) in finding.text.en


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def only(findings: list[Finding], code: str) -> Finding:
    """The single finding with `code`."""
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, findings
    return found[0]


def signed(org: OrgChart, state: PostState | None = None) -> PostState:
    """李娜's post through every step: confirmed, approved by 张伟 and 陈刚, signed by 王敏."""
    return act(through_reviewer(org, state), org, "sign", "wang_min")


def with_department(org: OrgChart, code: str, **changes: object) -> OrgChart:
    """The org chart with one department changed (a reorganisation)."""
    return replace(org, departments={**org.departments,
                                     code: replace(org.departments[code], **changes)})


def decision(step: Step, actor: str, state: PostState, *, on: date = DAY,
             on_behalf_of: str | None = None) -> DecisionRecord:
    """An approval of the state's current revision, as the store would hold it."""
    assert state.revision is not None
    return DecisionRecord(step=step, outcome=Outcome.APPROVED, actor=actor,
                          revision_hash=state.revision.content_hash, run=state.run, decided_on=on,
                          on_behalf_of=on_behalf_of)


def with_decisions(state: PostState, *people: tuple[Step, str]) -> PostState:
    """The state with exactly these approvals recorded (a situation the chain may refuse)."""
    return replace(state, status=PostStatus.IN_REVIEW,
                   decisions=tuple(decision(step, actor, state) for step, actor in people))


FULL_CHAIN = ((Step.DRAFTER_CONFIRM, "li_na"), (Step.DEPT_HEAD, "zhang_wei"),
              (Step.REVIEWER, "chen_gang"), (Step.ISSUER, "wang_min"))


# --- the source allowlist (art. 28) -----------------------------------------------------------


@pytest.mark.parametrize("source", [
    OFFICIAL_URL,
    "http://yjglt.jiangsu.gov.cn/art/2026/12/7/art_1.html",
    "https://gov.cn/",
    "https://WWW.MEM.GOV.CN./xw/",
    "https://www.mem.gov.cn:443/xw/",
    "https://www.news.cn/politics/20261207/c.html",
    "  https://www.people.com.cn/  ",
])
def test_an_allowlisted_official_site_is_an_official_source(org: OrgChart, source: str) -> None:
    assert org.sources.allows(source)


@pytest.mark.parametrize("source", [
    "https://gov.cn.evil.com/",
    "https://evilgov.cn/",
    "https://www.gov.cn@evil.com/",
    "https://www.gov.cn:443@evil.com/xw/",
    "ftp://www.gov.cn/",
    "file://www.gov.cn/etc/passwd",
    "javascript:alert(document.domain)//www.gov.cn",
    "javascript://www.gov.cn/%0aalert(1)",
    "https://www.news.cn.evil.com/",
    "https://news.cn/",
    "https://evil.com/?from=www.gov.cn",
    "https://evil.com/#.gov.cn",
    "https:///www.gov.cn/",
    "www.mem.gov.cn",
    "",
    "   ",
])
def test_a_lookalike_or_non_web_source_is_refused(org: OrgChart, source: str) -> None:
    assert not org.sources.allows(source)


# Browsers (WHATWG URL) end an http(s) host at a backslash where urlsplit reads on, so the first
# two lead to evil.com while urlsplit sees a gov.cn host; user info before a host misleads the
# reader about where a link goes; an official link never holds whitespace.
@pytest.mark.parametrize("source", [
    "https://evil.com\\.gov.cn/",
    "https://evil.com\\@www.gov.cn/",
    "https://www.gov.cn\\@evil.com/",
    "https://evil.com@www.gov.cn/",
    "https://user:secret@www.mem.gov.cn/xw/",
    "https://www.gov.cn .evil.com/",
    "https://www.gov.cn\t.evil.com/",
])
def test_a_backslash_user_info_or_whitespace_cannot_smuggle_a_host_past_the_allowlist(
        org: OrgChart, source: str) -> None:
    assert not org.sources.allows(source)


@pytest.mark.parametrize("source", ["应急管理部", " 新华社 ", "\u3000人民日报\u3000", "\xa0吴江发布\n"])
def test_an_allowlisted_account_name_matches_with_surrounding_whitespace(org: OrgChart,
                                                                         source: str) -> None:
    assert org.sources.allows(source)


def test_account_names_are_compared_after_nfkc_and_case_folding() -> None:
    allowlist = SourceAllowlist(accounts=("CCTV新闻", "Ｘinhua（新华社）"))
    for source in ("ＣＣＴＶ新闻", "cctv新闻", " Cctv新闻 ", "xinhua(新华社)", "XINHUA（新华社）"):
        assert allowlist.allows(source), source
    for source in ("CCTV 新闻", "CCTV新闻网", "CCTV", "新闻"):
        assert not allowlist.allows(source), source


@pytest.mark.parametrize("source", ["应急管理", "应急管理部官网", "人民日报评论", "新华社 转"])
def test_an_account_name_is_matched_whole_not_by_prefix(org: OrgChart, source: str) -> None:
    assert not org.sources.allows(source)


def test_an_empty_allowlist_allows_nothing() -> None:
    assert not SourceAllowlist().allows(OFFICIAL_URL)
    assert not SourceAllowlist().allows("应急管理部")


# --- art. 13: only proactive disclosure ---------------------------------------------------------


def test_a_proactive_disclosure_passes_the_classification_gate(org: OrgChart) -> None:
    assert gates.gate_classification(laid_out(org)) == []


@pytest.mark.parametrize("classification", ["on_request", "not_disclosed"])
def test_a_post_not_classed_proactive_is_blocked_citing_art_13(org: OrgChart,
                                                               classification: str) -> None:
    state = laid_out(org, classification=classification)
    finding = only(gates.gate_classification(state), "not_proactive")
    assert finding.blocking
    assert_cites(finding, "13")
    # said with its name in the person's language, never the stored value
    assert classification not in finding.text.zh and classification not in finding.text.en
    assert ("依申请公开" if classification == "on_request" else "不予公开") in finding.text.zh
    with pytest.raises(GateBlocked) as info:
        act(through_reviewer(org, state), org, "sign", "wang_min")
    assert {f.code for f in info.value.findings if f.blocking} == {"not_proactive"}


# --- art. 28: reposts name an official source ---------------------------------------------------


def _repost(org: OrgChart, source: str | None) -> PostState:
    return laid_out(org, revision(category="repost", source=source), category="repost")


def test_a_repost_without_a_source_is_blocked(org: OrgChart) -> None:
    finding = only(gates.gate_repost_source(_repost(org, None), org), "source_missing")
    assert finding.blocking
    assert_cites(finding, "28")


@pytest.mark.parametrize("source", ["https://www.example.com/news/1.html", "https://gov.cn.evil.com/",
                                    "某某自媒体"])
def test_a_repost_from_a_source_off_the_allowlist_is_blocked(org: OrgChart, source: str) -> None:
    state = through_reviewer(org, _repost(org, source))
    finding = only(gates.gate_repost_source(state, org), "source_not_official")
    assert finding.blocking
    assert_cites(finding, "28")
    assert source in finding.text.zh
    with pytest.raises(GateBlocked):
        act(state, org, "sign", "wang_min")


@pytest.mark.parametrize("source", [OFFICIAL_URL, "应急管理部"])
def test_a_repost_from_an_official_channel_passes_and_can_be_signed(org: OrgChart,
                                                                    source: str) -> None:
    state = _repost(org, source)
    assert gates.gate_repost_source(state, org) == []
    assert signed(org, state).status is PostStatus.SIGNED


def test_a_post_that_is_not_a_repost_needs_no_source(org: OrgChart) -> None:
    assert gates.gate_repost_source(laid_out(org), org) == []


def test_a_source_named_on_any_post_must_still_be_official(org: OrgChart) -> None:
    state = laid_out(org, revision(source="https://www.example.com/"))
    assert state.category is Category.PUBLICITY
    assert codes(gates.gate_repost_source(state, org)) == {"source_not_official"}


def test_a_source_delisted_after_signing_blocks_at_publish_time(org: OrgChart) -> None:
    state = signed(org, _repost(org, "应急管理部"))
    delisted = replace(org, sources=replace(org.sources, accounts=("新华社",)))
    assert codes(gates.blocking(gates.evaluate(state, delisted))) == {"source_not_official"}


# --- art. 15, 18, 26: nothing classified ------------------------------------------------------


@pytest.mark.parametrize("body", ["<p>机密★1年 会议纪要</p>", "<p>绝密</p>", "<p>秘密★长期</p>",
                                  "<p>本文为内部资料，注意保存</p>", "<p>【秘密】关于演练的通知</p>"])
def test_a_classification_marking_blocks_citing_art_15_18_26(org: OrgChart, body: str) -> None:
    state = rebound(through_reviewer(org), revision(body=body))
    findings = gates.gate_classified(state)
    assert findings and all(f.code == "classified_marker" and f.blocking for f in findings)
    assert_cites(findings[0], "15,18,26")
    with pytest.raises(GateBlocked):
        act(state, org, "sign", "wang_min")


def test_a_marking_in_the_title_blocks_too(org: OrgChart) -> None:
    state = laid_out(org, revision(title="【机密】关于演练的通知"))
    finding = only(gates.gate_classified(state), "classified_marker")
    assert "标题" in finding.text.zh and "title" in finding.text.en


def test_a_benign_mention_of_the_secrecy_law_only_asks_for_a_second_look(org: OrgChart) -> None:
    body = f"<p>依据{SECRECY_LAW}，我局开展保密教育。</p>"
    state = laid_out(org, revision(body=body))
    finding = only(gates.gate_classified(state), "classified_mention")
    assert not finding.blocking
    assert_cites(finding, "18")
    done = signed(org, state)
    assert done.status is PostStatus.SIGNED
    assert gates.blocking(gates.evaluate(done, org)) == []


# --- art. 16: personal data -------------------------------------------------------------------


def _with_pii(org: OrgChart, body: str = f"<p>联系人身份证号{ID_NUMBER}。</p>") -> PostState:
    return through_reviewer(org, laid_out(org, revision(body=body)))


@pytest.mark.parametrize(("body", "number"), [
    (f"<p>联系人身份证号{ID_NUMBER}。</p>", ID_NUMBER),
    (f"<p>报名电话{MOBILE}。</p>", MOBILE),
])
def test_personal_data_blocks_citing_art_16_without_repeating_the_number(
        org: OrgChart, body: str, number: str) -> None:
    state = _with_pii(org, body)
    finding = only(gates.gate_personal_data(state, org), "personal_data")
    assert finding.blocking
    assert_cites(finding, "16")
    assert number not in finding.text.zh and number not in finding.text.en
    with pytest.raises(GateBlocked):
        act(state, org, "sign", "wang_min")


def test_the_issuers_clearance_for_the_current_revision_lets_personal_data_through(
        org: OrgChart) -> None:
    state = _with_pii(org)
    state = chain.apply(state, chain.clear_pii(
        state, "wang_min", org, on=DAY, basis="consent", reason="本人书面同意公开",
        revision_hash=state.revision.content_hash))
    finding = only(gates.gate_personal_data(state, org), "personal_data_cleared")
    assert not finding.blocking
    assert_cites(finding, "16")
    assert "本人书面同意公开" in finding.text.zh
    assert "权利人同意公开" in finding.text.zh and "consent" not in finding.text.zh
    assert "the holder's consent" in finding.text.en
    assert act(state, org, "sign", "wang_min").status is PostStatus.SIGNED


def _cleared(state: PostState, *, by: str = "wang_min", revision_hash: str | None = None,
             on: date = DAY, on_behalf_of: str | None = None) -> PostState:
    assert state.revision is not None
    return replace(state, clearance=Clearance(
        revision_hash or state.revision.content_hash, ClearanceBasis.PUBLIC_INTEREST,
        "涉及公共安全，须公开联系方式", by, on, on_behalf_of))


def test_a_clearance_for_another_revision_does_not_count(org: OrgChart) -> None:
    state = _cleared(_with_pii(org), revision_hash=revision(2, body="<p>旧版</p>").content_hash)
    assert codes(gates.blocking(gates.gate_personal_data(state, org))) == {"personal_data"}


@pytest.mark.parametrize("by", ["chen_gang", "zhou_jian", "zhao_xue", "mallory"])
def test_a_clearance_recorded_by_anyone_but_the_issuer_does_not_count(org: OrgChart,
                                                                      by: str) -> None:
    state = _with_pii(org)
    with pytest.raises(NotAllowed):
        chain.clear_pii(state, by, org, on=DAY, basis="consent", reason="同意",
                        revision_hash=state.revision.content_hash)
    assert codes(gates.blocking(gates.gate_personal_data(_cleared(state, by=by), org))) == {
        "personal_data"}


def test_a_clearance_no_longer_counts_once_the_issuer_is_replaced(org: OrgChart) -> None:
    state = _cleared(_with_pii(org))
    assert gates.blocking(gates.gate_personal_data(state, org)) == []
    assert gates.blocking(gates.gate_personal_data(state, replace(org, issuer="zhou_jian")))


def test_a_deputys_clearance_counts_only_inside_the_delegation(org: OrgChart) -> None:
    covered = replace(org, delegations=(*org.delegations, Delegation(
        "sun_li", "wang_min", date(2026, 12, 7), date(2026, 12, 18), (Step.ISSUER,))))
    state = _with_pii(covered)
    inside = _cleared(state, by="sun_li", on_behalf_of="wang_min")
    assert gates.blocking(gates.gate_personal_data(inside, covered)) == []
    outside = _cleared(state, by="sun_li", on_behalf_of="wang_min", on=date(2026, 12, 19))
    assert gates.blocking(gates.gate_personal_data(outside, covered))
    assert gates.blocking(gates.gate_personal_data(inside, org))  # no such delegation


def test_a_new_revision_drops_the_clearance_and_personal_data_blocks_again(org: OrgChart) -> None:
    state = _cleared(_with_pii(org))
    again = chain.apply(state, chain.new_revision(
        state, "he_jing", org, revision(2, body=f"<p>联系电话{MOBILE}</p>"), on=DAY))
    assert again.clearance is None
    assert codes(gates.blocking(gates.gate_personal_data(again, org))) == {"personal_data"}


# --- art. 25, 27, 28: drafter, reviewer and issuer recorded and entitled ----------------------


def test_a_fully_signed_post_passes_every_gate(org: OrgChart) -> None:
    assert gates.evaluate(signed(org), org) == []


def test_every_step_without_an_approval_is_named(org: OrgChart) -> None:
    findings = gates.gate_metadata(laid_out(org), org)
    assert codes(findings) == {"drafter_confirm_missing", "dept_head_missing", "reviewer_missing",
                               "issuer_missing"}
    for finding in findings:
        assert finding.blocking
        assert_cites(finding, "27,28")


def test_a_request_for_changes_is_not_an_approval(org: OrgChart) -> None:
    state = act(act(laid_out(org), org, "confirm", "li_na"), org, "request_changes", "zhang_wei",
                comment="人数有误")
    assert "dept_head_missing" in codes(gates.gate_metadata(state, org))


def test_a_drafter_outside_the_posts_department_is_blocked(org: OrgChart) -> None:
    state = with_decisions(laid_out(org, drafter="xu_fang"), (Step.DRAFTER_CONFIRM, "xu_fang"),
                           *FULL_CHAIN[1:])
    finding = only(gates.gate_metadata(state, org), "drafter_not_in_department")
    assert finding.blocking
    assert_cites(finding, "28")
    assert "徐芳" in finding.text.zh and "应急救援科" in finding.text.zh


def test_a_drafter_who_left_the_department_blocks_a_signed_post(org: OrgChart) -> None:
    state = signed(org)
    moved = with_department(org, "jyk", members=("zhang_wei",))
    assert codes(gates.blocking(gates.evaluate(state, moved))) == {"drafter_not_in_department"}


def test_a_drafter_not_in_the_org_chart_is_blocked(org: OrgChart) -> None:
    state = with_decisions(laid_out(org, drafter="mallory"), (Step.DRAFTER_CONFIRM, "mallory"),
                           *FULL_CHAIN[1:])
    finding = only(gates.gate_metadata(state, org), "drafter_unknown")
    assert finding.blocking
    assert_cites(finding, "28")


def test_a_reviewer_no_longer_entitled_after_a_reorganisation_blocks(org: OrgChart) -> None:
    state = signed(org)
    reorganised = with_department(org, "jyk", supervising_leader="sun_li")
    finding = only(gates.gate_metadata(state, reorganised), "reviewer_not_entitled")
    assert finding.blocking
    assert_cites(finding, "28")
    assert "陈刚" in finding.text.zh and "孙丽" in finding.text.zh


def test_a_department_head_no_longer_entitled_blocks(org: OrgChart) -> None:
    state = signed(org)
    reorganised = with_department(org, "jyk", head="huang_tao")
    assert codes(gates.blocking(gates.evaluate(state, reorganised))) == {"dept_head_not_entitled"}


def test_an_issuer_replaced_after_signing_blocks_until_the_new_one_re_signs(org: OrgChart) -> None:
    state = signed(org)
    replaced = replace(org, issuer="zhou_jian")
    finding = only(gates.gate_metadata(state, replaced), "issuer_not_entitled")
    assert finding.blocking
    assert_cites(finding, "28")
    held = replace(state, status=PostStatus.ON_HOLD)
    resigned = act(held, replaced, "sign", "zhou_jian")
    assert gates.blocking(gates.evaluate(resigned, replaced)) == []


def test_a_deputy_decision_is_entitled_on_a_day_the_delegation_covers(org: OrgChart) -> None:
    state = act(act(laid_out(org), org, "confirm", "li_na"), org, "approve", "zhang_wei")
    for day in (date(2026, 12, 7), DAY, date(2026, 12, 18)):
        reviewed = act(state, org, "approve", "sun_li", on=day)
        assert reviewed.decision_for(Step.REVIEWER).on_behalf_of == "chen_gang"
        done = act(reviewed, org, "sign", "wang_min")
        assert gates.gate_metadata(done, org) == []


@pytest.mark.parametrize("day", [date(2026, 12, 6), date(2026, 12, 19)])
def test_a_deputy_decision_outside_the_delegation_dates_is_not_entitled(org: OrgChart,
                                                                        day: date) -> None:
    base = with_decisions(laid_out(org), *FULL_CHAIN)
    deputy = decision(Step.REVIEWER, "sun_li", base, on=day, on_behalf_of="chen_gang")
    state = replace(base, decisions=tuple(deputy if d.step is Step.REVIEWER else d
                                          for d in base.decisions))
    finding = only(gates.gate_metadata(state, org), "reviewer_not_entitled")
    assert finding.blocking
    assert "孙丽" in finding.text.zh


def test_a_deputy_decision_no_longer_entitled_once_the_delegation_is_removed(
        org: OrgChart) -> None:
    state = act(act(act(laid_out(org), org, "confirm", "li_na"), org, "approve", "zhang_wei"),
                org, "approve", "sun_li")
    state = act(state, org, "sign", "wang_min")
    assert gates.gate_metadata(state, org) == []
    revoked = replace(org, delegations=())
    assert codes(gates.gate_metadata(state, revoked)) == {"reviewer_not_entitled"}


def test_a_delegation_for_one_step_does_not_cover_another(org: OrgChart) -> None:
    base = with_decisions(laid_out(org), *FULL_CHAIN)
    for_issuer = decision(Step.ISSUER, "sun_li", base, on_behalf_of="wang_min")
    state = replace(base, decisions=(*base.decisions[:3], for_issuer))
    assert codes(gates.gate_metadata(state, org)) == {"issuer_not_entitled"}


@pytest.mark.parametrize(("dropped", "code"), [(Step.REVIEWER, "reviewer_not_in_chain"),
                                               (Step.ISSUER, "issuer_not_in_chain")])
def test_a_chain_without_a_reviewer_or_an_issuer_step_cannot_publish(org: OrgChart, dropped: Step,
                                                                     code: str) -> None:
    steps = tuple(s for s in org.chain.steps if s is not dropped)
    short = replace(org, chain=replace(org.chain, steps=steps))
    finding = only(gates.gate_metadata(with_decisions(laid_out(org), *FULL_CHAIN), short), code)
    assert finding.blocking
    assert_cites(finding, "28")


# --- four eyes ---------------------------------------------------------------------------------


def test_one_person_in_two_steps_blocks(org: OrgChart) -> None:
    state = with_decisions(laid_out(org), (Step.DRAFTER_CONFIRM, "li_na"),
                           (Step.DEPT_HEAD, "zhang_wei"), (Step.REVIEWER, "zhang_wei"),
                           (Step.ISSUER, "wang_min"))
    finding = only(gates.gate_four_eyes(state, org), "same_person_two_steps")
    assert finding.blocking
    assert_cites(finding, "28")
    assert "张伟" in finding.text.zh and "four-eyes" in finding.text.en


def test_one_person_in_two_steps_is_only_noted_where_configuration_allows_it(
        org: OrgChart) -> None:
    lax = replace(org, chain=replace(org.chain, allow_same_person_in_two_steps=True))
    state = laid_out(lax, drafter="guo_qiang", department="bgs")
    state = act(act(state, lax, "confirm", "guo_qiang"), lax, "approve", "ma_lin")
    state = act(act(state, lax, "approve", "wang_min"), lax, "sign", "wang_min")
    finding = only(gates.gate_four_eyes(state, lax), "same_person_two_steps")
    assert not finding.blocking
    assert "配置允许" in finding.text.zh and "allowed by configuration" in finding.text.en
    assert gates.blocking(gates.evaluate(state, lax)) == []
    assert gates.gate_four_eyes(state, org)[0].blocking  # the same post under the strict chart


def test_a_deputy_and_the_leader_they_stand_for_count_as_one_person(org: OrgChart) -> None:
    # 孙丽 signs as reviewer for 陈刚; 陈刚 then signing as issuer is 陈刚 in two steps.
    base = with_decisions(laid_out(org), *FULL_CHAIN[:3], (Step.ISSUER, "chen_gang"))
    deputy = decision(Step.REVIEWER, "sun_li", base, on_behalf_of="chen_gang")
    state = replace(base, decisions=(*base.decisions[:2], deputy, base.decisions[3]))
    assert "same_person_two_steps" in codes(gates.blocking(gates.gate_four_eyes(state, org)))


def test_the_drafter_approving_their_own_post_blocks(org: OrgChart) -> None:
    state = with_decisions(laid_out(org), *FULL_CHAIN[:1], (Step.DEPT_HEAD, "li_na"),
                           *FULL_CHAIN[2:])
    finding = only(gates.gate_four_eyes(state, org), "self_approval")
    assert finding.blocking
    assert_cites(finding, "25,28")
    assert "李娜" in finding.text.zh


def test_the_maker_of_a_revision_approving_it_blocks(org: OrgChart) -> None:
    state = laid_out(org, revision(made_by="zhang_wei"))
    state = with_decisions(state, *FULL_CHAIN)
    finding = only(gates.gate_four_eyes(state, org), "maker_approves")
    assert finding.blocking
    assert_cites(finding, "25,27")
    assert "张伟" in finding.text.zh


def test_the_drafters_own_confirmation_is_not_self_approval(org: OrgChart) -> None:
    state = draft(drafter="zhao_xue", department="fxk")
    state = chain.apply(state, chain.new_revision(state, "zhao_xue", org,
                                                  revision(made_by="zhao_xue"), on=DAY))
    state = act(state, org, "confirm", "zhao_xue")
    assert gates.gate_four_eyes(state, org) == []


# --- every approval on the revision that would be published -----------------------------------


def test_an_approval_of_an_older_revision_blocks(org: OrgChart) -> None:
    state = with_decisions(laid_out(org), *FULL_CHAIN)
    old = revision(2, body="<p>旧版正文</p>").content_hash
    state = replace(state, decisions=(replace(state.decisions[0], revision_hash=old),
                                      *state.decisions[1:]))
    finding = only(gates.gate_current_revision(state), "stale_approval")
    assert finding.blocking
    assert_cites(finding, "27")
    assert old[:12] in finding.text.zh


def test_a_post_without_a_revision_cannot_pass(org: OrgChart) -> None:
    finding = only(gates.gate_current_revision(draft()), "no_revision")
    assert finding.blocking
    assert_cites(finding, "27")


# --- findings as recorded -----------------------------------------------------------------------


def test_a_finding_is_recorded_in_the_audit_log_with_its_article_and_both_languages(
        org: OrgChart) -> None:
    finding = only(gates.gate_classification(laid_out(org, classification="on_request")),
                   "not_proactive")
    assert finding.as_dict() == {"code": "not_proactive", "article": "13", "blocking": True,
                                 "zh": finding.text.zh, "en": finding.text.en}


def test_blocking_keeps_only_the_blocking_findings() -> None:
    warn = Finding("classified_mention", Text("提到", "mentions"), "18", blocking=False)
    stop = Finding("classified_marker", Text("密级", "marking"), "15,18,26")
    assert gates.blocking([warn, stop, warn]) == [stop]


# --- who takes each step ------------------------------------------------------------------------


@pytest.mark.parametrize(("department", "drafter", "head", "reviewer", "issuer", "fallback"), [
    ("jyk", "li_na", "zhang_wei", "chen_gang", "wang_min", False),
    ("jck", "xu_fang", "huang_tao", "sun_li", "wang_min", False),
    # 法宣科 and 办公室 are supervised by the issuer: sign-off goes to the principal leader.
    ("fxk", "zhao_xue", "liu_yang", "wang_min", "zhou_jian", True),
    ("bgs", "guo_qiang", "ma_lin", "wang_min", "zhou_jian", True),
])
def test_each_department_resolves_its_chain_with_the_fallback_where_the_issuer_reviewed(
        org: OrgChart, department: str, drafter: str, head: str, reviewer: str, issuer: str,
        fallback: bool) -> None:
    state = laid_out(org, drafter=drafter, department=department)
    expected = [(Step.DRAFTER_CONFIRM, drafter, False), (Step.DEPT_HEAD, head, False),
                (Step.REVIEWER, reviewer, False), (Step.ISSUER, issuer, fallback)]
    for step, person, via_fallback in expected:
        assignment = assign.resolve_assignee(state, step, org)
        assert (assignment.person, assignment.via_fallback, assignment.problem) == (
            person, via_fallback, None), step
        if via_fallback:
            assert assignment.usual == org.issuer
        state = act(state, org, STEP_VERB[step].value, person)
    assert state.status is PostStatus.SIGNED
    assert gates.evaluate(state, org) == []


def test_a_department_head_drafting_hands_the_head_step_to_the_fallback(org: OrgChart) -> None:
    state = laid_out(org, drafter="zhang_wei")
    assignment = assign.resolve_assignee(state, Step.DEPT_HEAD, org)
    assert (assignment.person, assignment.usual, assignment.via_fallback) == (
        "zhou_jian", "zhang_wei", True)


def test_a_department_head_who_laid_out_the_revision_hands_the_head_step_on(org: OrgChart) -> None:
    state = draft(drafter="zhao_xue", department="fxk")
    state = chain.apply(state, chain.new_revision(state, "liu_yang", org,
                                                  revision(made_by="liu_yang"), on=DAY))
    assert assign.resolve_assignee(state, Step.DEPT_HEAD, org).person == "zhou_jian"


def test_the_principal_leader_is_the_fallback_when_none_is_configured(org: OrgChart) -> None:
    implicit = replace(org, chain=replace(org.chain, fallback=()))
    state = act(act(act(laid_out(implicit, drafter="guo_qiang", department="bgs"), implicit,
                        "confirm", "guo_qiang"), implicit, "approve", "ma_lin"),
                implicit, "approve", "wang_min")
    assert assign.resolve_assignee(state, Step.ISSUER, implicit).person == "zhou_jian"


def test_with_no_fallback_at_all_the_step_has_no_one_and_says_what_to_configure(
        org: OrgChart) -> None:
    bare = replace(org, principal_leader=None, chain=replace(org.chain, fallback=()))
    state = act(act(act(laid_out(bare, drafter="guo_qiang", department="bgs"), bare,
                        "confirm", "guo_qiang"), bare, "approve", "ma_lin"),
                bare, "approve", "wang_min")
    assignment = assign.resolve_assignee(state, Step.ISSUER, bare)
    assert assignment.person is None and assignment.problem is not None
    assert "fallback" in assignment.problem.zh
    assert "allow_same_person_in_two_steps" in assignment.problem.en


def _fxk_post_laid_out_by_its_head_at_the_issuer(org: OrgChart) -> PostState:
    # 刘洋 (法宣科 head) lays out a 法宣科 post: the first fallback takes the head step, the
    # reviewer is the issuer, so the issuer step needs someone else again.
    state = draft(drafter="zhao_xue", department="fxk")
    state = chain.apply(state, chain.new_revision(state, "liu_yang", org,
                                                  revision(made_by="liu_yang"), on=DAY))
    first = org.fallbacks()[0]
    return act(act(act(state, org, "confirm", "zhao_xue"), org, "approve", first),
               org, "approve", "wang_min")


def test_the_next_fallback_in_order_takes_a_step_the_first_one_already_took(
        org: OrgChart) -> None:
    assert org.fallbacks() == ("zhou_jian", "chen_gang")  # the example chart's order
    state = _fxk_post_laid_out_by_its_head_at_the_issuer(org)
    assignment = assign.resolve_assignee(state, Step.ISSUER, org)
    assert (assignment.person, assignment.usual, assignment.via_fallback) == (
        "chen_gang", "wang_min", True)
    signed = act(state, org, "sign", "chen_gang")
    assert signed.status is PostStatus.SIGNED and gates.blocking(gates.evaluate(signed, org)) == []


def test_a_single_fallback_already_in_the_chain_leaves_the_step_with_no_one_saying_so(
        org: OrgChart) -> None:
    one = replace(org, chain=replace(org.chain, fallback=("zhou_jian",)))
    state = _fxk_post_laid_out_by_its_head_at_the_issuer(one)
    assignment = assign.resolve_assignee(state, Step.ISSUER, one)
    assert assignment.person is None and assignment.problem is not None
    # It says the fallback is in the chain already, not that none is configured.
    assert "备选人员（周建）也都已参与本稿" in assignment.problem.zh
    assert "add another leader to [chain] fallback" in assignment.problem.en
    assert "未配置" not in assignment.problem.zh
    with pytest.raises(NotAllowed) as info:
        act(state, one, "sign", "wang_min")
    assert "周建" in info.value.message("zh-CN")


def _walk(org: OrgChart, department: str, drafter: str, maker: str) -> PostState:
    """Hand in, lay out and take each step by whoever the chain offers it to: how far it gets."""
    state = draft(drafter=drafter, department=department)
    state = chain.apply(state, chain.new_revision(state, maker, org, revision(made_by=maker),
                                                  on=DAY))
    while state.status is PostStatus.IN_REVIEW:
        step = permits.current_step(state, org)
        assert step is not None
        verb = STEP_VERB[step]
        takers = [p for p in org.people if verb in permits.allowed_actions(state, p, org, DAY)]
        if not takers:
            break
        state = act(state, org, verb.value, takers[0])
    return state


def test_every_combination_of_the_example_chart_can_be_signed(org: OrgChart) -> None:
    assert assign.unfilled_steps(org) == []
    for code, dept in org.departments.items():
        for drafter in dept.members:
            for maker in {*org.operators, *org.admins}:
                assert _walk(org, code, drafter, maker).status is PostStatus.SIGNED, (
                    code, drafter, maker)


def test_a_chart_with_one_fallback_reports_each_unsignable_combination(org: OrgChart) -> None:
    one = replace(org, chain=replace(org.chain, fallback=("zhou_jian",)))
    gaps = assign.unfilled_steps(one)
    found = {(g.department, g.drafter, g.maker, g.step) for g in gaps}
    # A 法宣科 or 办公室 head's own post, and a 法宣科 post the head (an admin) lays out.
    assert ("fxk", "liu_yang", "he_jing", Step.ISSUER) in found
    assert ("bgs", "ma_lin", "he_jing", Step.ISSUER) in found
    assert ("fxk", "zhao_xue", "liu_yang", Step.ISSUER) in found
    assert all(g.department in ("fxk", "bgs") for g in gaps)
    assert ("bgs", "guo_qiang", "he_jing", Step.ISSUER) not in found
    for g in gaps:  # each reported walk really stops at that step, and says what to configure
        stuck = _walk(one, g.department, g.drafter, g.maker)
        assert stuck.status is PostStatus.IN_REVIEW
        assert permits.current_step(stuck, one) is g.step
        assert "[chain] fallback" in g.problem.en
    assert len(found) == len(gaps)


def test_configuration_allowing_one_person_in_two_steps_keeps_the_usual_holder(
        org: OrgChart) -> None:
    lax = replace(org, chain=replace(org.chain, allow_same_person_in_two_steps=True))
    state = act(act(act(laid_out(lax, drafter="guo_qiang", department="bgs"), lax,
                        "confirm", "guo_qiang"), lax, "approve", "ma_lin"), lax, "approve",
                "wang_min")
    assignment = assign.resolve_assignee(state, Step.ISSUER, lax)
    assert (assignment.person, assignment.same_person_allowed, assignment.via_fallback) == (
        "wang_min", True, False)


def test_configuration_never_lets_the_drafter_approve_their_own_post(org: OrgChart) -> None:
    lax = replace(org, chain=replace(org.chain, allow_same_person_in_two_steps=True))
    state = laid_out(lax, drafter="zhang_wei")
    assert assign.resolve_assignee(state, Step.DEPT_HEAD, lax).person == "zhou_jian"


def test_an_unknown_department_has_no_one_for_its_steps(org: OrgChart) -> None:
    state = laid_out(org, department="xyz")
    for step in (Step.DEPT_HEAD, Step.REVIEWER):
        assignment = assign.resolve_assignee(state, step, org)
        assert assignment.person is None and assignment.problem is not None
        assert "xyz" in assignment.problem.zh
    assert assign.resolve_assignee(state, Step.ISSUER, org).person == "wang_min"


def test_acting_for_names_the_leader_a_deputy_stands_in_for(org: OrgChart, who: Personas) -> None:
    state = act(act(laid_out(org), org, "confirm", who.drafter), org, "approve", who.head)
    granted = assign.acting_for(state, Step.REVIEWER, who.deputy, org, DAY)
    assert granted is not None and granted[1] == who.leader
    assert assign.acting_for(state, Step.REVIEWER, who.deputy, org, date(2026, 12, 19)) is None
    assert assign.acting_for(state, Step.REVIEWER, who.leader, org, DAY)[1] is None
    for outsider in who.outsiders:
        assert assign.acting_for(state, Step.REVIEWER, outsider, org, DAY) is None

