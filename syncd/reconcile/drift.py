"""Repair remote drift: list the mapped remote tree and compare it with the records.

Folder by folder (the folders the state knows), the remote listing is compared with the
records of that folder: a file deleted remotely is uploaded again, a file whose version
moved since our last commit follows `sync.on_remote_change`. Only files whose local copy
is still the recorded one are considered; local changes are the local scan's business.
Listings use their own API budget (`storage.listDentries`), so they never slow uploads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import structlog

from syncd.core.actions import ResolveRemoteChange, Reupload
from syncd.core.errors import RemoteError
from syncd.core.model import Dentry, LocalFile, Record
from syncd.core.settings import Mapping
from syncd.execute.executor import Executor

log = structlog.get_logger(__name__)

Repair = Reupload | ResolveRemoteChange


def check_remote(ex: Executor, m: Mapping) -> Iterator[Repair]:
    """What to repair in mapping `m`; records when the check finished completely."""
    started = time.monotonic()
    remote = ex.remote()
    target = ex.target(m)
    remote.index.clear()
    reserved = ex.tree(m).reserved
    folders = sorted(p for p in ex.state.dirs(m.key) if p.split("/", 1)[0] not in reserved)
    counts = {"folders": 0, "deleted": 0, "changed": 0}
    try:
        for folder in folders:
            records = ex.state.records_in(m.key, folder)
            if not records:
                continue
            counts["folders"] += 1
            listing = remote.index.listing(target, folder)
            for action in _compare(ex, m, records, listing or {}):
                counts["deleted" if isinstance(action, Reupload) else "changed"] += 1
                yield action
    except RemoteError as exc:
        log.warning(
            "remote.check_failed", mapping=str(m.local), error_code=exc.code, error=exc.message
        )
        return
    ex.write("remote check", lambda: ex.state.set_mapping_info(m.key, remote_checked=time.time()))
    log.info(
        "remote.checked",
        mapping=str(m.local),
        seconds=round(time.monotonic() - started, 3),
        **counts,
    )


def _compare(
    ex: Executor, m: Mapping, records: list[Record], listing: dict[str, Dentry]
) -> Iterator[Repair]:
    tree = ex.tree(m)
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
