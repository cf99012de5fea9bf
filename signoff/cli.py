"""The `signoff` command: drive the whole chain from a terminal."""

from __future__ import annotations

import functools
import json
import mimetypes
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError

from approvals import present
from approvals.bootstrap import Core
from approvals.config.orgfile import check_org, read_toml
from approvals.config.settings import Settings, load_settings, shown_url
from approvals.rules.errors import (
    ConfigError,
    GateBlocked,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotFound,
    SignoffError,
    Text,
    Unavailable,
    normalize_language,
)
from approvals.services import Service
from approvals.store import db
from approvals.views import RevisionInput, ScheduleInput, parse_day

EXIT_CODES: dict[type[SignoffError], int] = {
    InvalidInput: 2, ConfigError: 2, NotAllowed: 3, InvalidTransition: 4, GateBlocked: 5,
    NotFound: 6, Unavailable: 8,
}

F = TypeVar("F", bound=Callable[..., Any])


class Ctx:
    """Per-invocation state: the language and lazily built settings and core."""

    def __init__(self, lang: str | None, config: str | None) -> None:
        self.lang_override = normalize_language(lang) if lang else None
        self.config = config
        self._settings: Settings | None = None
        self._core: Core | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    def lang(self, person: str | None = None) -> str:
        """--lang, else the acting person's language, else the configured language."""
        if self.lang_override:
            return self.lang_override
        if person and self._core is not None:
            p = self._core.org.find_person(person)
            if p is not None and p.language:
                return normalize_language(p.language)
        try:
            return self.settings.language
        except ConfigError:  # the settings do not load: the variable may still say which
            return normalize_language(os.environ.get("SIGNOFF_LANGUAGE") or "zh-CN")

    def core(self) -> Core:
        """The core, built once per command, handing its outbox to the queue after each commit."""
        if self._core is None:
            from signoff.wiring import build_core

            self._core = build_core(self.settings)
        return self._core

    def service(self) -> Service:
        """The façade every command calls."""
        return self.core().service


class _PostNumber(click.ParamType):
    """A post's number, in ASCII digits: int() also reads "１" (full width) and "1_0" (as 10)."""

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 300:
            obj = ctx.find_object(Ctx) if ctx else None
            en = obj is not None and obj.lang() == "en"
            self.fail(f"“{text[:40]}” is not a post number (digits 0-9)" if en
                      else f"“{text[:40]}”不是稿件编号（应为数字 0-9）", param, ctx)
        return int(text)


POST_NUMBER = _PostNumber()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit non-zero."""
    # What a person typed may hold lone surrogates (undecodable arguments): show them as �.
    click.echo(message.encode("utf-8", "replace").decode("utf-8"), err=True)
    sys.exit(code)


def handled(fn: F) -> F:
    """Turn core errors into one clear line in the user's language and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx: Ctx = click.get_current_context().find_object(Ctx)  # type: ignore[assignment]
        person = kwargs.get("as_person")
        try:
            return fn(*args, **kwargs)
        except SignoffError as exc:
            lang = ctx.lang(person)
            prefix = "error: " if lang == "en" else "错误："
            code = next((c for k, c in EXIT_CODES.items() if isinstance(exc, k)), 1)
            fail(prefix + exc.message(lang), code)
        except DatabaseError as exc:
            lang = ctx.lang(person)
            msg = Text("数据库无法访问或未初始化（请检查 SIGNOFF_DATABASE_URL 并运行 "
                       "`signoff db upgrade`）：{e}",
                       "The database cannot be reached or is not set up (check "
                       "SIGNOFF_DATABASE_URL and run `signoff db upgrade`): {e}"
                       ).format(e=_db_said(exc, ctx))
            fail(("error: " if lang == "en" else "错误：") + msg.get(lang), 1)

    return wrapper  # type: ignore[return-value]


def _db_said(exc: DatabaseError, ctx: Ctx) -> str:
    # The driver's first line, never the database password (some drivers echo the DSN).
    said = (str(exc.orig) if exc.orig else str(exc)).splitlines()[0]
    try:
        password = make_url(ctx.settings.database_url).password
    except (ConfigError, ArgumentError, ValueError):
        password = None
    if password and len(str(password)) >= 3:
        said = said.replace(str(password), "***")
    return shown_url(said)


# click's own usage errors, said again in Chinese (the detail it gives is kept when unknown).
_CLICK_SAYS = (
    (re.compile(r"'(.*)' is not a valid integer\.?"), "“{0}”不是整数"),
    (re.compile(r"'(.*)' is not a valid float\.?"), "“{0}”不是数字"),
    (re.compile(r"'(.*)' is not one of (.*?)\.?"), "“{0}”不是可选值（{1}）之一"),
    (re.compile(r"'(.*)' is not (.*?)\.?"), "“{0}”不是 {1}"),
    (re.compile(r"(?:File|Path) '(.*)' does not exist\.?"), "文件“{0}”不存在"),
    (re.compile(r"(?:File|Path) '(.*)' is a directory\.?"), "“{0}”是目录，不是文件"),
    (re.compile(r"(?:File|Path) '(.*)' is not readable\.?"), "文件“{0}”无法读取"),
    (re.compile(r"(.*) is not in the range (.*?)\.?"), "{0} 不在 {1} 范围内"),
    (re.compile(r"No such command '(.*)'\.?"), "没有命令“{0}”"),
    (re.compile(r"Got unexpected extra arguments? \((.*)\)"), "多余的参数：{0}"),
    (re.compile(r"Option '(.*)' requires an argument\.?"), "选项 {0} 需要一个值"),
    (re.compile(r"Option '(.*)' does not take a value\.?"), "选项 {0} 不带值"),
)


def _usage_lang(args: list[str]) -> str:
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return normalize_language(args[i + 1])
        if arg.startswith("--lang="):
            return normalize_language(arg.split("=", 1)[1])
    return normalize_language(os.environ.get("SIGNOFF_LANGUAGE"))


class OneLineUsage(click.UsageError):
    """A click usage error said on one line, in the person's language, with where to look."""

    def __init__(self, inner: click.UsageError) -> None:
        super().__init__(inner.format_message(), inner.ctx)
        self.inner = inner

    def show(self, file: Any = None) -> None:
        e, said = self.inner, self.inner.format_message()
        root = e.ctx.find_root() if e.ctx else None
        chosen = root.params.get("lang") if root else None
        lang = normalize_language(chosen) if chosen else _usage_lang(sys.argv[1:])
        path = " ".join(["signoff", *(e.ctx.command_path.split()[1:] if e.ctx else [])])
        if lang == "en":
            fail(f"error: {said} (see `{path} --help`)", 2)
        if isinstance(e, click.NoSuchOption):
            close = f"，您是不是要找：{'、'.join(e.possibilities)}" if e.possibilities else ""
            said = f"没有选项 {e.option_name}{close}"
        elif isinstance(e, click.MissingParameter) and e.param is not None:
            name = e.param.opts[-1] if isinstance(e.param, click.Option) else \
                e.param.human_readable_name
            said = f"缺少 {name}"
        else:
            said = e.message
            for pattern, zh in _CLICK_SAYS:
                found = pattern.fullmatch(said.strip())
                if found:
                    said = zh.format(*found.groups())
                    break
            if isinstance(e, click.BadParameter) and e.param is not None:
                name = e.param.opts[-1] if isinstance(e.param, click.Option) else \
                    e.param.human_readable_name
                said = f"{name} 的值无效：{said}"
        fail(f"错误：{said}（用法见 `{path} --help`）", 2)


class Signoff(click.Group):
    """The command group whose usage errors are one line in the person's language."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise OneLineUsage(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OneLineUsage:
            raise
        except click.UsageError as exc:
            raise OneLineUsage(exc) from None


@click.group(cls=Signoff)
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default=None,
              help="Language of the output (default: the person's, else settings).")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              envvar="SIGNOFF_CONFIG", help="Settings TOML file (SIGNOFF_CONFIG).")
@click.pass_context
def main(ctx: click.Context, lang: str | None, config: str | None) -> None:
    """signoff: approval chain and publishing for a WeChat official account."""
    ctx.obj = Ctx(lang, config)


# --- config -------------------------------------------------------------------------------------


@main.group()
def config() -> None:
    """Check configuration files."""


@config.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.pass_obj
def config_check(obj: Ctx, files: tuple[str, ...]) -> None:
    """Validate org-chart and settings files (default: the active settings and org file)."""
    lang = obj.lang()
    problems = []
    org_files: set[str] = set()
    if not files:
        try:
            files = (str(obj.settings.org_file),)
            org_files.update(files)  # the active org file is one, however empty
        except ConfigError as exc:
            problems.extend(exc.problems)
    for name in files:
        try:
            data = read_toml(Path(name))
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        # A settings file holds nothing but settings; anything else is read as an org chart
        # (and told what it lacks: an empty org file, or a misspelt [unit], is no settings file).
        if name in org_files or not data or not set(data) <= set(Settings.model_fields):
            problems.extend(check_org(data, name)[1])
        else:
            try:
                load_settings(name, environment=False)  # the file as written, not as overridden
            except ConfigError as exc:
                problems.extend(exc.problems)
    for p in problems:
        click.echo(p.render(lang), err=p.severity == "error")
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors:
        fail(f"{errors} error(s), {warnings} warning(s)" if lang == "en"
             else f"{errors} 个错误，{warnings} 个警告", 2)
    click.echo(f"ok: {', '.join(files)} ({warnings} warning(s))" if lang == "en"
               else f"通过：{', '.join(files)}（{warnings} 个警告）")


# --- db -----------------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.pass_obj
@handled
def db_upgrade(obj: Ctx) -> None:
    """Create or migrate the schema to the latest revision."""
    engine = db.create_db_engine(obj.settings.database_url)
    db.upgrade(engine)
    click.echo(f"schema at {db.current_revision(engine)}")


# --- posts --------------------------------------------------------------------------------------


@main.group()
def post() -> None:
    """Hand in, show and list posts."""


# Material is text: a file larger than this is not a post (an article itself is under 1 MB).
TEXT_READ_LIMIT = 4 * 1024 * 1024
COVER_READ_LIMIT = 10 * 1024 * 1024 + 1  # one byte more than WeChat takes, so it is named


def _read_bytes(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of the file (never all of /dev/zero)."""
    try:
        with path.open("rb") as fh:
            return fh.read(limit)
    except OSError as exc:
        raise InvalidInput(Text(f"{path} 无法读取：{exc.strerror}",
                                f"{path} cannot be read: {exc.strerror}")) from None


def _read_text(path: Path) -> str:
    """A text file as UTF-8 (a BOM is dropped), or one line saying what it is instead."""
    data = _read_bytes(path, TEXT_READ_LIMIT + 1)
    if len(data) > TEXT_READ_LIMIT:
        raise InvalidInput(Text(f"{path} 超过 4 MB，不是一篇稿件的文字：请只提交正文。",
                                f"{path} is over 4 MB, more than a post's text: hand in the "
                                "text only."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = Text("", "")
        try:
            data.decode("gb18030")
            hint = Text("（看起来是 GBK/GB18030 编码）", " (it looks like GBK/GB18030)")
        except UnicodeDecodeError:
            pass
        raise InvalidInput(Text(
            f"{path} 不是 UTF-8 编码的文本{hint.zh}，第 {exc.start + 1} 字节无法读取：请另存为 "
            "UTF-8 后重试。",
            f"{path} is not UTF-8 text{hint.en}; byte {exc.start + 1} cannot be read: save it "
            "as UTF-8 and try again.")) from None


# The fields a .json hand-in may carry; each is a string (or null for "not given").
POST_FILE_FIELDS = ("title", "body", "format", "category", "classification", "formed_on",
                    "department", "repost_source")

def _json_type(value: object) -> Text:
    if isinstance(value, bool):
        return Text("布尔值", "a boolean")
    if isinstance(value, int | float):
        return Text("数字", "a number")
    if isinstance(value, list):
        return Text("列表", "a list")
    return Text("对象", "an object")


def _read_post_file(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(Text(f"{path}: JSON 格式错误（第 {exc.lineno} 行）：{exc.msg}",
                                    f"{path}: invalid JSON (line {exc.lineno}): {exc.msg}")
                               ) from None
        if not isinstance(data, dict):
            raise InvalidInput(Text(f"{path}: 应为 JSON 对象", f"{path}: expected a JSON object"))
        unknown = set(data) - set(POST_FILE_FIELDS)
        if unknown:
            raise InvalidInput(Text(f"{path}: 未知字段 {', '.join(sorted(unknown))}；可用字段："
                                    f"{', '.join(POST_FILE_FIELDS)}。",
                                    f"{path}: unknown fields {', '.join(sorted(unknown))}; "
                                    f"known: {', '.join(POST_FILE_FIELDS)}."))
        for key in POST_FILE_FIELDS:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                kind = _json_type(value)
                example = "\"2024-01-01\"" if key == "formed_on" else "\"…\""
                raise InvalidInput(Text(f"{path}: 字段 {key} 应为文本（如 {example}），而不是"
                                        f"{kind.zh} {json.dumps(value, ensure_ascii=False)[:40]}。",
                                        f"{path}: {key} must be a string (like {example}), not "
                                        f"{kind.en} {json.dumps(value, ensure_ascii=False)[:40]}."))
        return data
    # Markdown: the first "# " heading is the title, the rest is the body.
    lines = text.splitlines()
    title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), None)
    body = "\n".join(ln for ln in lines if not ln.startswith("# ") or ln[2:].strip() != title)
    return {"title": title or path.stem, "body": body.strip(), "format": "markdown"}


@post.command("new")
@click.option("--as", "as_person", required=True, help="The drafter (key or name).")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A .json or .md file with the material.")
@click.option("--title", help="The title (without --file: required).")
@click.option("--body", help="The body text.")
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the body from this UTF-8 file instead of --body.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html"]), default=None,
              help="How the body is written (default: text; markdown for a .md --file).")
@click.option("--category", default=None, help="notice|publicity|policy|repost|other (art. 26)")
@click.option("--classification", default=None,
              help="proactive|on_request|not_disclosed (art. 13)")
@click.option("--formed-on", default=None, help="Date the information was formed (YYYY-MM-DD).")
@click.option("--department", default=None,
              help="Department code, when the drafter belongs to more than one.")
@click.option("--source", "repost_source", default=None, help="Repost source: URL or account.")
@click.option("--cover", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Cover image: JPG, PNG, GIF or BMP, at most 10 MB.")
@click.pass_obj
@handled
def post_new(obj: Ctx, as_person: str, file: Path | None, title: str | None, body: str | None,
             body_file: Path | None, fmt: str | None, category: str | None,
             classification: str | None, formed_on: str | None, department: str | None,
             repost_source: str | None, cover: Path | None) -> None:
    """Hand in material as a drafter."""
    svc = obj.service()
    if body is not None and body_file is not None:
        raise InvalidInput(Text("--body 与 --body-file 只能给出一个。",
                                "Give --body or --body-file, not both."))
    data = _read_post_file(file) if file else {}
    if body_file is not None:
        body = _read_text(body_file)
    cover_t = None
    if cover is not None:
        cover_t = (cover.name, _read_bytes(cover, COVER_READ_LIMIT),
                   mimetypes.guess_type(cover.name)[0] or "application/octet-stream")

    def given(flag: str | None, key: str, default: str | None = None) -> str | None:
        # A flag given on the command line wins over the file, even when it is empty.
        value = flag if flag is not None else data.get(key)
        return default if value is None else value

    pid = svc.create_post(
        drafter=as_person,
        title=given(title, "title", "") or "",
        body=given(body, "body", "") or "",
        body_format=given(fmt, "format", "text") or "",
        category=given(category, "category", "publicity") or "",
        classification=given(classification, "classification", "proactive") or "",
        formed_on=parse_day(given(formed_on, "formed_on")),
        department=given(department, "department"),
        repost_source=given(repost_source, "repost_source"),
        cover=cover_t,
    )
    lang = obj.lang(as_person)
    click.echo(f"post #{pid} handed in" if lang == "en" else f"稿件 #{pid} 已提交")


@post.command("show")
@click.argument("post_id", type=POST_NUMBER)
@click.option("--as", "as_person", default=None, help="Also list what this person may do.")
@click.pass_obj
@handled
def post_show(obj: Ctx, post_id: int, as_person: str | None) -> None:
    """Show a post: status, open step, gates now, and its timeline."""
    svc = obj.service()
    view = svc.view(post_id)
    person = svc.person(as_person) if as_person else None
    allowed = svc.allowed_actions(post_id, person) if person else None
    click.echo(present.post_view(view, svc.org, svc.zone, obj.lang(as_person), allowed, person))


@post.command("list")
@click.option("--status", default=None, help="Only posts in this status.")
@click.option("--all", "include_archived", is_flag=True, help="Include archived posts.")
@click.pass_obj
@handled
def post_list(obj: Ctx, status: str | None, include_archived: bool) -> None:
    """List posts with status and due date."""
    svc = obj.service()
    lang = obj.lang()
    posts = svc.list_posts(status, include_archived)
    if not posts:
        click.echo("no posts" if lang == "en" else "没有稿件")
    for p in posts:
        click.echo(present.post_line(p, svc.org, lang))


# --- act ----------------------------------------------------------------------------------------


@main.command("act")
@click.argument("post_id", type=POST_NUMBER)
@click.argument("action")
@click.option("--as", "as_person", required=True, help="Who acts (key or name).")
@click.option("--comment", default="", help="Comment; required to request changes or reject.")
@click.option("--revision", "revision_hash", default=None,
              help="The revision hash (or its first 8+ characters) you reviewed.")
@click.option("--basis", default=None, help="clear_pii: consent | public_interest (art. 16).")
@click.option("--title", default=None, help="new_revision: the laid-out title.")
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="new_revision: the laid-out body.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html"]), default="html",
              help="new_revision: the body file's format (default html).")
@click.option("--author", default=None, help="new_revision: the article's author line.")
@click.option("--digest", default="", help="new_revision: the article's digest (摘要).")
@click.option("--source", "repost_source", default=None,
              help="new_revision: the repost's source (URL or official account).")
@click.option("--at", "at", default=None,
              help="schedule: local time to publish (YYYY-MM-DDTHH:MM); omit for once signed.")
@click.option("--mode", type=click.Choice(["publish", "mass_send"]), default=None,
              help="schedule: publish (发布) or mass_send (群发 to all followers).")
@click.option("--url", default=None,
              help="confirm_published: the article's link on the account.")
@click.pass_obj
@handled
def act(obj: Ctx, post_id: int, action: str, as_person: str, comment: str,
        revision_hash: str | None, basis: str | None, title: str | None, body_file: Path | None,
        fmt: str, author: str | None, digest: str, repost_source: str | None, at: str | None,
        mode: str | None, url: str | None) -> None:
    """Take ACTION on a post: confirm, approve, sign, request_changes, reject, withdraw,
    new_revision, resubmit, clear_pii, retry, schedule, confirm_published, confirm_absent,
    cancel."""
    svc = obj.service()
    _refuse_foreign_options(action, {
        "--basis": basis, "--title": title, "--body-file": body_file, "--author": author,
        "--digest": digest or None, "--source": repost_source, "--at": at, "--mode": mode,
        "--url": url, "--format": None if fmt == "html" else fmt})
    revision = schedule = None
    if action == "new_revision":
        revision = RevisionInput(
            title=title, body=_read_text(body_file) if body_file else None,
            body_format=fmt, author=author, digest=digest, repost_source=repost_source)
    if action == "schedule":
        schedule = ScheduleInput.parse(at, mode, svc.zone)
    out = svc.act(post_id, action, as_person, comment=comment, revision_hash=revision_hash,
                  revision=revision, basis=basis, schedule=schedule, url=url)
    lang = obj.lang(as_person)
    done = present.outcome_text(out, svc.org, svc.zone, lang)
    click.echo(f"post #{post_id}: {done}" if lang == "en" else f"稿件 #{post_id}：{done}")
    for line in present.findings_lines([f for f in out.findings if not f.blocking], lang):
        click.echo(line)


# Which action each of act's own options belongs to.
ACT_OPTIONS: dict[str, tuple[str, ...]] = {
    "--basis": ("clear_pii",), "--title": ("new_revision",), "--body-file": ("new_revision",),
    "--author": ("new_revision",), "--digest": ("new_revision",), "--source": ("new_revision",),
    "--format": ("new_revision",), "--at": ("schedule",), "--mode": ("schedule",),
    "--url": ("confirm_published",),
}


def _refuse_foreign_options(action: str, values: dict[str, object]) -> None:
    for option, value in values.items():
        if value is not None and action not in ACT_OPTIONS[option]:
            owners = "、".join(ACT_OPTIONS[option])
            raise InvalidInput(Text(f"{option} 只用于 {owners}，不能用于“{action}”。",
                                    f"{option} belongs to {owners}, not to “{action}”."))



# --- people and the console ----------------------------------------------------------------------


@main.group()
def people() -> None:
    """Console logins of the people in the org chart."""


@people.command("set-password")
@click.argument("person")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (for scripts) instead of a prompt.")
@click.pass_obj
@handled
def people_set_password(obj: Ctx, person: str, password_stdin: bool) -> None:
    """Set PERSON's console password (key or name); stored as a salted scrypt hash."""
    svc = obj.service()
    key = svc.person(person)
    lang = obj.lang()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")  # a Windows line ending too
    else:
        password = click.prompt("新密码" if lang != "en" else "New password", hide_input=True,
                                confirmation_prompt=True)
    svc.set_password(key, password, by="admin-cli")
    click.echo(f"password set for {svc.org.name_of(key)} ({key})" if lang == "en"
               else f"已为{svc.org.name_of(key)}（{key}）设置密码")


@people.command("invite")
@click.argument("person")
@click.option("--base-url", default="http://127.0.0.1:8000/", show_default=True,
              help="Where people reach the console.")
@click.pass_obj
@handled
def people_invite(obj: Ctx, person: str, base_url: str) -> None:
    """Print a one-time link with which PERSON sets their own console password (three days)."""
    from approvals.web.invite import invite_token
    from signoff.web import console_key

    svc = obj.service()
    key = svc.person(person)
    token = invite_token(console_key(obj.settings), key, svc.account_fingerprint(key))
    click.echo(f"{base_url.rstrip('/')}/invite/{token}")


@people.command("bind-code")
@click.argument("person")
@click.option("--bot-username", default="", help="The bot's @username, to print a t.me deep link.")
@click.pass_obj
@handled
def people_bind_code(obj: Ctx, person: str, bot_username: str) -> None:
    """Print a one-time code that links PERSON's Telegram account to them (three days): they send
    /start CODE to the bot, or open the deep link."""
    svc = obj.service()
    key = svc.person(person)
    code, expires = svc.chat.issue_code(key, by="admin-cli")
    until = expires.astimezone(svc.zone).strftime("%Y-%m-%d %H:%M")
    if obj.lang() == "en":
        click.echo(f"binding code for {svc.org.name_of(key)} ({key}), valid until {until}:")
    else:
        click.echo(f"{svc.org.name_of(key)}（{key}）的绑定码，有效期至 {until}：")
    click.echo(f"/start {code}")
    if bot_username:
        click.echo(f"https://t.me/{bot_username.lstrip('@')}?start={code}")


@people.group("token")
def people_token() -> None:
    """Bearer tokens for the JSON API (/api/v1), one or more per person."""


@people_token.command("issue")
@click.argument("person")
@click.option("--name", required=True, help="What the token is for (e.g. the department system).")
@click.pass_obj
@handled
def people_token_issue(obj: Ctx, person: str, name: str) -> None:
    """Issue an API token for PERSON (key or name). It is printed once; only its hash is kept."""
    svc = obj.service()
    info, token = svc.issue_token(person, name, by="admin-cli")
    who = f"{svc.org.name_of(info.person)} ({info.person})"
    click.echo(f"token {info.id} for {who}, shown only now:" if obj.lang() == "en"
               else f"已为{who}签发令牌 {info.id}（只显示这一次）：", err=True)
    click.echo(token)


@people_token.command("list")
@click.argument("person", required=False)
@click.pass_obj
@handled
def people_token_list(obj: Ctx, person: str | None) -> None:
    """The API tokens (of PERSON): id, owner, name, issued, last used, revoked."""
    svc = obj.service()
    en = obj.lang() == "en"
    rows = svc.tokens(person)
    if not rows:
        click.echo("no tokens" if en else "没有令牌")

    def when(at: datetime | None) -> str:
        return at.astimezone(svc.zone).strftime("%Y-%m-%d %H:%M") if at else "—"

    for t in rows:
        state = (("revoked " if en else "已吊销 ") + when(t.revoked_at)) if t.revoked_at else (
            "live" if en else "有效")
        click.echo(f"{t.id}\t{t.person}\t{t.prefix}…\t{t.name}\t{when(t.created_at)}\t"
                   f"{when(t.last_used_at)}\t{state}")


@people_token.command("revoke")
@click.argument("token_id", type=click.IntRange(1, 2**31 - 1))
@click.pass_obj
@handled
def people_token_revoke(obj: Ctx, token_id: int) -> None:
    """Revoke API token TOKEN_ID for good."""
    info = obj.service().revoke_token(token_id, by="admin-cli")
    click.echo(f"token {info.id} revoked" if obj.lang() == "en" else f"令牌 {info.id} 已吊销")


@main.command("serve")
@click.option("--host", default="127.0.0.1", help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, help="gunicorn worker processes.")
@click.option("--threads", type=click.IntRange(1, 64), default=None,
              help="Threads per worker process (more than one: gunicorn's gthread worker).")
@click.pass_obj
@handled
def serve(obj: Ctx, host: str, port: int, workers: int, threads: int | None) -> None:
    """Run the web console under gunicorn (health check at /healthz)."""
    from signoff.web import serve as run

    run(obj.settings, host=host, port=port, workers=workers, threads=threads)


# --- audit --------------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
@click.option("--anchor", default=None, metavar="SEQ:HASH",
              help="A head printed earlier by `signoff audit anchor`: it must still be in the "
                   "chain as it was (catches the newest rows deleted together with the head).")
@click.pass_obj
@handled
def audit_verify(obj: Ctx, anchor: str | None) -> None:
    """Check every row of the audit log (edited, inserted or deleted rows) and every decision,
    clearance, publish intent, revision and post status against it, both ways."""
    report = obj.service().verify_audit(anchor)
    lang = obj.lang()
    if report.ok:
        click.echo(f"ok: {report.rows} rows, head {report.head_hash}; every post's records match"
                   if lang == "en" else
                   f"ok：共 {report.rows} 条记录，链头 {report.head_hash}；各稿件记录与日志一致")
        return
    for _seq, text in report.problems:
        click.echo(text.get(lang), err=True)
    for post_id, text in report.rows_problems:
        click.echo((f"post #{post_id}: " if lang == "en" else f"稿件 #{post_id}：") + text.get(lang),
                   err=True)
    count = len(report.problems) + len(report.rows_problems)
    fail(f"audit check failed: {count} problem(s)" if lang == "en"
         else f"审计核查未通过：发现 {count} 处问题", 7)


@audit.command("anchor")
@click.pass_obj
@handled
def audit_anchor(obj: Ctx) -> None:
    """Print the chain's newest row as SEQ:HASH, to keep somewhere else (a notebook, another
    system) and give back to `audit verify --anchor` later."""
    head = obj.service().audit_head()
    click.echo(str(head))
    if head.at is not None:
        lang = obj.lang()
        when = head.at.astimezone(obj.service().zone).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"row {head.seq} written {when}; keep this line outside this database"
                   if lang == "en" else f"第 {head.seq} 条记录，写于 {when}；请将上一行保存在本数据库之外",
                   err=True)


# --- scheduling and the worker -----------------------------------------------------------------


@post.command("schedule")
@click.argument("post_id", type=POST_NUMBER)
@click.option("--as", "as_person", required=True, help="An admin or the operator.")
@click.option("--at", "at", default=None,
              help="Local time to publish (YYYY-MM-DDTHH:MM); omit to publish once signed.")
@click.option("--mode", type=click.Choice(["publish", "mass_send"]), default=None,
              help="publish (发布) or mass_send (群发 to all followers).")
@click.pass_obj
@handled
def post_schedule(obj: Ctx, post_id: int, as_person: str, at: str | None, mode: str | None) -> None:
    """Set, change or clear when (and how) a post is published (the `schedule` action)."""
    svc = obj.service()
    out = svc.act(post_id, "schedule", as_person, schedule=ScheduleInput.parse(at, mode, svc.zone))
    lang = obj.lang(as_person)
    done = present.outcome_text(out, svc.org, svc.zone, lang)
    click.echo(f"post #{post_id}: {done}" if lang == "en" else f"稿件 #{post_id}：{done}")


# --- notifications ------------------------------------------------------------------------------


@main.command("notifications")
@click.option("--person", default=None, help="Only what this person (key or name) was told.")
@click.option("--post", "post_id", type=POST_NUMBER, default=None,
              help="Only notifications about this post.")
@click.pass_obj
@handled
def notifications_cmd(obj: Ctx, person: str | None, post_id: int | None) -> None:
    """The notification outbox: who was told what, through which channel, delivered or not."""
    svc = obj.service()
    lang = obj.lang(person)
    if post_id is not None:
        svc.view(post_id)  # no such post: said so (exit 6), not "no notifications"
    rows = svc.notifications_for(person=person, post_id=post_id)
    if not rows:
        click.echo("no notifications" if lang == "en" else "没有通知")
    for n in rows:
        click.echo(present.notification_line(n, svc.org, svc.zone, lang))


# --- the worker ---------------------------------------------------------------------------------


@main.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option("--reconcile/--no-reconcile", default=True,
              help="Also run the reconciler beside the worker (default: on).")
@click.option("--name", default=None, help="Worker name (default: host and pid).")
@click.pass_obj
@handled
def worker_cmd(obj: Ctx, burst: bool, reconcile: bool, name: str | None) -> None:
    """Run a publishing worker (an RQ worker with a scheduler) and, by default, the reconciler."""
    from signoff.runner import run_worker

    if obj.config:
        # Jobs build their settings in forked work horses, and the reconciler in a child process:
        # both read SIGNOFF_CONFIG, so --config must reach them through the environment.
        os.environ["SIGNOFF_CONFIG"] = str(Path(obj.config).resolve())

    sys.exit(run_worker(obj.settings, burst=burst, reconcile=reconcile, name=name))


@main.command("bot")
@click.option("--webhook", is_flag=True,
              help="Serve a webhook (SIGNOFF_TELEGRAM_WEBHOOK_URL) instead of long polling.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Webhook: address to listen on.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(1, 65535),
              help="Webhook: port to listen on.")
@click.pass_obj
@handled
def bot_cmd(obj: Ctx, webhook: bool, host: str, port: int) -> None:
    """Run the Telegram chat bot (token: SIGNOFF_TELEGRAM_TOKEN or SIGNOFF_TELEGRAM_TOKEN_FILE;
    Bot API server: SIGNOFF_TELEGRAM_API_BASE)."""
    from signoff.runner import run_bot

    sys.exit(run_bot(obj.settings, webhook=webhook, host=host, port=port))


@main.command("remind")
@click.pass_obj
@handled
def remind_cmd(obj: Ctx) -> None:
    """One reminder pass now (the reconciler beside the worker runs it on every pass): remind
    approvers, escalate to the admins, flag posts near their due date."""
    from signoff.runner import reminder_policy

    done = obj.service().send_reminders(reminder_policy(obj.settings))
    if obj.lang() == "en":
        click.echo(f"reminders {done['reminded']}, escalations {done['escalated']}, "
                   f"due-date flags {done['due_soon']} (notifications written)")
    else:
        click.echo(f"催办 {done['reminded']} 条，上报 {done['escalated']} 条，临近期限提醒 "
                   f"{done['due_soon']} 条（已写入通知）")


@main.group()
def assets() -> None:
    """Stored uploads (covers, in-article images, a .docx's pictures)."""


@assets.command("prune")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.pass_obj
@handled
def assets_prune(obj: Ctx, dry_run: bool) -> None:
    """Delete the uploads nothing refers to (no revision, no post's hand-in) whose last upload
    is older than SIGNOFF_ASSET_GRACE_DAYS days: images and .docx pictures of layouts that were
    never saved. The reconciler does it once a day."""
    from signoff.runner import asset_grace

    svc = obj.service()
    done = svc.prune_assets(asset_grace(obj.settings), by="admin-cli", dry_run=dry_run)
    en = obj.lang() == "en"
    for a in done.assets:
        stored = a.stored_at.astimezone(svc.zone).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{a.sha256[:12]}\t{a.filename}\t{a.size}\t{stored}")
    n, size, days = len(done.assets), done.size, obj.settings.asset_grace_days
    if dry_run:
        click.echo(f"{n} unsaved upload(s), {size} bytes, would be deleted (older than {days} days)"
                   if en else f"将删除 {n} 个未保存的上传文件，共 {size} 字节（超过 {days} 天）")
    else:
        click.echo(f"deleted {n} unsaved upload(s), {size} bytes (older than {days} days)"
                   if en else f"已删除 {n} 个未保存的上传文件，共 {size} 字节（超过 {days} 天）")


@main.command("reconcile")
@click.option("--every", "every", type=click.FloatRange(min=0, min_open=True, max=86400),
              default=None,
              help="Repeat every N seconds (default: one pass).")
@click.option("--parent", type=int, default=None, hidden=True,
              help="Stop when this process (the worker that started us) is gone.")
@click.pass_obj
@handled
def reconcile_cmd(obj: Ctx, every: float | None, parent: int | None) -> None:
    """Put due outbox items on the queue; re-enqueue what Redis lost or a dead worker held."""
    from signoff.runner import reconcile_loop

    reconcile_loop(obj.settings, every, parent=parent)


@main.group()
def sim() -> None:
    """Bundled simulators of the outside world."""


@sim.command("wechat")
@click.option("--host", default="127.0.0.1", help="Address to listen on (loopback by default).")
@click.option("--port", type=int, default=8765, help="Port to listen on.")
@click.option("--callback-url", default=None, help="Where to POST PUBLISHJOBFINISH events.")
@click.option("--publish-delay", type=float, default=2.0, help="Seconds a publish stays in progress.")
def sim_wechat(host: str, port: int, callback_url: str | None, publish_delay: float) -> None:
    """Run the WeChat Official Account API simulator (point SIGNOFF_WECHAT_API_BASE at it)."""
    from signoff.sims.wechat import SimConfig, serve

    click.echo(f"WeChat simulator on http://{host}:{port}/cgi-bin/  (control: /_sim/state)")
    serve(host, port, SimConfig(callback_url=callback_url, publish_delay_seconds=publish_delay))


@sim.command("telegram")
@click.option("--host", default="127.0.0.1", help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(0, 65535), default=8081, help="Port to listen on (0: a free one).")
@click.option("--token", "tokens", multiple=True, metavar="DIGITS:SECRET",
              help="A bot token to serve (repeatable; default: the simulator's own test token).")
def sim_telegram(host: str, port: int, tokens: tuple[str, ...]) -> None:
    """Run the Telegram Bot API simulator (aiogram: TelegramAPIServer.from_base("http://HOST:PORT"))."""
    from signoff.sims.telegram import TelegramSimConfig, serve

    config = TelegramSimConfig(tokens=tokens) if tokens else TelegramSimConfig()
    try:
        config.validate()
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--token") from None
    serve(host, port, config)


# --- demo ---------------------------------------------------------------------------------------


@main.command()
@click.option("--keep-running", is_flag=True,
              help="Then serve the web console over the demo's posts (demo logins) until Ctrl-C.")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="The console's port with --keep-running (default: a free one).")
@click.pass_obj
def demo(obj: Ctx, keep_running: bool, port: int) -> None:
    """Run a scripted chain end to end on a temporary SQLite database and print the timeline."""
    from signoff.demo import run_demo

    if port and not keep_running:
        fail("error: --port goes with --keep-running" if obj.lang_override == "en"
             else "错误：--port 需与 --keep-running 一起使用", 2)
    sys.exit(run_demo(obj.lang_override or "zh-CN", keep_running=keep_running, port=port))


# --- reports (the annual report, art. 30) ---------------------------------------------------------


@main.group()
def report() -> None:
    """Reports: the annual figures (art. 30) and the disclosure catalogue (art. 9)."""


@report.command("annual")
@click.option("--year", default=None, metavar="YYYY",
              help="The year to report (default: last year; art. 30 reports the previous year).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Folder to write into (default: ./report-YYYY).")
@click.pass_obj
@handled
def report_annual(obj: Ctx, year: str | None, out: Path | None) -> None:
    """Write report.md, a CSV file per table, catalogue.csv and PNG charts for one year."""
    from signoff.report import write_annual

    svc = obj.service()
    lang = obj.lang()
    written = write_annual(svc, year if year is not None else svc.today().year - 1, out, lang)
    csvs = sum(f.endswith(".csv") for f in written.files)
    pngs = sum(f.endswith(".png") for f in written.files)
    click.echo(f"wrote {written.folder}/: report.md, {csvs} CSV files, {pngs} charts"
               if lang == "en" else
               f"已写入 {written.folder}/：report.md、{csvs} 个 CSV 文件、{pngs} 张图表")
