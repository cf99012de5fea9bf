"""The org-chart file and settings: the example passes, every broken copy names file, key and reason."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from approvals.config.orgfile import Problem, check_org, load_org
from approvals.config.settings import load_settings
from approvals.rules.errors import ConfigError
from approvals.rules.states import Step
from tests.conftest import EXAMPLE_ORG

MIDYEAR = date(2026, 6, 1)  # before next year's holiday schedule is due


def example() -> dict[str, Any]:
    with EXAMPLE_ORG.open("rb") as fh:
        return tomllib.load(fh)


def problems_of(data: dict[str, Any]) -> list[Problem]:
    return check_org(data, "org.toml", today=MIDYEAR)[1]


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    return {p.key: p.reason.en for p in problems_of(data) if p.severity == "error"}


def test_the_example_org_chart_passes_without_errors() -> None:
    chart, problems = check_org(example(), str(EXAMPLE_ORG), today=MIDYEAR)
    assert chart is not None
    assert [p for p in problems if p.severity == "error"] == []
    assert chart.issuer == "wang_min" and len(chart.departments) >= 4
    assert chart.departments["jyk"].supervising_leader == "chen_gang"


def test_the_example_has_a_person_with_two_roles_and_a_dated_deputy() -> None:
    chart = load_org(EXAMPLE_ORG)
    assert "liu_yang" in chart.admins and chart.departments["fxk"].head == "liu_yang"
    (deputy,) = chart.delegations
    assert deputy.start < deputy.end and deputy.steps == (Step.REVIEWER,)


def test_an_unknown_person_in_a_department_is_named_with_its_key() -> None:
    data = example()
    data["departments"]["jyk"]["members"].append("nobody")
    assert errors_of(data) == {"departments.jyk.members[2]": "“nobody” is not listed in [people]"}


def test_a_department_without_a_leader_is_an_error_naming_the_key() -> None:
    data = example()
    del data["departments"]["jck"]["supervising_leader"]
    assert errors_of(data) == {"departments.jck.supervising_leader": "required key is missing"}


def test_a_delegation_cycle_is_an_error() -> None:
    data = example()
    data["delegations"].append({"deputy": "chen_gang", "principal": "sun_li",
                                "start": data["delegations"][0]["start"],
                                "end": data["delegations"][0]["end"]})
    errors = errors_of(data)
    assert list(errors) == ["delegations[0]"]
    assert "cycle" in errors["delegations[0]"]


def test_delegations_that_never_overlap_are_no_cycle() -> None:
    data = example()
    data["delegations"].append({"deputy": "chen_gang", "principal": "sun_li",
                                "start": "2027-03-01", "end": "2027-03-05"})
    data["delegations"][1]["start"] = tomllib.loads("d = 2027-03-01")["d"]
    data["delegations"][1]["end"] = tomllib.loads("d = 2027-03-05")["d"]
    assert errors_of(data) == {}


def test_a_url_where_a_domain_belongs_is_an_error() -> None:
    data = example()
    data["sources"]["domains"].append("https://www.mem.gov.cn/")
    assert "not a URL" in errors_of(data)["sources.domains[4]"]


def test_a_typo_in_a_key_is_reported_as_unknown() -> None:
    data = example()
    data["chain"]["allow_same_person_in_two_step"] = True
    assert errors_of(data) == {"chain.allow_same_person_in_two_step": "unknown key (a typo?)"}


@pytest.mark.parametrize("value", [True, 700001.0, 2**63, "700001", -5])
def test_a_telegram_id_that_is_no_whole_positive_number_is_an_error(value: Any) -> None:
    data = example()
    key = next(k for k, p in data["people"].items() if "telegram_id" in p)
    data["people"][key]["telegram_id"] = value
    assert f"people.{key}.telegram_id" in errors_of(data)


def test_a_chain_without_reviewer_or_issuer_breaks_art_28() -> None:
    data = example()
    data["chain"]["steps"] = ["drafter_confirm", "dept_head"]
    data["chain"]["reject_allowed_at"] = ["dept_head"]
    reasons = [p.reason for p in problems_of(data) if p.key == "chain.steps"]
    assert len(reasons) == 2
    assert all("第二十八条" in r.zh and "art. 28" in r.en for r in reasons)


def test_an_unknown_step_name_lists_the_valid_ones() -> None:
    data = example()
    data["chain"]["steps"] = ["drafter_confirm", "boss", "reviewer", "issuer"]
    (problem,) = problems_of(data)
    assert problem.key == "chain.steps[1]"
    assert "dept_head" in problem.reason.en


def test_a_footer_without_the_issuer_placeholder_breaks_art_28() -> None:
    data = example()
    data["footer"]["template"] = "拟稿：{drafter} 审核：{reviewer} 签发：{signer}"
    errors = errors_of(data)
    assert "unknown placeholders: signer" in errors["footer.template"] or \
        "missing placeholders" in errors["footer.template"]
    assert {p.reason.zh for p in problems_of(data)} >= {"未知占位符：signer"}


def test_a_reviewer_who_is_also_the_issuer_without_a_fallback_is_warned() -> None:
    data = example()
    del data["chain"]["fallback"]
    del data["unit"]["principal_leader"]
    warnings = [p for p in problems_of(data) if p.severity == "warning"]
    assert {"departments.fxk", "departments.bgs"} <= {p.key for p in warnings}
    # Any head drafting their own department's post leaves the head step with nobody, too.
    jyk = [p.reason.zh for p in warnings if p.key == "departments.jyk"]
    assert jyk and all("张伟拟稿的稿件" in r and "“科室负责人审核”环节" in r for r in jyk), jyk
    bgs = [p.reason.zh for p in warnings if p.key == "departments.bgs"]
    assert any("郭强拟稿" in r and "“签发”环节无人可办" in r and "未配置备选人员" in r for r in bgs)
    assert errors_of(data) == {}


def test_the_example_reports_no_unsignable_combination_and_one_fallback_fewer_does() -> None:
    assert [p for p in problems_of(example()) if p.key.startswith("departments.")] == []
    data = example()
    data["chain"]["fallback"] = "zhou_jian"  # one name, as a string
    found = {(p.key, p.reason.en.split(" cannot")[0]) for p in problems_of(data)
             if p.severity == "warning"}
    # A 法宣科 or 办公室 head's own post, whoever lays it out; a 法宣科 post its head lays out.
    assert ("departments.fxk", "a 法宣科 post drafted by 刘洋") in found
    assert ("departments.bgs", "a 办公室 post drafted by 马林") in found
    assert ("departments.fxk", "a 法宣科 post drafted by 赵雪 and laid out by 刘洋") in found
    assert all(key in ("departments.fxk", "departments.bgs") for key, _ in found)
    assert errors_of(data) == {}


def test_each_fallback_must_be_a_person_and_listed_once() -> None:
    data = example()
    data["chain"]["fallback"] = ["zhou_jian", "zhou_jain", "zhou_jian"]
    errors = errors_of(data)
    assert "is not listed in [people]" in errors["chain.fallback[1]"]
    assert "listed twice" in errors["chain.fallback[2]"]
    data["chain"]["fallback"] = 7
    assert errors_of(data)["chain.fallback"] == "must be a list"


def test_a_person_in_the_chain_with_no_address_to_reach_them_is_warned_not_skipped() -> None:
    data = example()
    assert [p for p in problems_of(data) if p.severity == "warning"] == []
    del data["people"]["chen_gang"]["telegram_id"]  # a supervising leader
    data["people"]["visitor"] = {"name": "来访者"}  # no part in the chain: nobody tells them
    warnings = [p for p in problems_of(data) if p.severity == "warning"]
    assert [p.key for p in warnings] == ["people.chen_gang"]
    assert "telegram_id" in warnings[0].reason.en and "只会写入日志" in warnings[0].reason.zh
    assert errors_of(data) == {}


def test_notification_channels_are_checked_and_cannot_be_switched_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_NOTIFY_CHANNELS", '["log", "log"]')
    assert load_settings().notify_channels == ["log"]
    for bad, reason in (('["pager"]', "unknown channel"), ("[]", "cannot be switched off")):
        monkeypatch.setenv("SIGNOFF_NOTIFY_CHANNELS", bad)
        with pytest.raises(ConfigError) as info:
            load_settings()
        assert "SIGNOFF_NOTIFY_CHANNELS" in info.value.message("en")
        assert reason in info.value.message("en")


def test_check_reports_every_error_at_once() -> None:
    data = example()
    data["unit"]["issuer"] = "ghost"
    data["people"]["li_na"]["telegram_id"] = 700002
    data["delegations"][0]["end"] = tomllib.loads("d = 2026-01-01")["d"]
    assert set(errors_of(data)) == {"unit.issuer", "people.li_na.telegram_id",
                                    "delegations[0].end"}


def test_load_org_raises_one_config_error_listing_file_key_and_reason(tmp_path: Path) -> None:
    data = example()
    data["departments"]["jyk"]["head"] = "nobody"
    path = tmp_path / "broken.toml"
    path.write_bytes(tomli_w.dumps(data).encode())
    with pytest.raises(ConfigError) as info:
        load_org(path)
    assert f"{path}: departments.jyk.head: error: “nobody” is not listed in [people]" in \
        info.value.message("en")
    assert "错误" in info.value.message("zh-CN")


def test_an_org_file_saved_by_notepad_is_read_and_one_in_gbk_names_its_line(tmp_path: Path
                                                                            ) -> None:
    text = EXAMPLE_ORG.read_text(encoding="utf-8")
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # the byte-order mark Notepad writes
    assert load_org(bom).unit_name == load_org(EXAMPLE_ORG).unit_name
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes(text.encode("gbk"))
    with pytest.raises(ConfigError) as info:
        load_org(gbk)
    first = next(n for n, line in enumerate(text.splitlines(), 1) if not line.isascii())
    assert f"第 {first} 行" in info.value.message("zh-CN") and "GBK" in info.value.message("en")


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text("[unit]\nname = \"x\"\nissuer = \n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_org(path)
    assert str(path) in info.value.message("en") and "line 3" in info.value.message("en")


def test_settings_come_from_a_toml_file_and_the_environment_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "signoff.toml"
    path.write_text('database_url = "sqlite:///a.db"\norg_file = "org.toml"\nlanguage = "en"\n',
                    encoding="utf-8")
    monkeypatch.setenv("SIGNOFF_LANGUAGE", "zh-CN")
    settings = load_settings(path)
    assert settings.database_url == "sqlite:///a.db"
    assert settings.org_file == tmp_path / "org.toml"  # relative to the settings file
    assert settings.language == "zh-CN"


def test_a_bad_database_url_in_a_settings_file_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "signoff.toml"
    path.write_text('database_url = "mysql://root@localhost/x"\nredis_url = "localhost:6379"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    keys = {(p.file, p.key) for p in info.value.problems}
    assert keys == {(str(path), "database_url"), (str(path), "redis_url")}


def test_a_bad_url_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(ConfigError) as info:
        load_settings()
    (problem,) = info.value.problems
    assert problem.file == "environment SIGNOFF_REDIS_URL"


@pytest.mark.parametrize("name,value", [
    ("SIGNOFF_DATABASE_URL", "postgres+asyncpg://u:Hunter2pw@h/db"),  # no dialect SQLAlchemy has
    ("SIGNOFF_DATABASE_URL", "http://u:Hunter2pw@h/db"),
    ("SIGNOFF_DATABASE_URL", "mysql://u@h/db?password=Hunter2pw"),
    ("SIGNOFF_DATABASE_URL", "mysql://u:Hunt/er2pw@h/db"),  # a slash in the password
    ("SIGNOFF_REDIS_URL", "redis://u:Hunter2pw@127.0.0.1:notaport/8"),
    ("SIGNOFF_REDIS_URL", "redis://u:Hunter2pw@127.0.0.1:99999/8"),
    ("SIGNOFF_REDIS_URL", "redis:///8"), ("SIGNOFF_REDIS_URL", "redis://127.0.0.1:6379/abc"),
])
def test_a_bad_url_is_refused_in_one_line_that_shows_no_password(
        monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    (problem,) = info.value.problems
    assert problem.file == f"environment {name}"
    said = info.value.message("en") + info.value.message("zh-CN")
    assert "Hunter2pw" not in said and "er2pw" not in said


@pytest.mark.parametrize("given,kept", [
    ("postgres://u@127.0.0.1/db", "postgresql+psycopg://u@127.0.0.1/db"),
    ("Postgresql://u@127.0.0.1/db", "postgresql+psycopg://u@127.0.0.1/db"),
    ("sqlite:///a.db", "sqlite:///a.db"),
])
def test_the_usual_spellings_of_a_database_url_are_taken(
        monkeypatch: pytest.MonkeyPatch, given: str, kept: str) -> None:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", given)
    assert load_settings().database_url == kept


def test_the_secret_key_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("SIGNOFF_SECRET_KEY_FILE", str(secret))
    key = load_settings().secret_key
    assert key is not None and key.get_secret_value() == "s3cret"


# --- the working-day calendar (art. 14) ----------------------------------------------------------


def test_from_november_a_next_year_nobody_entered_is_warned_about() -> None:
    data = example()
    assert [p for p in check_org(data, "org.toml", today=date(2026, 10, 31))[1]
            if p.key.startswith("calendar")] == []
    (warn,) = [p for p in check_org(data, "org.toml", today=date(2026, 11, 1))[1]
               if p.key.startswith("calendar")]
    assert warn.key == "calendar.2027" and warn.severity == "warning"
    assert "[calendar.2027]" in warn.reason.zh and "预估" in warn.reason.zh
    # chinesecalendar knows 2026: no warning for it in November 2025.
    assert [p for p in check_org(data, "org.toml", today=date(2025, 11, 20))[1]
            if p.key.startswith("calendar")] == []
    data["calendar"] = {"2027": {"holidays": [date(2027, 1, 1)], "source": "测试"}}
    assert [p for p in check_org(data, "org.toml", today=date(2026, 11, 1))[1]
            if p.key.startswith("calendar")] == []


def test_an_entered_schedule_is_checked_and_becomes_the_charts_calendar() -> None:
    data = example()
    data["calendar"] = {"2027": {
        "holidays": [date(2027, 1, 1), [date(2027, 2, 6), date(2027, 2, 12)]],
        "workdays": [date(2027, 2, 14)], "source": "国办发明电"}}
    chart, problems = check_org(data, "org.toml", today=MIDYEAR)
    assert chart is not None and [p for p in problems if p.key.startswith("calendar")] == []
    schedule = chart.calendar.schedules[2027]
    assert date(2027, 2, 9) in schedule.holidays and len(schedule.holidays) == 8
    assert chart.calendar.is_working_day(date(2027, 2, 14)) == (True, True)  # a Sunday
    data["calendar"] = {"27": {"holidays": []}, "2028": {
        "holidays": [[date(2028, 2, 3), date(2028, 2, 1)], date(2029, 1, 1), date(2028, 1, 29)],
        "workdays": [date(2028, 1, 29), date(2028, 1, 31)]}}
    errors = errors_of(data)
    assert errors["calendar.27"].startswith("the table name must be a four-digit year")
    assert errors["calendar.2028.holidays[0]"] == "the range ends before it starts"
    assert errors["calendar.2028.holidays[1]"] == "the date is not in 2028"
    assert errors["calendar.2028.workdays[0]"].startswith("2028-01-29 is listed both")
    warned = {p.key for p in problems_of(data) if p.severity == "warning"}
    assert "calendar.2028.workdays[1]" in warned  # a Monday: make-up days are weekends
    data["calendar"] = {"2029": {"holidays": "元旦"}}
    assert errors_of(data)["calendar.2029.holidays"] == "must be a list"
