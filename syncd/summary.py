"""The human summary a `syncd sync` prints on a terminal when it ends (like rclone's)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from syncd.status import human

if TYPE_CHECKING:
    from syncd.sync_pass import SyncResult


def count(n: int, word: str) -> str:
    """`1 file`, `2 files`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def lines(result: SyncResult, *, dry_run: bool) -> list[str]:
    c = result.counters
    if dry_run:
        folders = f" in {count(result.folders, 'folder')}" if result.folders else ""
        refused = f"; {c['refused']} refused" if c["refused"] else ""
        return [
            f"would upload {count(c['planned'], 'file')} ({human(c['planned_bytes'])})"
            f"{folders}{refused}"
        ]
    seconds = max(result.seconds, 1e-3)
    out = [
        f"Transferred:  {count(c['uploaded'], 'file')}, {human(c['bytes'])}, "
        f"{human(c['bytes'] / seconds)}/s",
    ]
    for label, key in (
        ("Adopted", "adopted"),
        ("Moved", "moved"),
        ("Trashed", "trashed"),
        ("Held", "held"),
    ):
        if c.get(key):
            out.append(f"{label + ':':<13} {count(c[key], 'file')}")
    out.append(
        f"{'Failed:':<13} {count(c['failed'], 'file')}"
        + (
            f" and {count(len(result.failed_mappings), 'mapping')}"
            if result.failed_mappings
            else ""
        )
    )
    out.append(
        f"{'Refused:':<13} {count(c['refused'], 'file')} (see `syncd status`)"
        if c["refused"]
        else f"{'Refused:':<13} 0 files"
    )
    out.append(f"{'Elapsed:':<13} {result.seconds:.1f} s")
    return out


def print_summary(result: SyncResult, *, dry_run: bool) -> None:
    print("\n".join(lines(result, dry_run=dry_run)), file=sys.stderr)
