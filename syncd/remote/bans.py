"""The per-IP ban: one pause for every API call of the process, announced once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from syncd.core.errors import BannedError

log = structlog.get_logger(__name__)


class BanPause:
    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sleep, self._clock = sleep, clock
        self._until = 0.0  # no API call before this (monotonic)
        self._lock = threading.Lock()

    def start(self, err: BannedError) -> None:
        """Pause every API call of this process for the ban's duration (one warning)."""
        wait = err.retry_after or 300.0
        with self._lock:
            now = self._clock()
            already = self._until > now
            self._until = max(self._until, now + wait)
        if not already:
            log.warning(
                "remote.banned",
                api=err.api,
                status=err.status,
                pause_seconds=int(wait),
                hint="DingTalk limits calls per IP address (10,000 per 20 s); all calls pause",
            )

    def wait_out(self) -> None:
        """Return once no ban is in force (at once when there is none)."""
        while True:
            with self._lock:
                left = self._until - self._clock()
            if left <= 0:
                return
            self._sleep(left)
