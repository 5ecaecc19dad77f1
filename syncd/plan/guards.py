"""The delete guards, pure: when deletes are on, what may never look like "everything was
deleted" (product §4.8; Syncthing's folder marker, rclone's --max-delete).

A mapping root that has records but is missing, empty, on another file system than at its
first sync, or without the marker syncd wrote there fails its mapping: nothing is deleted
or uploaded for it. A pass that would trash more than `max_delete` files or
`max_delete_percent` of the mapping trashes nothing and says how to override it. In `run`,
the deletes are counted over a window (`WindowCounts`, kept by the daemon): a rm -rf that
arrives folder by folder is one delete of many files, never many small ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.core.model import MARKER


@dataclass(frozen=True, slots=True)
class RootFacts:
    has_records: bool
    marker: bool
    empty: bool
    dev: int  # the root's st_dev now
    first_dev: int  # at the first sync (0: not recorded yet)


def root_problem(f: RootFacts) -> str | None:
    """Why a mapping must not be synced with deletes on, or None."""
    if not f.has_records:
        return None  # the first sync writes the marker
    if f.empty:
        return "local folder is empty but syncd has records for it (an unmounted share?)"
    if f.first_dev and f.dev != f.first_dev:
        return "local folder is on another file system than at its first sync (unmounted?)"
    if not f.marker:
        return f"the {MARKER} marker syncd wrote into the local folder is missing (unmounted?)"
    return None


@dataclass(frozen=True, slots=True)
class DeleteLimits:
    max_count: int
    max_percent: float
    override: int | None = None  # `sync --max-delete N`: lifts both limits up to N


def delete_block(count: int, total: int, limits: DeleteLimits) -> str | None:
    """Why a pass's `count` deletes (of `total` files) must not happen, or None."""
    if count == 0:
        return None
    if limits.override is not None:
        if count <= limits.override:
            return None
        return f"{count} files would be trashed, more than --max-delete {limits.override}"
    if count > limits.max_count:
        return f"{count} files would be trashed, more than sync.max_delete ({limits.max_count})"
    if total and count * 100.0 / total > limits.max_percent:
        share = count * 100.0 / total
        return (
            f"{count} of {total} files ({share:.0f} %) would be trashed, more than "
            f"sync.max_delete_percent ({limits.max_percent:g} %)"
        )
    return None


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """The daemon's delete window for one mapping, as values: what it already trashed in
    the window, the mapping's size at the window's start, and whether a guard held the
    window's deletes (then every later delete of the window is held too)."""

    deleted: int
    base: int
    held: bool = False


HELD = "a guard held this window's deletes"


def window_block(count: int, total: int, limits: DeleteLimits, w: WindowCounts) -> str | None:
    """Why `count` more deletes must not happen in a window that already trashed
    `w.deleted` of `w.base` files (`total`: the mapping's size now), or None."""
    if count == 0:
        return None
    if w.held:
        return HELD
    why = delete_block(w.deleted + count, max(w.base, total), limits)
    if why is not None and w.deleted:
        why += f"; {w.deleted} of them were trashed earlier in the delete window"
    return why


def override_hint(count: int) -> str:
    return (
        f"if these deletes are intended, run `syncd sync --max-delete {count}` once; "
        "otherwise restore the files (nothing was trashed)"
    )
