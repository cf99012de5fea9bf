"""Settings from the environment (SIGNOFF_*) and an optional TOML file, as typed values."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from approvals.config.orgfile import Problem, pydantic_problems, read_toml
from approvals.rules.errors import ConfigError, Text
from approvals.rules.notices import CHANNELS

ENV_PREFIX = "SIGNOFF_"
CONFIG_ENV = "SIGNOFF_CONFIG"
# Never read from the settings file: environment or a *_FILE only.
SECRETS = ("secret_key", "wechat_secret", "previous_secret_keys",
           "wechat_callback_token", "wechat_encoding_aes_key",  # these two: WeChat's callback
           "telegram_token", "telegram_webhook_secret")


# user:password@ in any URL-like text, however malformed the rest is
# To the last @: a password may hold one, or a slash. Over-masking is the safe side.
_USERINFO = re.compile(r"(//[^/@\s:]*:)\S*@")
_QUERY_SECRET = re.compile(r"((?:password|passwd|pwd|sslpassword)=)[^&\s]*", re.IGNORECASE)


def shown_url(value: str) -> str:
    """A URL fit for a message or a log: any password (in the user part or the query)
    replaced by ***."""
    return _QUERY_SECRET.sub(r"\1***", _USERINFO.sub(r"\1***@", value))


class Settings(BaseSettings):
    """Where signoff keeps its data and how it talks to the world."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    database_url: str = "sqlite:///signoff.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    org_file: Path = Path("config/org.toml")
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    # The console's cookies go over HTTPS only (browsers treat http://127.0.0.1 as secure too);
    # false only for a plain-HTTP client such as a load generator.
    console_secure_cookies: bool = True
    # keys rotated out: preview links they signed still open until they expire (JSON list)
    previous_secret_keys: list[SecretStr] = []
    language: Literal["zh-CN", "en"] = "zh-CN"
    timezone: str = "Asia/Shanghai"
    # The official account (a compatible simulator may stand in: only the base URL changes).
    wechat_api_base: str = "https://api.weixin.qq.com/cgi-bin/"
    wechat_appid: str = ""
    wechat_secret: SecretStr | None = None
    wechat_secret_file: Path | None = None
    wechat_timeout_seconds: float = Field(15.0, gt=0, le=600, allow_inf_nan=False)
    # Publishing worker
    queue_name: str = Field("signoff", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # a claim a dead worker held is taken over after this
    publish_lease_seconds: float = Field(120.0, gt=0, le=86400, allow_inf_nan=False)
    # how long one job polls freepublish/get before retrying
    publish_poll_seconds: float = Field(60.0, gt=0, le=3600, allow_inf_nan=False)
    publish_retries: int = Field(5, ge=0, le=100)  # 0: one attempt, then a person retries
    # backoff between transient failures
    publish_retry_seconds: list[Annotated[int, Field(ge=1, le=86400)]] = Field(
        [2, 5, 15, 30, 60], min_length=1)
    reconcile_every_seconds: float = Field(30.0, gt=0, le=86400, allow_inf_nan=False)
    # Chain notifications (they cannot be switched off; these choose how they travel).
    notify_channels: list[str] = ["log"]
    notify_log_file: Path | None = None  # the log channel appends JSON lines here (else: the log)
    # Reminders (run by the reconciler beside the worker, or `signoff remind`): an approver is
    # reminded each time a step waits this many more working hours (0: never), at most
    # remind_times times, then the admins are told; the admins get a daily flag for each open
    # post within due_soon_working_days of its art. 14 due date.
    remind_every_working_hours: float = Field(8.0, ge=0, le=400, allow_inf_nan=False)
    remind_times: int = Field(2, ge=0, le=20)
    due_soon_working_days: int = Field(3, ge=0, le=20)
    # Uploads nobody saved (an image or a .docx put into a layout that was never saved): the
    # reconciler deletes them once a day when nothing refers to them and this many days have
    # passed since their last upload (`signoff assets prune` does it now). At least a day: an
    # operator's unsaved layout keeps its images through their working day.
    asset_grace_days: int = Field(7, ge=1, le=3650)
    # WeChat's callback (/wechat/callback): the token set in the account's server settings, and
    # for safe mode (安全模式) its EncodingAESKey; secrets, from the environment or a *_FILE.
    # Without a token the endpoint answers 404.
    wechat_callback_token: SecretStr | None = None
    wechat_callback_token_file: Path | None = None
    wechat_encoding_aes_key: SecretStr | None = None
    wechat_encoding_aes_key_file: Path | None = None
    # a push signed further than this from now is refused (a replay, or a wrong clock)
    wechat_callback_window_seconds: int = Field(300, ge=30, le=3600)

    # Where people open the console: the links the chat bot sends (signed previews) start here.
    console_url: str = "http://127.0.0.1:8000/"
    # The chat bot (`signoff bot`): the token BotFather gave (a secret: environment or *_FILE),
    # the Bot API server (Telegram's, a self-hosted one, or the bundled simulator), and for
    # `signoff bot --webhook` the public URL Telegram posts updates to and the secret it sends.
    telegram_token: SecretStr | None = None
    telegram_token_file: Path | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_secret_file: Path | None = None

    @field_validator("console_url", "telegram_api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(Text(f"不是 http(s) 地址：{shown_url(value)!r}",
                                  f"not an http(s) URL: {shown_url(value)!r}"))
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(Text(f"不是数据库地址：{shown_url(value)!r}；应为 sqlite:///路径 或 "
                                  "postgresql+psycopg://用户@主机/库",
                                  f"not a database URL: {shown_url(value)!r}; use sqlite:///path "
                                  "or postgresql+psycopg://user@host/db")) from None
        if "@" in (url.host or ""):
            raise ValueError(Text(f"{shown_url(value)!r}：密码中的 @ 须写作 %40",
                                  f"{shown_url(value)!r}: the password holds an @; write it as "
                                  "%40"))
        # Read off the scheme itself: asking SQLAlchemy for the driver of a scheme it has no
        # dialect for (postgres://, http://) raises instead of answering.
        backend, _, driver = url.drivername.lower().partition("+")
        if backend == "sqlite" and driver in ("", "pysqlite") and not (url.host or url.username):
            return value
        if url.drivername == "postgresql+psycopg":
            return value
        if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
            return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        raise ValueError(Text(f"不支持 {shown_url(value)!r}：应为 sqlite:///路径 或 "
                              "postgresql+psycopg://用户@主机/库",
                              f"{shown_url(value)!r} is not supported: use sqlite:///path or "
                              "postgresql+psycopg://user@host/db"))

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        bad = Text(f"不是 Redis 地址（redis://主机:端口/库）：{shown_url(value)!r}",
                   f"not a Redis URL (redis://host:port/db): {shown_url(value)!r}")
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(bad)
        if value.startswith("unix://"):
            return value
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 -- read for its check: a port that is no number, or past 65535
        except ValueError:
            raise ValueError(Text(f"Redis 地址的端口无效：{shown_url(value)!r}",
                                  f"the Redis URL's port is not valid: {shown_url(value)!r}")
                             ) from None
        db = parts.path.strip("/")
        if not parts.hostname or (db and not (db.isascii() and db.isdigit())):
            # Without a host, or with a database that is no number, redis-py quietly takes
            # localhost and database 0: perhaps another deployment's.
            raise ValueError(bad)
        return value

    @field_validator("notify_channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(CHANNELS)}")
        if not value:
            raise ValueError("chain notifications cannot be switched off: name at least one channel")
        return list(dict.fromkeys(value))

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(Text(f"未知时区：{value!r}（如 Asia/Shanghai）",
                                  f"unknown time zone: {value!r} (like Asia/Shanghai)")) from None
        return value

    @field_validator("wechat_api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(Text(f"不是 http(s) 地址：{shown_url(value)!r}",
                                  f"not an http(s) URL: {shown_url(value)!r}"))
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _secrets_from_files(self) -> Settings:
        # Secrets may come from files (SIGNOFF_*_FILE), as container platforms mount them.
        for name in ("secret_key", "wechat_secret", "wechat_callback_token",
                     "wechat_encoding_aes_key", "telegram_token", "telegram_webhook_secret"):
            path = getattr(self, f"{name}_file")
            if getattr(self, name) is None and path is not None:
                variable = f"{ENV_PREFIX}{name.upper()}_FILE"
                try:
                    setattr(self, name, SecretStr(path.read_text(encoding="utf-8").strip()))
                except OSError as exc:
                    raise ValueError(Text(f"{variable} 指向的文件 {path} 无法读取：{exc.strerror}",
                                          f"{variable}: the file {path} cannot be read: "
                                          f"{exc.strerror}")) from None
                except UnicodeDecodeError:  # never shown: it is the secret
                    raise ValueError(Text(f"{variable} 指向的文件 {path} 不是 UTF-8 文本",
                                          f"{variable}: the file {path} is not UTF-8 text")
                                     ) from None
        return self

    @model_validator(mode="after")
    def _callback_secrets(self) -> Settings:
        # WeChat's own rules for the two values; the message never repeats a secret.
        token, key = self.wechat_callback_token, self.wechat_encoding_aes_key
        if token is not None and not re.fullmatch(r"[A-Za-z0-9]{3,32}",
                                                  token.get_secret_value()):
            raise ValueError(Text("wechat_callback_token：应为 3–32 个英文字母或数字（与公众号后台"
                                  "“服务器配置”中的令牌一致）",
                                  "wechat_callback_token: must be 3–32 letters or digits (the "
                                  "Token of the account's server settings)"))
        if key is not None and not re.fullmatch(r"[A-Za-z0-9]{43}", key.get_secret_value()):
            raise ValueError(Text("wechat_encoding_aes_key：应为 43 个英文字母或数字（公众号后台的"
                                  "EncodingAESKey）",
                                  "wechat_encoding_aes_key: must be 43 letters or digits (the "
                                  "account's EncodingAESKey)"))
        if key is not None and not self.wechat_appid:
            raise ValueError(Text("安全模式（wechat_encoding_aes_key）需要 wechat_appid：解密时核对",
                                  "safe mode (wechat_encoding_aes_key) needs wechat_appid: "
                                  "decryption checks it"))
        if key is not None and token is None:
            raise ValueError(Text("设置了 wechat_encoding_aes_key 却没有 wechat_callback_token",
                                  "wechat_encoding_aes_key is set but wechat_callback_token is "
                                  "not"))
        return self

    @model_validator(mode="after")
    def _telegram(self) -> Settings:
        token = self.telegram_token.get_secret_value() if self.telegram_token else None
        if token is not None and not re.fullmatch(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,100}", token):
            raise ValueError(Text("telegram_token：应为 BotFather 给出的形如 123456:ABC-def 的令牌",
                                  "telegram_token: must look like BotFather's 123456:ABC-def"))
        secret = self.telegram_webhook_secret
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}",
                                                   secret.get_secret_value()):
            raise ValueError(Text("telegram_webhook_secret：1–256 个英文字母、数字、_ 或 -",
                                  "telegram_webhook_secret: 1–256 letters, digits, _ or -"))
        hook = self.telegram_webhook_url
        loopback = hook.startswith(("http://127.0.0.1:", "http://localhost:", "http://[::1]:"))
        if hook and not hook.startswith("https://") and not loopback:
            raise ValueError(Text("telegram_webhook_url：Telegram 只向 https 地址推送（本机测试除外）",
                                  "telegram_webhook_url: Telegram posts to https addresses only "
                                  "(but for a test on this machine)"))
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The unit's time zone: due dates and delegation ranges are counted in it."""
        return ZoneInfo(self.timezone)


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = dict(data)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def load_settings(config_file: Path | str | None = None, *, environment: bool = True,
                  **overrides: Any) -> Settings:
    """Settings from overrides > environment > TOML file > defaults; ConfigError names every bad key.
    Without `environment`, the file alone (what `signoff config check FILE` judges)."""
    env = os.environ
    path = Path(config_file) if config_file else (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV)
                                                  else None)
    data: dict[str, Any] = read_toml(path) if path else {}
    if path and isinstance(data.get("org_file"), str) and not Path(data["org_file"]).is_absolute():
        data["org_file"] = str(path.parent / data["org_file"])

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            if not environment:
                return init_settings, _TomlSource(settings_cls, data)
            return init_settings, env_settings, _TomlSource(settings_cls, data)

    leaked = [k for k in SECRETS if k in data]
    if path and leaked:
        problems = [Problem(str(path), k, Text(
            f"密钥不能写在配置文件中：请用环境变量 {ENV_PREFIX}{k.upper()} 或 "
            f"{ENV_PREFIX}{k.upper()}_FILE（指向只有服务账号能读的文件）",
            f"a secret does not belong in the settings file: use {ENV_PREFIX}{k.upper()} or "
            f"{ENV_PREFIX}{k.upper()}_FILE (a file only the service account can read)"))
            for k in leaked]
        raise _invalid(problems)
    try:
        return _Loaded(**overrides)
    except SettingsError as exc:
        # An environment variable of a list setting that is not JSON (SIGNOFF_NOTIFY_CHANNELS=log).
        field = next((f for f in Settings.model_fields if f"field \"{f}\"" in str(exc)), "")
        name = f"{ENV_PREFIX}{field.upper()}" if field else "SIGNOFF_*"
        problem = Problem(f"environment {name}", field or "(value)", Text(
            "应为 JSON 列表，如 [\"log\"] 或 [2, 5, 15]", "must be a JSON list, like [\"log\"] or "
            "[2, 5, 15]"))
        raise _invalid([problem]) from None
    except ValidationError as exc:
        env_keys = {k[len(ENV_PREFIX):].lower() for k in env
                    if k.startswith(ENV_PREFIX)} if environment else set()
        problems = []
        for p in pydantic_problems(exc, str(path) if path else "(defaults)"):
            top = p.key.split(".")[0]
            if top in env_keys:
                p = Problem(f"environment {ENV_PREFIX}{top.upper()}", p.key, p.reason)
            problems.append(p)
        raise _invalid(problems) from None


def _invalid(problems: list[Problem]) -> ConfigError:
    """One error naming every problem, in both languages."""
    return ConfigError(Text("配置有误：\n" + "\n".join(p.render("zh") for p in problems),
                            "Invalid settings:\n" + "\n".join(p.render("en") for p in problems)),
                       tuple(problems))
