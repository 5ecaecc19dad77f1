"""After a walk: what became of the records whose files are gone.

With `deletes: keep` their records are dropped and nothing remote is touched. With
`deletes: trash` they are moved remotely into the trash folder — a gone folder in one move
— unless a guard blocks the pass. Never for a walk that could not read every folder, never
for a file that was moved (its record moves with it), and never for a file renamed to a
name the remote refuses (its remote copy stays where it was).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from syncd.core.actions import Action, Blocked, Forget, Trash
from syncd.core.model import Record
from syncd.core.settings import DeleteMode, Mapping
from syncd.plan.guards import (
    DeleteLimits,
    WindowCounts,
    delete_block,
    override_hint,
    window_block,
)
from syncd.plan.ports import Records


@dataclass
class Gone:
    """What a walk found missing, and what must not be taken for a delete."""

    vanished: list[str] = field(default_factory=list)  # records whose file is not there
    stale: list[str] = field(default_factory=list)  # records of entries that are no files now
    dirs: list[str] = field(default_factory=list)  # recorded folders not found
    # recorded folders (and files) the config no longer syncs: forgotten, never trashed
    excluded: list[str] = field(default_factory=list)
    moved_sources: set[tuple[str, str]] = field(default_factory=set)  # (mapping key, path)
    # inode -> (size, mtime_ns) of refused entries: a record renamed to a refused name
    refused: dict[int, tuple[int, int]] = field(default_factory=dict)


EXCLUDED = "no longer synced: the config leaves it out"


def _top(dirs: list[str]) -> list[str]:
    """The gone folders that are not inside another gone folder."""
    out: list[str] = []
    for d in sorted(dirs):
        if not out or not (d == out[-1] or d.startswith(out[-1] + "/")):
            out.append(d)
    return out


def plan_deletes(
    state: Records,
    m: Mapping,
    gone: Gone,
    mode: DeleteMode,
    limits: DeleteLimits,
    window: WindowCounts | None = None,
) -> Iterator[Action]:
    """`window`: in `run`, what the daemon's delete window already holds (the guards count
    over it, not over this pass alone)."""
    records = [
        r
        for p in gone.vanished
        if (m.key, p) not in gone.moved_sources
        and (r := state.record(m.key, p)) is not None
        and gone.refused.get(r.inode) != (r.size, r.mtime_ns)  # not renamed to a refused name
    ]
    dirs = [d for d in _top(gone.dirs) if not _refused_dir(state, m, d, gone)]
    if gone.stale:
        yield Forget(m, tuple(gone.stale), why="no longer a file of this mapping")
    if gone.excluded:
        yield Forget(m, (), tuple(_top(gone.excluded)), why=EXCLUDED)
    if mode is DeleteMode.KEEP or not (records or dirs):
        if records or dirs:
            yield Forget(m, tuple(r.rel_path for r in records), tuple(dirs))
        return
    under = {d: state.records_under(m.key, d) for d in dirs}
    inside = {r.rel_path for rs in under.values() for r in rs}
    loose = [r for r in records if r.rel_path not in inside]
    count = len(loose) + len(inside)
    total = state.summary(m.key)["files"]
    if window is None:
        why = delete_block(count, total, limits)
    else:
        why = window_block(count, total, limits, window)
    if why is not None:
        yield Blocked(m, why, count, override_hint(count))
        return
    for d, rs in under.items():
        yield Trash(m, tuple(rs), folder=d)
    by_folder: dict[str, list[Record]] = {}
    for r in loose:  # the files of one folder together: their folder is listed once
        by_folder.setdefault(r.folder, []).append(r)
    for rs in by_folder.values():
        yield Trash(m, tuple(rs))


def _refused_dir(state: Records, m: Mapping, folder: str, gone: Gone) -> bool:
    row = state.dirs(m.key).get(folder)
    return row is not None and row.inode in gone.refused


def trash_path(trash_folder: str, day: str, r: Record | None, folder: str = "") -> str:
    """Where a deleted file or folder goes: `<trash>/<YYYY-MM-DD>/<its original folder>`."""
    parent = folder.rpartition("/")[0] if folder else (r.folder if r is not None else "")
    return f"{trash_folder}/{day}" + (f"/{parent}" if parent else "")
