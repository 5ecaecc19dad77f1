"""Remote drift: list the mapped remote tree and compare it with the records.

Folder by folder (the folders the state knows), the remote listing is compared with the
records of that folder: a file deleted remotely is uploaded again, a file whose version
moved since our last commit follows `sync.on_remote_change`. Only files whose local copy
is still the recorded one are considered; local changes are the local scan's business.
A check that went through every folder ends with `RemoteChecked` (noted for `status`);
one the remote could not answer ends early with `remote.check_failed`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import structlog

from syncd.core.actions import RemoteChecked, ResolveRemoteChange, Reupload
from syncd.core.errors import RemoteError
from syncd.core.model import Dentry, LocalFile, Record
from syncd.core.settings import Mapping
from syncd.local.fs import LocalTree
from syncd.plan.ports import Listings, Records

log = structlog.get_logger(__name__)

Repair = Reupload | ResolveRemoteChange | RemoteChecked


def check_remote(
    records: Records, tree: LocalTree, listings: Listings, m: Mapping
) -> Iterator[Repair]:
    """What to repair in mapping `m`; `RemoteChecked` when the check finished completely."""
    started = time.monotonic()
    listings.clear()
    reserved = tree.reserved
    folders = sorted(p for p in records.dirs(m.key) if p.split("/", 1)[0] not in reserved)
    counts = {"folders": 0, "deleted": 0, "changed": 0}
    try:
        for folder in folders:
            recs = records.records_in(m.key, folder)
            if not recs:
                continue
            counts["folders"] += 1
            listing = listings.listing(m, folder)
            for action in _compare(tree, m, recs, listing or {}):
                counts["deleted" if isinstance(action, Reupload) else "changed"] += 1
                yield action
    except RemoteError as exc:
        log.warning(
            "remote.check_failed", mapping=str(m.local), error_code=exc.code, error=exc.message
        )
        return
    yield RemoteChecked(m)
    log.info(
        "remote.checked",
        mapping=str(m.local),
        seconds=round(time.monotonic() - started, 3),
        **counts,
    )


def _compare(
    tree: LocalTree, m: Mapping, records: list[Record], listing: dict[str, Dentry]
) -> Iterator[Reupload | ResolveRemoteChange]:
    for rec in records:
        there = listing.get(rec.name)
        if there is not None and not there.is_folder and there.version == rec.version:
            continue
        local = tree.classify(rec.rel_path)
        if not isinstance(local, LocalFile) or local.key != (rec.size, rec.mtime_ns, rec.inode):
            continue  # changed or gone locally: the local scan decides
        if there is None or there.is_folder:
            yield Reupload(m, local, rec)
        else:  # another version, or another file under that name
            yield ResolveRemoteChange(m, local, rec, there)
