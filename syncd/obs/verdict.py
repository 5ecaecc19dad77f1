"""The one-line verdict of `syncd status` and `/healthz`: `ok`, `degraded: …`, `failing: …`.

One pure function over plain values, so that the daemon (for `/healthz`) and `syncd status`
(from the state store and the daemon's snapshot) judge alike, and a new reason (the
monthly budget) is one more field. `failing`: the daemon cannot do its job for some
mapping or at all (`/healthz` answers 503); `degraded`: it runs, but files need attention
(200, with the reasons).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

LOOP_STALE = 90.0  # the daemon's main loop wakes at least every 30 s
REMOTE_DOWN = 300.0  # the remote failing this long (with work waiting) is failing


class Level(enum.Enum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the verdict is made of; every field a plain value (0 / empty: nothing wrong)."""

    failed_mappings: tuple[str, ...] = ()  # each "<local>: <reason>"
    state_broken: str = ""  # why the state store cannot be written
    loop_silent_seconds: float = 0.0  # how long the daemon's main loop has been silent
    remote_down_seconds: float = 0.0  # how long the remote has been failing (0: it answers)
    failing_files: int = 0
    held_files: int = 0
    refused_files: int = 0
    budget_exhausted: str = ""  # why no metered call may go (budget or quota spent, §4.11)
    pending_files: int = 0  # waiting for the month's budget
    scan_running_seconds: float = 0.0  # how long the scan running now has run (0: none)
    scan_expected_seconds: float = 0.0  # a scan longer than this is overdue (0: no bound)


@dataclass(frozen=True, slots=True)
class Verdict:
    level: Level
    reasons: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        if self.level is Level.OK:
            return "ok"
        return f"{self.level.value}: {'; '.join(self.reasons)}"

    @property
    def healthy(self) -> bool:
        """For `/healthz`: 200 unless failing."""
        return self.level is not Level.FAILING


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def verdict(f: Facts) -> Verdict:
    failing: list[str] = []
    if f.loop_silent_seconds > LOOP_STALE:
        failing.append(f"main loop silent for {int(f.loop_silent_seconds)} s")
    if f.state_broken:
        failing.append(f"state store not writable ({f.state_broken})")
    if f.remote_down_seconds > REMOTE_DOWN:
        failing.append(f"the remote has not answered for {int(f.remote_down_seconds)} s")
    if f.scan_expected_seconds and f.scan_running_seconds > f.scan_expected_seconds:
        failing.append(
            f"a scan has been running for {int(f.scan_running_seconds)} s "
            f"(expected within {f.scan_expected_seconds:g} s)"
        )
    if f.failed_mappings:
        n = len(f.failed_mappings)
        failing.append(f"{_plural(n, 'mapping')} failed ({', '.join(f.failed_mappings)})")
    if f.budget_exhausted:
        failing.append(f.budget_exhausted)
    if failing:
        return Verdict(Level.FAILING, tuple(failing))
    degraded: list[str] = []
    if f.remote_down_seconds > 0:
        degraded.append(f"the remote is failing (for {int(f.remote_down_seconds)} s)")
    if f.failing_files:
        degraded.append(f"{_plural(f.failing_files, 'file')} failing")
    if f.held_files:
        degraded.append(f"{_plural(f.held_files, 'file')} held")
    if f.refused_files:
        degraded.append(f"{_plural(f.refused_files, 'file')} refused")
    if f.pending_files:
        degraded.append(f"{_plural(f.pending_files, 'file')} pending (waiting for budget)")
    if degraded:
        return Verdict(Level.DEGRADED, tuple(degraded))
    return Verdict(Level.OK)
