"""B7: `syncd sync` over a synced tree of 10,000 files in 200 folders after deleting state_dir.

Targets (product.md section 6, section 4.7 "Adopt"): zero uploads and zero commits; API calls
<= folders + files/50 + 10; under a minute on the emulator.

A tree of 10,000 small files (distinct contents) in 200 folders is uploaded by a real initial
`python -m syncd sync` (so every remote file carries syncd's `syncd.sha256` stamp). Then
state_dir is deleted and `sync` runs again: every file has a stamped remote twin and must be
adopted (`upload.adopted`) without an upload. The calls are the emulator's own counters
(`/_emulator/stats`, every API endpoint plus OSS PUTs, token included) taken before and after
that second run; all of them count against the bound. Time = wall time of the `python -m syncd
sync` process (start-up included).
Baseline: the initial upload `sync` of the same tree against the same emulator, in the same run
(ratio = adoption / initial: what recovering from a lost state_dir costs next to uploading
everything again). A third `sync` (state rebuilt by the adoption) is run for information: it
should make no request at all (section 4.7).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

TARGET_SECONDS = 60.0
UPLOAD_ENDPOINTS = ("uploadInfo", "oss", "commit")


def diff(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    """Requests per endpoint between two ``/_emulator/stats`` snapshots (non-zero only)."""
    a, b = after["requests"], before["requests"]
    out = {ep: a.get(ep, 0) - b.get(ep, 0) for ep in sorted(set(a) | set(b))}
    return {ep: n for ep, n in out.items() if n}


def main() -> int:
    args = c.parse_args(__doc__)
    n_files, n_folders = (1_000, 20) if args.quick else (10_000, 200)
    bound = n_folders + n_files // 50 + 10
    rep = c.Report(
        "B7", f"sync after deleting state_dir: {n_files:,} synced files in {n_folders} folders"
    )
    work = c.tempdir("b7")
    local = work / "tree"
    state = work / "state"
    t0 = time.perf_counter()
    c.make_tree(local, n_files, n_folders, lambda i: b"b7 file %d\n" % i)
    rep.figure("tree created", f"{time.perf_counter() - t0:.1f} s")
    uuid = c.new_uuid()
    with c.EmulatorProc([uuid], log_dir=work) as emu:
        cfg = c.write_config(
            work / "syncd.json",
            api_base=emu.base_url,
            state_dir=state,
            mappings=[(local, uuid)],
        )
        # 1. the baseline, and what makes the tree "synced": a real initial upload
        first = c.run_syncd_sync(cfg, work / "syncd-initial.log", timeout=900)
        s0 = emu.stats()
        fin0 = first.event("sync.finished") or {}
        rep.figure(
            "initial sync (baseline)",
            f"{first.wall:.2f} s  ({n_files / first.wall:.0f} files/s, uploaded "
            f"{fin0.get('uploaded')}, exit {first.returncode}, {s0['total']} requests)",
        )
        if first.returncode != 0 or fin0.get("uploaded") != n_files:
            raise RuntimeError(
                f"initial sync did not upload every file (exit {first.returncode}, "
                f"uploaded {fin0.get('uploaded')}; log {first.log_path})"
            )
        # 2. lose the state, sync again: the measured run
        shutil.rmtree(state)
        adopt = c.run_syncd_sync(cfg, work / "syncd-adopt.log", timeout=900)
        s1 = emu.stats()
        # 3. information: the pass after adoption is quiet again
        again = c.run_syncd_sync(cfg, work / "syncd-again.log", timeout=900)
        s2 = emu.stats()
    calls = diff(s1, s0)
    total = sum(calls.values())
    quiet = diff(s2, s1)
    fin = adopt.event("sync.finished") or {}
    adopted = adopt.count("upload.adopted")
    uploaded_events = adopt.count("upload.completed")
    uploads = {ep: calls.get(ep, 0) for ep in UPLOAD_ENDPOINTS}
    ratio = adopt.wall / first.wall
    rep.figure(
        "sync after rm -r state_dir",
        f"{adopt.wall:.2f} s  (exit {adopt.returncode}, peak RSS "
        f"{c.fmt_kib(adopt.maxrss_kib)}, sync.finished {fin.get('seconds')} s)",
    )
    rep.figure("ratio adoption/initial", f"{ratio:.3f}")
    rep.figure(
        "adopted / uploaded",
        f"{adopted:,} upload.adopted, {uploaded_events} upload.completed "
        f"(sync.finished uploaded {fin.get('uploaded')})",
    )
    rep.figure("API calls (all endpoints)", f"{total}  (bound {bound})")
    rep.figure("  by endpoint", "  ".join(f"{ep} {n}" for ep, n in calls.items()) or "-")
    rep.figure(
        "  bound",
        f"folders {n_folders} + files/50 {n_files // 50} + 10 = {bound}",
    )
    rep.figure(
        "uploads during it",
        "  ".join(f"{ep} {n}" for ep, n in uploads.items()),
    )
    rep.figure(
        "next sync (state rebuilt)",
        f"{again.wall:.2f} s, {sum(quiet.values())} requests "
        f"{quiet or ''}(exit {again.returncode}; section 4.7: none expected)",
    )
    if sum(quiet.values()) or again.returncode != 0:
        rep.note(f"the pass after adoption was not quiet: log {again.log_path}")
    ok = adopt.returncode == 0 and adopted == n_files and uploaded_events == 0
    rep.check(
        "every file adopted, exit 0",
        ok,
        f"{adopted:,}/{n_files:,} adopted, {uploaded_events} uploaded, exit {adopt.returncode}",
    )
    if not ok:
        rep.note(f"syncd log: {adopt.log_path}")
    rep.check(
        "zero uploads and zero commits",
        not any(uploads.values()),
        f"uploadInfo {uploads['uploadInfo']}, oss {uploads['oss']}, commit {uploads['commit']}",
    )
    rep.check("API calls", total <= bound, f"{total} <= {bound}")
    rep.check("under a minute", adopt.wall < TARGET_SECONDS, f"{adopt.wall:.2f} s < 60 s")
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
