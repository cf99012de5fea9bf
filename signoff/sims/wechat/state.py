"""The simulator's in-memory state, one lock around all of it, and the background machinery."""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import secrets
import threading
from collections import Counter
from typing import Any

from .config import SimConfig
from .events import Push, build_push, deliver
from .faults import FaultBook
from .models import Draft, MassSend, Media, Publication
from .scheduler import Scheduler
from .tokens import TokenBook


def biz_of(appid: str) -> str:
    """The account's `__biz` (base64 of a ten-digit number), derived from the appid so it is stable."""
    number = 3_000_000_000 + int(hashlib.sha1(appid.encode()).hexdigest()[:8], 16) % 1_000_000_000
    return base64.b64encode(str(number).encode()).decode()


class SimState:
    """Everything the simulated account holds. Handlers run under `lock`."""

    def __init__(self, config: SimConfig) -> None:
        config.validate()
        self.initial_config = config
        self.lock = threading.RLock()
        self.scheduler = Scheduler()
        self.stopping = threading.Event()
        self._push_threads: list[threading.Thread] = []
        self.generation = 0
        self.in_flight = 0  # API calls being answered right now (a latency fault holds one)
        self._clear(config)

    def _clear(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.random_seed)
        self.tokens = TokenBook()
        self.faults = FaultBook(self.rng)
        self.media: dict[str, Media] = {}  # materials by media_id, uploadimg images by url
        self.drafts: dict[str, Draft] = {}
        self.publications: dict[str, Publication] = {}
        self.articles: dict[str, str] = {}  # article_id -> publish_id
        self.mass_sends: dict[int, MassSend] = {}
        self.previews: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.pushes: list[Push] = []
        self.event_failures = 0
        # publish_id and msg_data_id share one number space, as real ones do (both look like 2247483xxx)
        self._serial = itertools.count(2_247_483_649)
        self._msg_ids = itertools.count(1_000_000_001)

    # ids -----------------------------------------------------------------------------------------

    def next_serial(self) -> int:
        """A fresh publish_id / msg_data_id number."""
        return next(self._serial)

    def next_msg_id(self) -> int:
        """A fresh mass-send or preview msg_id."""
        return next(self._msg_ids)

    def opaque(self, nbytes: int = 32) -> str:
        """An opaque URL-safe id (media_id, article_id, URL path parts)."""
        return secrets.token_urlsafe(nbytes)

    @property
    def biz(self) -> str:
        """The account's `__biz` URL parameter."""
        return biz_of(self.config.appid)

    # lookups -------------------------------------------------------------------------------------

    def permanent_media_url(self, media_id: str) -> str | None:
        """The URL of a permanent image/thumb material, or None when the id is unknown or temporary."""
        media = self.media.get(media_id)
        return media.url if media is not None and media.is_permanent else None

    def temp_url(self, draft: Draft, index: int) -> str:
        """The draft's temporary preview link (draft/get's `url`)."""
        return f"http://mp.weixin.qq.com/s?__biz={self.biz}&tempkey={draft.tempkey}{index}#rd"

    # lifecycle -----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything and return to the configuration the app was created with."""
        with self.lock:
            self.generation += 1
            self.scheduler.cancel_all()
            self._clear(self.initial_config)

    def close(self) -> None:
        """Stop the timer and wait briefly for pushes in flight."""
        self.stopping.set()
        self.scheduler.close()
        for thread in list(self._push_threads):
            thread.join(timeout=2)

    def after(self, delay: float, callback: Any) -> None:
        """Run `callback` under the lock after `delay` seconds, unless the state is reset first."""
        generation = self.generation

        def run() -> None:
            with self.lock:
                if self.generation == generation:
                    callback()

        self.scheduler.call_later(delay, run)

    # pushes --------------------------------------------------------------------------------------

    def push_event(self, xml: str, *, event: str, ref: str) -> None:
        """Send an event to the callback URL (if one is set) on its own thread, retrying as WeChat does."""
        cfg = self.config
        if not cfg.callback_url:
            return
        push = build_push(xml, event=event, ref=ref, url=cfg.callback_url, token=cfg.callback_token,
                          aes_key=cfg.encoding_aes_key, appid=cfg.appid, gh_id=cfg.gh_id,
                          nonce=str(self.rng.randrange(10**9, 10**10)))
        generation = self.generation

        def run() -> None:
            deliver(push, timeout=cfg.callback_timeout_seconds, retry_delay=cfg.callback_retry_delay_seconds,
                    stopping=self.stopping)
            with self.lock:
                if self.generation == generation:
                    self.pushes.append(push)
                    if not push.delivered:
                        self.event_failures += 1
                self._push_threads = [t for t in self._push_threads if t.is_alive() and t is not thread]

        thread = threading.Thread(target=run, name=f"wechat-sim-push-{ref}", daemon=True)
        self._push_threads.append(thread)
        thread.start()

    # inspection ----------------------------------------------------------------------------------

    def published(self) -> list[dict[str, Any]]:
        """Every successfully published article, oldest first."""
        done = [p for p in self.publications.values() if p.published_at is not None]
        return [entry for p in sorted(done, key=lambda p: p.published_at or 0) for entry in p.entries()]

    def snapshot(self) -> dict[str, Any]:
        """The inspection document of GET /_sim/state."""
        with self.lock:
            return {
                "published": self.published(),
                "publications": [p.as_dict() for p in self.publications.values()],
                "drafts": {media_id: d.as_dict() for media_id, d in self.drafts.items()},
                "media": {key: m.as_dict() for key, m in self.media.items()},
                "mass_sends": [m.as_dict() for m in self.mass_sends.values()],
                "previews": list(self.previews),
                "calls": dict(self.calls),
                "tokens_issued": self.tokens.issued,
                "events_sent": [p.as_dict() for p in self.pushes if p.delivered],
                "events_failed": [p.as_dict() for p in self.pushes if not p.delivered],
                "event_failures": self.event_failures,
                "in_flight": self.in_flight,
                "faults": [f.as_dict() for f in self.faults.faults],
            }
