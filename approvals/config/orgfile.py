"""Load and check the org-chart TOML file: typed models, cross-references, and every problem named."""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from approvals.rules.assign import Gap, unfilled_steps
from approvals.rules.deadlines import WorkCalendar, YearSchedule
from approvals.rules.errors import ConfigError, Text
from approvals.rules.notices import PERSONAL_ADDRESSES
from approvals.rules.org import (
    ChainConfig,
    Delegation,
    Department,
    Footer,
    OrgChart,
    Person,
    SourceAllowlist,
)
from approvals.rules.states import STEP_LABEL, Step

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
STEP_ORDER = list(Step)


@dataclass(frozen=True)
class Problem:
    """One error or warning in a configuration file."""

    file: str
    key: str
    reason: Text
    severity: Literal["error", "warning"] = "error"

    def render(self, lang: str | None = None) -> str:
        """`file: key: reason`, with the severity in the user's language."""
        label = {"error": ("错误", "error"), "warning": ("警告", "warning")}[self.severity]
        sev = label[1] if (lang or "").startswith("en") else label[0]
        return f"{self.file}: {self.key}: {sev}: {self.reason.get(lang)}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIn(_Model):
    name: str = Field(min_length=1)
    title: str = ""
    language: Literal["zh-CN", "en"] | None = None  # unset: the unit's language (settings)
    # Strict: a TOML true or 700001.0 is not an id; at most what the chat-link column holds.
    telegram_id: int | None = Field(default=None, gt=0, le=2**63 - 1, strict=True)


class DepartmentIn(_Model):
    name: str = Field(min_length=1)
    head: str = Field(min_length=1)
    supervising_leader: str = Field(min_length=1)
    members: list[str] = []


class DelegationIn(_Model):
    deputy: str
    principal: str
    start: date
    end: date
    steps: list[Step] = []
    reason: str = ""


class UnitIn(_Model):
    name: str = Field(min_length=1)
    issuer: str = Field(min_length=1)
    principal_leader: str | None = None
    publicity_department: str | None = None
    admins: list[str] = Field(min_length=1)
    operators: list[str] = []


class ChainIn(_Model):
    steps: list[Step] = list(ChainConfig().steps)
    reject_allowed_at: list[Step] = list(ChainConfig().reject_allowed_at)
    allow_same_person_in_two_steps: bool = False
    # One person or an ordered list; the first one not already in a post's chain takes the step.
    fallback: list[str] = []

    @field_validator("fallback", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class SourcesIn(_Model):
    domains: list[str] = []
    accounts: list[str] = []


class FooterIn(_Model):
    template: str = Footer().template
    source_template: str = Footer().source_template


class YearIn(_Model):
    # Days off as dates or [first, last] ranges; make-up working days (调休上班) as dates.
    holidays: list[date | tuple[date, date]] = []
    workdays: list[date] = []
    source: str = ""  # the State Council notice, e.g. 国办发明电〔2026〕7号


class OrgFileIn(_Model):
    unit: UnitIn
    people: dict[str, PersonIn] = Field(min_length=1)
    departments: dict[str, DepartmentIn] = Field(min_length=1)
    delegations: list[DelegationIn] = []
    chain: ChainIn = ChainIn()
    sources: SourcesIn = SourcesIn()
    footer: FooterIn = FooterIn()
    calendar: dict[str, YearIn] = {}


_PYDANTIC_REASONS = {
    "missing": ("缺少必填项", "required key is missing"),
    "extra_forbidden": ("未知的配置项（拼写错误？）", "unknown key (a typo?)"),
    "string_type": ("应为字符串", "must be a string"),
    "string_too_short": ("不能为空", "must not be empty"),
    "too_short": ("不能为空", "must not be empty"),
    "int_type": ("应为整数", "must be an integer"),
    "int_parsing": ("应为整数", "must be an integer"),
    "greater_than": ("应大于 {gt}", "must be greater than {gt}"),
    "greater_than_equal": ("应不小于 {ge}", "must be at least {ge}"),
    "less_than_equal": ("应不大于 {le}", "must be at most {le}"),
    "finite_number": ("应为有限的数", "must be a finite number"),
    "float_type": ("应为数字", "must be a number"),
    "float_parsing": ("应为数字", "must be a number"),
    "string_pattern_mismatch": ("格式不符：{pattern}", "does not match {pattern}"),
    "too_long": ("过长（最多 {max_length} 项）", "too long (at most {max_length} items)"),
    "bool_type": ("应为 true 或 false", "must be true or false"),
    "bool_parsing": ("应为 true 或 false", "must be true or false"),
    "date_type": ("应为日期（如 2026-12-01）", "must be a date (e.g. 2026-12-01)"),
    "date_parsing": ("应为日期（如 2026-12-01）", "must be a date (e.g. 2026-12-01)"),
    "date_from_datetime_parsing": ("应为日期（如 2026-12-01）", "must be a date (e.g. 2026-12-01)"),
    "list_type": ("应为列表", "must be a list"),
    "dict_type": ("应为表（table）", "must be a table"),
    "model_type": ("应为表（table）", "must be a table"),
}


def pydantic_problems(err: ValidationError, file: str) -> list[Problem]:
    """Turn a pydantic ValidationError into problems naming each key, in zh and en."""
    problems = []
    for e in err.errors():
        key = _loc(e["loc"])
        if e["type"] in ("enum", "literal_error"):
            expected = e.get("ctx", {}).get("expected", "")
            reason = Text(f"取值“{e.get('input')}”无效，可选：{expected}",
                          f"invalid value “{e.get('input')}”; expected {expected}")
        elif e["type"] in _PYDANTIC_REASONS:
            zh, en = _PYDANTIC_REASONS[e["type"]]
            ctx = {k: v for k, v in e.get("ctx", {}).items() if isinstance(v, int | float | str)}
            try:
                reason = Text(zh.format(**ctx), en.format(**ctx))
            except (KeyError, IndexError):
                reason = Text(zh, en)
        elif isinstance(cause := e.get("ctx", {}).get("error"), ValueError) and cause.args \
                and isinstance(cause.args[0], Text):
            reason = cause.args[0]  # our validators say it in both languages
        else:
            msg = e["msg"].removeprefix("Value error, ")
            reason = Text(msg, msg)
        problems.append(Problem(file, key, reason))
    return problems


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, or raise ConfigError naming the file, line and reason."""
    try:
        raw = path.read_bytes()
        # Windows Notepad starts a UTF-8 file with a byte-order mark; TOML does not allow one.
        return tomllib.loads(raw.decode("utf-8-sig"))
    except FileNotFoundError:
        raise _unreadable(path, "(file)", Text("文件不存在", "no such file")) from None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _unreadable(path, "(file)", Text(
            f"不是 UTF-8 编码的文本（第 {line} 行；可能是 GBK 等编码）：请在编辑器中另存为 UTF-8",
            f"not UTF-8 text (line {line}; GBK, perhaps): save it as UTF-8 in the editor")
        ) from None
    except OSError as exc:  # a directory, no permission, …
        raise _unreadable(path, "(file)", Text(f"无法读取：{exc.strerror}",
                                               f"cannot be read: {exc.strerror}")) from None
    except tomllib.TOMLDecodeError as exc:
        raise _unreadable(path, "(syntax)", Text(f"TOML 语法错误（{exc}）",
                                                 f"TOML syntax error: {exc}")) from None


def _unreadable(path: Path, key: str, reason: Text) -> ConfigError:
    return ConfigError(Text(f"{path}: {reason.zh}", f"{path}: {reason.en}"),
                       (Problem(str(path), key, reason),))


def check_org(data: dict[str, Any], file: str, today: date | None = None
              ) -> tuple[OrgChart | None, list[Problem]]:
    """Validate an org-chart document; returns the chart (None on errors) and every problem.

    `today` (default: the system's date) decides whether next year's holiday schedule is due.
    """
    try:
        doc = OrgFileIn.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(exc, file)
    problems = list(_cross_check(doc, file))
    if any(p.severity == "error" for p in problems):
        return None, problems
    chart = _build(doc)
    return chart, problems + _unsignable(chart, file) + _next_year(chart, file,
                                                                   today or date.today())


def _next_year(chart: OrgChart, f: str, today: date) -> list[Problem]:
    # The State Council publishes next year's schedule in the autumn: from 1 November on, a
    # year nobody entered is counted on estimates (statutory holidays, no make-up days).
    year = today.year + 1
    if today < date(today.year, 11, 1) or chart.calendar.knows(year):
        return []
    return [_err(f, f"calendar.{year}",
                 f"{year} 年的节假日安排尚未录入（chinesecalendar 不含该年）：截止日期暂按法定节假日"
                 f"估算并标注“预估”。国务院办公厅公布放假安排后，请在 [calendar.{year}] 中录入 "
                 "holidays（放假日期）和 workdays（调休上班日期）",
                 f"the holiday schedule for {year} is not entered and chinesecalendar does not "
                 "know it: due dates are estimated from the statutory holidays and marked so. "
                 f"Once the State Council publishes it, enter [calendar.{year}] holidays (days "
                 "off) and workdays (make-up working days)", "warning")]


def _unsignable(chart: OrgChart, f: str) -> list[Problem]:
    """One warning per department, drafter and step that leaves a post with nobody to take it,
    naming who lays it out and what to configure."""
    grouped: dict[tuple[str, str, Step, str], list[Gap]] = {}
    for gap in unfilled_steps(chart):
        grouped.setdefault((gap.department, gap.drafter, gap.step, gap.problem.en), []).append(gap)
    every_maker = set(chart.operators) | set(chart.admins)
    problems = []
    for (dept, drafter, step, _), gaps in grouped.items():
        makers = [chart.name_of(g.maker) for g in gaps]
        anyone = {g.maker for g in gaps} == every_maker
        by_zh = "" if anyone else f"、{'或'.join(makers)}排版"
        by_en = "" if anyone else f" and laid out by {' or '.join(makers)}"
        d = chart.departments[dept]
        problems.append(_err(
            f, f"departments.{dept}",
            f"{d.name}由{chart.name_of(drafter)}拟稿{by_zh}的稿件，"
            f"“{STEP_LABEL[step].zh}”环节无人可办，无法签发。{gaps[0].problem.zh}",
            f"a {d.name} post drafted by {chart.name_of(drafter)}{by_en} cannot be signed: "
            f"nobody may take the “{STEP_LABEL[step].en}” step. {gaps[0].problem.en}", "warning"))
    return problems


def load_org(path: Path | str) -> OrgChart:
    """Load the org chart from a TOML file, or raise ConfigError listing every error."""
    path = Path(path)
    chart, problems = check_org(read_toml(path), str(path))
    errors = [p for p in problems if p.severity == "error"]
    if chart is None or errors:
        raise ConfigError(
            Text("组织架构配置有误：\n" + "\n".join(p.render("zh") for p in errors),
                 "The org chart is invalid:\n" + "\n".join(p.render("en") for p in errors)),
            tuple(errors),
        )
    return chart


def _err(file: str, key: str, zh: str, en: str, severity: str = "error") -> Problem:
    return Problem(file, key, Text(zh, en), severity)  # type: ignore[arg-type]


def _cross_check(doc: OrgFileIn, f: str) -> Iterator[Problem]:
    people = doc.people
    for key in people:
        if not KEY_RE.match(key):
            yield _err(f, f"people.{key}", "人员标识只能由小写字母、数字和下划线组成，且以字母开头（最长32位）",
                       "person keys are lowercase letters, digits and _ and start with a letter "
                       "(at most 32)")

    def ref(key: str, who: str | None) -> Iterator[Problem]:
        if who is not None and who not in people:
            yield _err(f, key, f"“{who}”不在 [people] 中", f"“{who}” is not listed in [people]")

    yield from ref("unit.issuer", doc.unit.issuer)
    yield from ref("unit.principal_leader", doc.unit.principal_leader)
    for i, key in enumerate(doc.chain.fallback):
        yield from ref(f"chain.fallback[{i}]", key)
        if key in doc.chain.fallback[:i]:
            yield _err(f, f"chain.fallback[{i}]", f"“{key}”重复", f"“{key}” is listed twice")
    for i, key in enumerate(doc.unit.admins):
        yield from ref(f"unit.admins[{i}]", key)
    for i, key in enumerate(doc.unit.operators):
        yield from ref(f"unit.operators[{i}]", key)
    if doc.unit.publicity_department and doc.unit.publicity_department not in doc.departments:
        yield _err(f, "unit.publicity_department",
                   f"“{doc.unit.publicity_department}”不在 [departments] 中",
                   f"“{doc.unit.publicity_department}” is not listed in [departments]")
    for code, dept in doc.departments.items():
        yield from ref(f"departments.{code}.head", dept.head)
        yield from ref(f"departments.{code}.supervising_leader", dept.supervising_leader)
        for i, member in enumerate(dept.members):
            yield from ref(f"departments.{code}.members[{i}]", member)
        if dept.head == dept.supervising_leader:
            yield _err(f, f"departments.{code}", "科室负责人与分管领导不能是同一人",
                       "the head and the supervising leader must be different people")
    for i, g in enumerate(doc.delegations):
        yield from ref(f"delegations[{i}].deputy", g.deputy)
        yield from ref(f"delegations[{i}].principal", g.principal)
        if g.deputy == g.principal:
            yield _err(f, f"delegations[{i}]", "不能委托给本人", "a person cannot deputise for themselves")
        if g.end < g.start:
            yield _err(f, f"delegations[{i}].end", "结束日期早于开始日期",
                       "the end date is before the start date")
    yield from _delegation_cycles(doc, f)
    yield from _check_chain(doc, f)
    yield from _check_sources(doc, f)
    yield from _check_footer(doc, f)
    seen_tg: dict[int, str] = {}
    for key, person in people.items():
        if person.telegram_id is not None:
            if person.telegram_id in seen_tg:
                yield _err(f, f"people.{key}.telegram_id",
                           f"与 {seen_tg[person.telegram_id]} 的 telegram_id 重复",
                           f"same telegram_id as {seen_tg[person.telegram_id]}")
            seen_tg.setdefault(person.telegram_id, key)
    yield from _check_reachable(doc, f)
    yield from _check_calendar(doc, f)


def _check_calendar(doc: OrgFileIn, f: str) -> Iterator[Problem]:
    for key, year in doc.calendar.items():
        where = f"calendar.{key}"
        if not (key.isdigit() and len(key) == 4):
            yield _err(f, where, "表名应为四位年份，如 [calendar.2027]",
                       "the table name must be a four-digit year, e.g. [calendar.2027]")
            continue
        y = int(key)
        days = _days(year.holidays)
        for i, item in enumerate(year.holidays):
            first, last = item if isinstance(item, tuple) else (item, item)
            if last < first:
                yield _err(f, f"{where}.holidays[{i}]", "区间的结束日期早于开始日期",
                           "the range ends before it starts")
            if first.year != y or last.year != y:
                yield _err(f, f"{where}.holidays[{i}]", f"日期不在 {y} 年内",
                           f"the date is not in {y}")
        for i, day in enumerate(year.workdays):
            if day.year != y:
                yield _err(f, f"{where}.workdays[{i}]", f"日期不在 {y} 年内",
                           f"the date is not in {y}")
            elif day in days:
                yield _err(f, f"{where}.workdays[{i}]", f"{day} 同时列为放假日和调休上班日",
                           f"{day} is listed both as a day off and as a working day")
            elif day.weekday() < 5:
                yield _err(f, f"{where}.workdays[{i}]", f"{day} 不是周末，调休上班日通常是周六或周日，请核对",
                           f"{day} is not a weekend day; make-up working days are Saturdays "
                           "or Sundays: please check", "warning")
        if not year.holidays:
            yield _err(f, f"{where}.holidays", "没有列出放假日期", "no days off are listed")


def _days(items: list[date | tuple[date, date]]) -> frozenset[date]:
    days: set[date] = set()
    for item in items:
        first, last = item if isinstance(item, tuple) else (item, item)
        while first <= last:
            days.add(first)
            first += timedelta(days=1)
    return frozenset(days)


def _check_reachable(doc: OrgFileIn, f: str) -> Iterator[Problem]:
    # Chain notifications cannot be switched off (art. 27): everyone with a part in the chain
    # needs an address where they read them, or they are only ever written to the log.
    roles = {doc.unit.issuer, doc.unit.principal_leader, *doc.chain.fallback, *doc.unit.admins,
             *doc.unit.operators, *(g.deputy for g in doc.delegations)}
    for dept in doc.departments.values():
        roles.update({dept.head, dept.supervising_leader, *dept.members})
    for key, person in doc.people.items():
        if key in roles and not any(getattr(person, a, None) is not None
                                    for a in PERSONAL_ADDRESSES):
            yield _err(f, f"people.{key}", "没有可送达本人的通知渠道（telegram_id），"
                       "审批通知只会写入日志，本人收不到",
                       "has no address to reach them (telegram_id): chain notifications to them "
                       "only go to the log", "warning")


def _delegation_cycles(doc: OrgFileIn, f: str) -> Iterator[Problem]:
    # A cycle (A signs for B while B signs for A) means nobody is really answerable.
    edges = [(g.principal, g.deputy, g.start, g.end, i) for i, g in enumerate(doc.delegations)]
    reported: set[frozenset[int]] = set()

    def walk(start: str, node: str, path: list[tuple[str, str, date, date, int]]) -> Iterator[
            list[tuple[str, str, date, date, int]]]:
        for edge in edges:
            if edge[0] != node or edge in path:
                continue
            if edge[1] == start:
                yield [*path, edge]
            elif len(path) < len(edges):
                yield from walk(start, edge[1], [*path, edge])

    for principal in {e[0] for e in edges}:
        for cycle in walk(principal, principal, []):
            ids = frozenset(e[4] for e in cycle)
            overlap = max(e[2] for e in cycle) <= min(e[3] for e in cycle)
            if overlap and ids not in reported:
                reported.add(ids)
                names = " → ".join([cycle[0][0], *(e[1] for e in cycle)])
                yield _err(f, f"delegations[{min(ids)}]", f"代签委托形成循环：{names}",
                           f"delegations form a cycle: {names}")


def _check_chain(doc: OrgFileIn, f: str) -> Iterator[Problem]:
    steps = doc.chain.steps
    if len(set(steps)) != len(steps):
        yield _err(f, "chain.steps", "环节重复", "a step is listed twice")
    if [s for s in STEP_ORDER if s in steps] != steps:
        yield _err(f, "chain.steps", "环节顺序应为 拟稿人确认 → 科室负责人 → 分管领导 → 签发人",
                   "steps must keep the order drafter_confirm → dept_head → reviewer → issuer")
    for needed, zh in ((Step.REVIEWER, "审核人"), (Step.ISSUER, "签发人")):
        if needed not in steps:
            yield _err(f, "chain.steps", f"必须包含 {needed.value} 环节：发布信息需注明{zh}（第二十八条）",
                       f"must include {needed.value}: every post names its {needed.value} (art. 28)")
    for i, s in enumerate(doc.chain.reject_allowed_at):
        if s not in steps or s is Step.DRAFTER_CONFIRM:
            yield _err(f, f"chain.reject_allowed_at[{i}]", f"“{s.value}”不是可否决的审核环节",
                       f"“{s.value}” is not a review step of this chain")
    if doc.unit.publicity_department in doc.departments:
        fxk = doc.departments[doc.unit.publicity_department]  # type: ignore[index]
        if fxk.supervising_leader != doc.unit.issuer:
            yield _err(f, "unit.issuer", "签发人通常为法宣科分管领导（第二十八条），请确认",
                       "the issuer is usually the publicity section's supervising leader "
                       "(art. 28); please confirm", "warning")


def _check_sources(doc: OrgFileIn, f: str) -> Iterator[Problem]:
    domain_re = re.compile(r"^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$")
    for i, d in enumerate(doc.sources.domains):
        if "://" in d or "/" in d:
            yield _err(f, f"sources.domains[{i}]", f"“{d}”应写域名（如 *.gov.cn），不是网址",
                       f"“{d}” must be a domain pattern such as *.gov.cn, not a URL")
        elif not domain_re.match(d.lower()):
            yield _err(f, f"sources.domains[{i}]", f"“{d}”不是有效的域名或 *.域名",
                       f"“{d}” is not a valid domain or *.domain pattern")
    for i, a in enumerate(doc.sources.accounts):
        if not a.strip():
            yield _err(f, f"sources.accounts[{i}]", "公众号名称不能为空", "account name is empty")


def _check_footer(doc: OrgFileIn, f: str) -> Iterator[Problem]:
    for key, text, needed in (
        ("footer.template", doc.footer.template, {"drafter", "reviewer", "issuer"}),
        ("footer.source_template", doc.footer.source_template, {"source"}),
    ):
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as exc:
            yield _err(f, key, f"模板格式错误：{exc}", f"bad template: {exc}")
            continue
        unknown, missing = fields - needed, needed - fields
        if unknown:
            yield _err(f, key, f"未知占位符：{', '.join(sorted(unknown))}",
                       f"unknown placeholders: {', '.join(sorted(unknown))}")
        if missing:
            yield _err(f, key, f"缺少占位符：{', '.join('{' + m + '}' for m in sorted(missing))}"
                       "（第二十八条：须注明拟稿人、审核人及签发人，转载须注明来源）",
                       f"missing placeholders: {', '.join('{' + m + '}' for m in sorted(missing))} "
                       "(art. 28)")


def _build(doc: OrgFileIn) -> OrgChart:
    return OrgChart(
        unit_name=doc.unit.name,
        people={k: Person(k, p.name, p.title, p.language, p.telegram_id)
                for k, p in doc.people.items()},
        departments={
            code: Department(code, d.name, d.head, d.supervising_leader,
                             tuple(dict.fromkeys([d.head, *d.members])))
            for code, d in doc.departments.items()
        },
        issuer=doc.unit.issuer,
        principal_leader=doc.unit.principal_leader,
        publicity_department=doc.unit.publicity_department,
        admins=tuple(doc.unit.admins),
        operators=tuple(doc.unit.operators),
        delegations=tuple(Delegation(g.deputy, g.principal, g.start, g.end, tuple(g.steps),
                                     g.reason) for g in doc.delegations),
        chain=ChainConfig(tuple(doc.chain.steps), tuple(doc.chain.reject_allowed_at),
                          doc.chain.allow_same_person_in_two_steps,
                          tuple(doc.chain.fallback)),
        sources=SourceAllowlist(tuple(doc.sources.domains), tuple(doc.sources.accounts)),
        footer=Footer(doc.footer.template, doc.footer.source_template),
        calendar=WorkCalendar(MappingProxyType({
            int(key): YearSchedule(int(key), _days(y.holidays), frozenset(y.workdays), y.source)
            for key, y in doc.calendar.items()})),
    )
