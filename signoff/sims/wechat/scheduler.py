"""A single background thread that runs callbacks after a delay (publish and mass-send completion)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Scheduler:
    """Runs callbacks on one daemon thread, started on first use."""

    def __init__(self, name: str = "wechat-sim-timer") -> None:
        self._name = name
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` on the timer thread after `delay` seconds."""
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def cancel_all(self) -> None:
        """Forget every pending callback."""
        with self._cond:
            self._heap.clear()
            self._cond.notify()

    def close(self) -> None:
        """Stop the thread; pending callbacks never run."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                if self._closed:
                    return
                _, _, callback = heapq.heappop(self._heap)
            try:
                callback()
            except Exception:
                # a failing completion must not kill the timer for every later job
                log.exception("simulator timer callback failed")
