"""What syncd did and is doing: the one source for the `stats` log line, systemd's
`STATUS=`, the daemon's status snapshot in the state store, and the metrics.

Counters only go up (they are cumulative for the process); gauges are set by whoever owns
the value (the daemon's queues, the client's last answer). Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

COUNTERS = (
    "uploaded",
    "bytes",
    "failed",
    "refused",
    "held",
    "deferred",
    "vanished",
    "touched",
    "adopted",
    "moved",
    "trashed",
    "remote_changed",
    "planned",
    "planned_bytes",
    "retries",
    "throttled",
    "abandoned",
)
GAUGES = (
    "queued",
    "in_flight",
    "failing",
    "held_files",
    "refused_files",
    "watches",
    "failed_mappings",
    "remote_reachable",
    "last_upload_time",
    "last_scan_seconds",
    "last_scan_time",
)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, float("inf"))


@dataclass
class Stats:
    counts: Counter[str] = field(default_factory=Counter)
    gauges: dict[str, float] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)  # by error code
    durations: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    duration_sum: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **amounts: int) -> None:
        with self._lock:
            self.counts.update(amounts)

    def get(self, name: str) -> int:
        with self._lock:
            return self.counts[name]

    def failed(self, code: str) -> None:
        with self._lock:
            self.counts["failed"] += 1
            self.failures[code or "unknown"] += 1

    def uploaded(self, size: int, seconds: float) -> None:
        with self._lock:
            self.counts.update(uploaded=1, bytes=size)
            self.gauges["last_upload_time"] = time.time()
            self.duration_sum += seconds
            for i, bound in enumerate(DURATION_BUCKETS):
                if seconds <= bound:
                    self.durations[i] += 1
                    break

    def set(self, **values: float) -> None:
        with self._lock:
            self.gauges.update(values)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "counters": {k: self.counts[k] for k in COUNTERS},
                "gauges": {k: self.gauges.get(k, 0.0) for k in GAUGES},
                "failures": dict(self.failures),
                "durations": list(self.durations),
                "duration_sum": self.duration_sum,
            }

    def line(self) -> dict[str, int]:
        """The fields of the periodic `stats` log line."""
        with self._lock:
            return {
                "queued": int(self.gauges.get("queued", 0)),
                "in_flight": int(self.gauges.get("in_flight", 0)),
                "uploaded": self.counts["uploaded"],
                "failed": self.counts["failed"],
                "bytes": self.counts["bytes"],
            }

    def status_text(self, mappings: int) -> str:
        """systemd's one-line STATUS=."""
        s = self.line()
        plural = "s" if mappings != 1 else ""
        return (
            f"watching {mappings} folder{plural}; queued {s['queued']}, uploading "
            f"{s['in_flight']}, uploaded {s['uploaded']}, failed {s['failed']}"
        )

    def summary(self) -> dict[str, int]:
        """Counters of a `sync` pass for `sync.finished`."""
        with self._lock:
            return {k: self.counts[k] for k in COUNTERS if k not in ("retries", "throttled")}
