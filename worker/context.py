"""Everything a job needs, built once per process from settings (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from approvals.config.orgfile import load_org
from approvals.config.settings import Settings, load_settings
from approvals.services.actions import Service
from approvals.services.publishing import Publishing
from approvals.store import db
from worker.client import SignoffWeChatClient
from worker.publisher import Publisher


@dataclass
class WorkerContext:
    """Settings, storage, queue and the WeChat client of one worker process."""

    settings: Settings
    service: Service
    publishing: Publishing
    redis: Redis
    queue: Queue
    client: SignoffWeChatClient

    def publisher(self) -> Publisher:
        """A publisher with this process's client and the configured lease and polling."""
        return Publisher(self.publishing, self.client,
                         lease_seconds=self.settings.publish_lease_seconds,
                         poll_seconds=self.settings.publish_poll_seconds)


def build_context(settings: Settings, service: Service | None = None) -> WorkerContext:
    """Wire the worker's dependencies from settings (and an existing service, if given)."""
    if service is None:
        engine = db.create_db_engine(settings.database_url)
        service = Service(db.session_factory(engine), load_org(settings.org_file),
                          zone=settings.zone)
    redis = Redis.from_url(settings.redis_url)
    secret = settings.wechat_secret.get_secret_value() if settings.wechat_secret else ""
    client = SignoffWeChatClient(settings.wechat_appid, secret, api_base=settings.wechat_api_base,
                                 redis=redis, timeout=settings.wechat_timeout_seconds)
    return WorkerContext(settings, service, Publishing(service), redis,
                         make_queue(redis, settings.queue_name), client)


def make_queue(redis: Redis, name: str) -> Queue:
    """The publishing queue; jobs carry only ids, as JSON."""
    return Queue(name, connection=redis, serializer=JSONSerializer)


_installed: WorkerContext | None = None


def install(ctx: WorkerContext | None) -> None:
    """Use `ctx` for jobs run in this process (an embedded worker: the demo, the benchmark)."""
    global _installed
    _installed = ctx


def context() -> WorkerContext:
    """This process's context: the installed one, else one built from settings on first use."""
    return _installed or _from_settings()


@cache
def _from_settings() -> WorkerContext:
    return build_context(load_settings())
