"""B3: `syncd sync` again over 100,000 unchanged files in 2,000 folders.

Targets (product.md section 6): <= 2.5 x the time of `find DIR -type f -printf '%s %T@\\n'`,
zero HTTP requests, peak RSS <= 48 MiB.

The state store is seeded as a completed initial sync would have left it (one `files` row per
file with its size, mtime_ns, inode and sha256, written with one executemany into syncd's own
schema), so every file is unchanged. The page cache is warmed with one `find` first; then
`find` and `syncd sync` are each run 5 times, alternating, and the best of each is compared
(warm cache for both). syncd's time is the wall time of the `python -m syncd sync` process,
start-up included; both are timed by the same small launcher (`_rusage.py`), which also takes
syncd's peak RSS free of this script's own. The emulator must see no request at all.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

TARGET = 2.5
RSS_TARGET_MIB = 48


def time_find(root: Path) -> float:
    args = ["find", str(root), "-type", "f", "-printf", "%s %T@\\n"]
    t0 = time.perf_counter()
    p = c.spawn_measured(args, stdout=subprocess.DEVNULL)
    code, _, own = c.wait_measured(p, 600)
    if code != 0:
        raise RuntimeError(f"find exited {code}")
    return own if own is not None else time.perf_counter() - t0


def main() -> int:
    args = c.parse_args(__doc__)
    n_files, n_folders, rounds = (10_000, 200, 3) if args.quick else (100_000, 2000, 5)
    rep = c.Report("B3", f"sync over {n_files:,} unchanged files in {n_folders:,} folders")
    work = c.tempdir("b3")
    local = work / "tree"
    t0 = time.perf_counter()
    rels = c.make_tree(local, n_files, n_folders, lambda i: b"%d\n" % i)
    rep.figure("tree created", f"{time.perf_counter() - t0:.1f} s")
    state = work / "state"
    uuid = c.new_uuid()
    t0 = time.perf_counter()
    seeded = c.seed_state(state, local, uuid, rels)
    rep.figure("state store seeded", f"{seeded:,} records in {time.perf_counter() - t0:.1f} s")
    if seeded != n_files:
        raise RuntimeError(f"seeded {seeded} records, expected {n_files}")
    time_find(local)  # warm the page cache (dentries and inodes) for both
    finds, syncs, rss = [], [], []
    ok = True
    with c.EmulatorProc([uuid], log_dir=work) as emu:
        cfg = c.write_config(
            work / "syncd.json",
            api_base=emu.base_url,
            state_dir=state,
            mappings=[(local, uuid)],
        )
        for r in range(rounds):
            finds.append(time_find(local))
            run = c.run_syncd_sync(cfg, work / f"syncd-{r}.log")
            syncs.append(run.wall)
            rss.append(run.maxrss_kib)
            fin = run.event("sync.finished") or {}
            scan = run.event("scan.finished") or {}
            r_ok = (
                run.returncode == 0
                and fin.get("uploaded") == 0
                and scan.get("files") == n_files
                and scan.get("changed") == 0
            )
            ok = ok and r_ok
            rep.figure(
                f"round {r + 1}",
                f"find {finds[-1]:.3f} s | syncd {run.wall:.3f} s (scan.finished "
                f"{scan.get('seconds')} s, files {scan.get('files')}, changed "
                f"{scan.get('changed')}, exit {run.returncode}, peak RSS "
                f"{c.fmt_kib(run.maxrss_kib)})",
            )
            if not r_ok:
                rep.note(f"syncd log: {run.log_path}")
        stats = emu.stats()
    bf, bs = min(finds), min(syncs)
    ratio = bs / bf
    rep.figure(f"find (best of {rounds})", f"{bf:.3f} s")
    rep.figure(f"syncd sync (best of {rounds})", f"{bs:.3f} s")
    rep.figure("ratio syncd/find", f"{ratio:.2f}  (target <= {TARGET})")
    rep.figure("emulator requests", f"{stats['total']}  {stats['requests']}")
    rep.check(
        "every file seen as unchanged, exit 0",
        ok,
        f"{n_files:,} files, 0 changed" if ok else "see the round lines above",
    )
    rep.check("zero HTTP requests", stats["total"] == 0, f"{stats['total']} == 0")
    rep.check("time ratio", ratio <= TARGET, f"{ratio:.2f} <= {TARGET}")
    peak = max(rss) / 1024
    rep.check("peak RSS", peak <= RSS_TARGET_MIB, f"{peak:.1f} MiB <= {RSS_TARGET_MIB} MiB")
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
