"""What the daemon's threads tell its main loop, and the jobs the loop hands to workers."""

from __future__ import annotations

from dataclasses import dataclass

from syncd.core.actions import Outcome
from syncd.core.model import LocalFile
from syncd.core.settings import Mapping


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Reload:
    pass


@dataclass(frozen=True)
class Done:
    """A worker finished with a path."""

    key: str
    rel: str
    outcome: Outcome
    defer: float = 0.0  # look again after this many seconds (a new empty file)


@dataclass(frozen=True)
class Fresh:
    """A scanned file modified within the settle time: it goes through the gate first."""

    key: str
    file: LocalFile


@dataclass(frozen=True)
class ScanRequest:
    key: str
    start: str = ""  # "" = the whole mapping
    reason: str = "rescan"


@dataclass(frozen=True)
class PathJob:
    """Plan and carry out one settled path."""

    mapping: Mapping
    rel: str
    force: bool = False  # our own retry timer fired: the back-off is over
