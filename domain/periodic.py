"""A daemon thread that runs a task every few seconds (the retention sweep, webhook
deliveries); a failing run is logged and retried at the next tick."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``task`` every ``interval`` seconds (at once after :meth:`wake`) until closed."""

    def __init__(self, name: str, task: Callable[[], object], interval: float) -> None:
        self.name, self._task, self.interval = name, task, interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._task()
            except Exception:
                log.exception("%s failed; retrying in %.0f s", self.name, self.interval)
            self._wake.wait(self.interval)
            self._wake.clear()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
