"""Everything a job needs, built once per process from settings (never at import time)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from approvals.bootstrap import Core, bootstrap
from approvals.config.settings import Settings, load_settings
from approvals.rules.org import OrgChart
from approvals.services import Channel
from approvals.services.base import Enqueue
from approvals.services.warmup import warm_up
from approvals.views import Handoff
from worker.channels import LogChannel
from worker.client import SignoffWeChatClient
from worker.covers import default_cover_sha256
from worker.dispatch import Dispatcher
from worker.publisher import Publisher

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("signoff.worker")


@dataclass
class WorkerContext:
    """The core, the queue, the WeChat client and the notification channels of one process."""

    core: Core
    redis: Redis
    queue: Queue  # publishing and previews
    notify_queue: Queue  # notification deliveries, listened to after `queue`
    client: SignoffWeChatClient
    channels: dict[str, Channel]

    @property
    def queues(self) -> list[Queue]:
        """The queues a worker listens to, most urgent first."""
        return [self.queue, self.notify_queue]

    @property
    def settings(self) -> Settings:
        """The settings the core was built from."""
        return self.core.settings

    def publisher(self) -> Publisher:
        """A publisher with this process's client and the configured lease and polling."""
        return Publisher(self.core.publishing, self.client,
                         lease_seconds=self.settings.publish_lease_seconds,
                         poll_seconds=self.settings.publish_poll_seconds)

    def dispatcher(self) -> Dispatcher:
        """The reconciler (and hand-off) over this process's core and queue."""
        return Dispatcher(self.core, self.queue, self.notify_queue)


def make_queue(redis: Redis, name: str) -> Queue:
    """A signoff queue; jobs carry only ids, as JSON."""
    return Queue(name, connection=redis, serializer=JSONSerializer)


def queue_names(settings: Settings) -> list[str]:
    """The publishing queue, then the notification queue (`<queue_name>-notify`)."""
    return [settings.queue_name, f"{settings.queue_name}-notify"]


def make_queues(redis: Redis, settings: Settings) -> tuple[Queue, Queue]:
    """(publishing queue, notification queue)."""
    publish, notify = queue_names(settings)
    return make_queue(redis, publish), make_queue(redis, notify)


def rq_handoff(redis: Redis) -> Callable[[Core], Enqueue]:
    """The core's queue hand-off: outbox items go onto RQ right after their commit."""

    def make(core: Core) -> Enqueue:
        dispatcher = Dispatcher(core, *make_queues(redis, core.settings))
        core.deps.plan_job = dispatcher.notify_job_id  # notifications are written with it

        def enqueue(items: Sequence[Handoff]) -> None:
            dispatcher(items)

        return enqueue

    return make


def build_core(settings: Settings, *, redis: Redis | None = None, engine: Engine | None = None,
               org: OrgChart | None = None, clock: Callable[[], datetime] | None = None,
               check_schema: bool = True) -> Core:
    """The core for `settings`, handing every committed outbox item to RQ at once."""
    # A hand-off must not hang a command when Redis is away: the reconciler catches up later.
    redis = redis or Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    return bootstrap(settings, engine=engine, org=org, clock=clock, check_schema=check_schema,
                     enqueue=rq_handoff(redis))


# A channel built around the core by the composition root (the chat bot's, which the worker
# does not import): name -> factory.
ChannelFactories = Mapping[str, Callable[[Core], Channel]]


def build_context(settings: Settings, core: Core | None = None,
                  channels_from: ChannelFactories | None = None) -> WorkerContext:
    """Wire the worker's dependencies from settings (around an existing core, if given); the
    log channel always, and each of `channels_from` around the core."""
    redis = Redis.from_url(settings.redis_url)
    if core is None:
        core = build_core(settings, redis=redis)
    secret = settings.wechat_secret.get_secret_value() if settings.wechat_secret else ""
    client = SignoffWeChatClient(settings.wechat_appid, secret, api_base=settings.wechat_api_base,
                                 redis=redis, timeout=settings.wechat_timeout_seconds)
    channels: dict[str, Channel] = {"log": LogChannel(settings.notify_log_file)}
    for name, make in (channels_from or {}).items():
        channels[name] = make(core)
    return WorkerContext(core, redis, *make_queues(redis, settings), client, channels)


_installed: WorkerContext | None = None


def install(ctx: WorkerContext | None) -> None:
    """Use `ctx` for jobs run in this process (an embedded worker: the demo, the benchmark)."""
    global _installed
    _installed = ctx


def preload(ctx: WorkerContext) -> None:
    """Build once in a forking worker's main process; each work horse inherits `ctx`.

    A horse must not share the parent's database connections: after the fork it drops the pool
    it inherited (without closing the parent's connections) and opens its own. Redis' pool does
    the same by itself when it sees a new pid.
    """
    install(ctx)
    engine = ctx.core.engine
    default_cover_sha256()  # drawn and hashed once, not in every horse
    try:
        warm_up(ctx.core.deps, engine)  # each horse inherits compiled SQL instead of compiling it
    except Exception as exc:  # a speed-up only: never a reason not to start
        log.warning("warm-up skipped: %s", type(exc).__name__)
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


def context() -> WorkerContext:
    """This process's context: the installed one, else one built from settings on first use."""
    return _installed or _from_settings()


@cache
def _from_settings() -> WorkerContext:
    return build_context(load_settings())
