"""What the audit log says a post's rows are, and where the stored rows differ (pure).

The tables the rules read (the post, its revisions, decisions, clearances and publish intents)
are a projection of the audit log: every change that wrote one of them appended an audit row in
the same transaction, carrying what it wrote. Replaying a post's audit rows gives the rows that
must exist; any stored row the log does not account for was written behind the application's
back, and any row the log recorded but the table lacks (or holds differently) was deleted or
edited. The log's own integrity is the hash chain's business (`approvals.store.audit`).

Rows written before a record was kept in full are replayed from the fields their audit row
carried then (step, outcome, run, revision hash, actor, deputy); the fields they lacked are not
compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from approvals.rules.errors import Text
from approvals.rules.records import Clearance, DecisionRecord
from approvals.rules.states import (
    CATEGORY_LABEL,
    CLASSIFICATION_LABEL,
    PUBLISH_MODE_LABEL,
    STATUS_LABEL,
    STEP_LABEL,
    Action,
    Category,
    Classification,
    IntentKind,
    PostStatus,
    PublishMode,
    Step,
)

Record = dict[str, Any]

_DECISION_ACTIONS = {f"post.{a.value}" for a in (Action.CONFIRM, Action.APPROVE, Action.SIGN,
                                                   Action.REQUEST_CHANGES, Action.REJECT)}
POST_FACTS = ("status", "run", "revision", "department", "drafter", "category",
              "classification", "publish_mode", "scheduled_at", "formed_on", "due_on", "archived")
# A post leaves every list once closed this way (nothing reopens it).
ARCHIVED = frozenset({PostStatus.REJECTED.value, PostStatus.WITHDRAWN.value})


def decision_record(d: DecisionRecord) -> Record:
    """The fields of a decision row that the rules read, as its audit row keeps them."""
    return {"run": d.run, "step": d.step.value, "attempt": d.attempt, "outcome": d.outcome.value,
            "actor": d.actor, "on_behalf_of": d.on_behalf_of, "revision_hash": d.revision_hash,
            "decided_on": d.decided_on.isoformat()}


def clearance_record(c: Clearance) -> Record:
    """The fields of a clearance row that the rules read, as its audit row keeps them."""
    return {"revision_hash": c.revision_hash, "basis": c.basis.value, "reason": c.reason,
            "recorded_by": c.recorded_by, "on_behalf_of": c.on_behalf_of,
            "recorded_on": c.recorded_on.isoformat()}


def intent_record(kind: IntentKind, revision_hash: str) -> Record:
    """A publish or preview intent as its audit row keeps it."""
    return {"kind": kind.value, "revision_hash": revision_hash}


def revision_record(number: int, content_hash: str, made_by: str) -> Record:
    """A revision row as the log knows it (its content is bound by the hash)."""
    return {"number": number, "content_hash": content_hash, "made_by": made_by}


def utc_text(at: datetime | str | None) -> str | None:
    """A timestamp as one comparable text (UTC, microseconds), whichever form it came in."""
    if at is None:
        return None
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Entry:
    """One audit row of a post, as the replay reads it."""

    seq: int
    actor: str
    action: str
    detail: Mapping[str, Any]


@dataclass
class Ledger:
    """A post's rows: as the log says they must be (`replay`) or as they are stored."""

    facts: Record | None = None  # POST_FACTS
    decisions: list[Record] = field(default_factory=list)
    clearances: list[Record] = field(default_factory=list)
    intents: list[Record] = field(default_factory=list)
    revisions: list[Record] = field(default_factory=list)


def replay(entries: Iterable[Entry]) -> Ledger:
    """The rows a post's audit rows (oldest first) say were written."""
    led = Ledger()
    taken: dict[tuple[int, str], int] = {}
    for e in entries:
        d = e.detail
        if e.action == "post.created":
            led.facts = {"status": PostStatus.DRAFT.value, "run": 0, "revision": 0,
                         "department": d.get("department"), "drafter": d.get("drafter", e.actor),
                         "category": d.get("category"), "classification": d.get("classification"),
                         "publish_mode": "publish", "scheduled_at": None,
                         # The dates the deadline (art. 14) and the annual report count from.
                         "formed_on": d.get("formed_on"), "due_on": d.get("due_on"),
                         "archived": False}
            continue
        if led.facts is None or not e.action.startswith("post."):
            continue
        facts = led.facts
        if "to" in d:
            facts["status"] = d["to"]
            facts["archived"] = d["to"] in ARCHIVED
            if d.get("run") is not None:
                facts["run"] = d["run"]
            if d.get("revision") is not None:
                facts["revision"] = d["revision"]
        if "mode" in d:  # a schedule
            facts["publish_mode"], facts["scheduled_at"] = d["mode"], utc_text(d.get("at"))
        decision = d.get("decision")
        if decision is None and e.action in _DECISION_ACTIONS and "outcome" in d and "step" in d:
            # Written before the full record was kept: what the row carried then.
            key = (d.get("run", facts["run"]), d["step"])
            decision = {"run": key[0], "step": d["step"], "attempt": taken.get(key, 0),
                        "outcome": d["outcome"], "actor": e.actor,
                        "on_behalf_of": d.get("on_behalf_of"), "revision_hash": d.get("revision_hash")}
        if decision is not None:
            key = (decision["run"], decision["step"])
            taken[key] = taken.get(key, 0) + 1
            led.decisions.append(dict(decision))
        clearance = d.get("clearance")
        if clearance is None and e.action == f"post.{Action.CLEAR_PII.value}" and "basis" in d:
            clearance = {"revision_hash": d.get("revision_hash"), "basis": d["basis"],
                         "reason": d.get("comment", ""), "recorded_by": e.actor}
        if clearance is not None:
            led.clearances.append(dict(clearance))
        if "intent" in d:
            led.intents.append(dict(d["intent"]))
        elif "decision" not in d and "clearance" not in d:
            led.intents.extend(_legacy_intents(e))
        if e.action == f"post.{Action.NEW_REVISION.value}" and d.get("revision") is not None:
            led.revisions.append(revision_record(d["revision"], d.get("revision_hash", ""),
                                                 e.actor))
    return led


def _legacy_intents(e: Entry) -> list[Record]:
    # The rule the use case followed when it wrote the intent: a sign-off (or a new schedule of a
    # signed post) writes a publish intent, a new revision a preview intent.
    d, h = e.detail, e.detail.get("revision_hash")
    if h is None or "to" not in d:
        return []
    if e.action == f"post.{Action.NEW_REVISION.value}":
        return [intent_record(IntentKind.PREVIEW, h)]
    signed = PostStatus.SIGNED.value
    if d["to"] == signed and e.action in (f"post.{Action.SIGN.value}",
                                          f"post.{Action.SCHEDULE.value}") and (
            d.get("from") != signed or e.action == f"post.{Action.SCHEDULE.value}"):
        return [intent_record(IntentKind.PUBLISH, h)]
    return []


def compare(logged: Ledger, stored: Ledger, *, runs: set[int] | None = None,
            revision_hash: str | None = None) -> list[Text]:
    """Every difference between what the log says and what is stored, named for people.

    `runs` limits decisions to those runs and `revision_hash` clearances and revisions to that
    revision (what a sign-off reads); without them every row of the post is compared. The post's
    own fields and its publish intents are always compared.
    """
    problems: list[Text] = []
    if logged.facts is None:
        return [Text("审计日志中没有本稿的创建记录：稿件是绕过本系统写入的。",
                     "The audit log has no record of this post being created: it was written "
                     "behind the application's back.")]
    if stored.facts is not None:
        for key in POST_FACTS:
            want, got = logged.facts.get(key), stored.facts.get(key)
            if want is not None and want != got:
                problems.append(_fact_problem(key, want, got))

    def keep_runs(rows: list[Record]) -> list[Record]:
        return rows if runs is None else [r for r in rows if r.get("run") in runs]

    def keep_rev(rows: list[Record], key: str = "revision_hash") -> list[Record]:
        return rows if revision_hash is None else [r for r in rows if r.get(key) == revision_hash]

    problems += _match(keep_runs(logged.decisions), keep_runs(stored.decisions), _decision_name,
                       Text("审批决定", "decision"))
    problems += _match(keep_rev(logged.clearances), keep_rev(stored.clearances), _clearance_name,
                       Text("个人信息公开确认", "personal-data clearance"))
    problems += _match(logged.intents, stored.intents, _intent_name,
                       Text("发布任务", "publish intent"))
    problems += _match(keep_rev(logged.revisions, "content_hash"),
                       keep_rev(stored.revisions, "content_hash"), _revision_name,
                       Text("排版版本", "revision"))
    return problems


def _match(logged: list[Record], stored: list[Record], name: Any, what: Text) -> list[Text]:
    left = list(stored)
    problems = []
    for want in logged:
        found = next((i for i, got in enumerate(left)
                      if all(got.get(k) == v for k, v in want.items())), None)
        if found is None:
            problems.append(Text(
                "审计日志记载的{w}（{n}）在数据库中缺失或已被改动。",
                "The {w_en} the audit log records ({n_en}) is missing from the database or was "
                "changed.").format(w=what.zh, w_en=what.en, n=name(want, "zh"), n_en=name(want, "en")))
        else:
            left.pop(found)
    for extra in left:
        problems.append(Text(
            "数据库中的{w}（{n}）在审计日志中没有记录：是绕过本系统写入或改动的。",
            "The {w_en} in the database ({n_en}) is not in the audit log: it was written or "
            "changed behind the application's back.").format(
            w=what.zh, w_en=what.en, n=name(extra, "zh"), n_en=name(extra, "en")))
    return problems


def _step(value: str, lang: str) -> str:
    try:
        return STEP_LABEL[Step(value)].get(lang)
    except ValueError:
        return value


def _decision_name(r: Record, lang: str) -> str:
    by = r.get("actor", "?") + (f"/{r['on_behalf_of']}" if r.get("on_behalf_of") else "")
    if lang == "en":
        return f"run {r.get('run')}, “{_step(r.get('step', ''), lang)}”, {r.get('outcome')} by {by}"
    return f"第{r.get('run')}轮“{_step(r.get('step', ''), lang)}”，{by}，{r.get('outcome')}"


def _clearance_name(r: Record, lang: str) -> str:
    h = str(r.get("revision_hash") or "")[:8]
    return (f"revision {h}, {r.get('basis')}, by {r.get('recorded_by')}" if lang == "en"
            else f"版本 {h}，{r.get('basis')}，{r.get('recorded_by')}")


def _intent_name(r: Record, lang: str) -> str:
    h = str(r.get("revision_hash") or "")[:8]
    return f"{r.get('kind')}, revision {h}" if lang == "en" else f"{r.get('kind')}，版本 {h}"


def _revision_name(r: Record, lang: str) -> str:
    h = str(r.get("content_hash") or "")[:8]
    return (f"revision {r.get('number')} ({h}) by {r.get('made_by')}" if lang == "en"
            else f"第{r.get('number')}版（{h}），{r.get('made_by')}")


_FACT_LABEL = {
    "status": Text("状态", "status"), "run": Text("审批轮次", "run"),
    "revision": Text("当前版本号", "current revision"), "department": Text("科室", "department"),
    "drafter": Text("拟稿人", "drafter"), "category": Text("类别", "category"),
    "classification": Text("公开属性", "classification"),
    "publish_mode": Text("发布方式", "publish mode"), "scheduled_at": Text("定时", "schedule"),
    "formed_on": Text("信息形成日期", "formation date"), "due_on": Text("发布期限", "due date"),
    "archived": Text("归档标记", "archived mark"),
}


def _fact_problem(key: str, want: Any, got: Any) -> Text:
    labels: dict[str, tuple[type[Any], dict[Any, Text]]] = {
        "status": (PostStatus, STATUS_LABEL), "category": (Category, CATEGORY_LABEL),
        "classification": (Classification, CLASSIFICATION_LABEL),
        "publish_mode": (PublishMode, PUBLISH_MODE_LABEL)}

    def shown(value: Any, lang: str) -> str:
        if key in labels:  # by its name in the person's language, as everywhere else
            kind, names = labels[key]
            try:
                return names[kind(value)].get(lang)
            except ValueError:
                return str(value)
        return "—" if value is None else str(value)

    label = _FACT_LABEL[key]
    return Text("稿件的{k}为“{g}”，审计日志记载为“{w}”：是绕过本系统改动的。",
                "The post's {k_en} is “{g_en}” but the audit log says “{w_en}”: it was changed "
                "behind the application's back.").format(
        k=label.zh, k_en=label.en, g=shown(got, "zh"), g_en=shown(got, "en"), w=shown(want, "zh"),
        w_en=shown(want, "en"))

