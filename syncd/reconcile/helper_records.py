"""The records a shared rescan's helper process compares its folders with (`walk_shared`).

Built in the parent, pickled to a spawned helper, and called there: the helper opens the
state store read-only for itself (a SQLite connection never crosses a fork).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from syncd.core.model import Known
from syncd.local.walk import KnownFor
from syncd.state.store import StateStore


@dataclass
class HelperRecords:
    """The helper's `known_for`, built in the helper (`ChildKnown`; it pickles, for a
    helper that is spawned): each recorded folder's row id and inode, the names with an
    issue (looked at every time), and the state dir, whose store it opens read-only for
    itself."""

    state_dir: Path
    dirs: dict[str, tuple[int, int]]  # rel -> (row id, inode)
    issues: dict[str, list[str]]  # folder -> names

    def __call__(self) -> KnownFor:
        known_in = StateStore(self.state_dir, readonly=True).known_in

        def known(rel: str, ino: int) -> Known | None:
            row = self.dirs.get(rel)
            if row is None or row[1] != ino:
                return None  # not as recorded (perhaps a recorded folder moved): the parent's
            k = known_in(row[0])
            for name in self.issues.get(rel, ()):
                k.pop(name, None)
            return k

        return known
