"""B6: emulator enforcing 20 calls/s per API; `syncd sync` of 400 x 4 KiB files.

Targets (product.md section 6): >= 18 files/s and zero throttled calls.

The emulator runs with `--qps 20` (per-API sliding one-second window, answered with the real
403 `Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`); syncd with `dingtalk.qps: 20`,
workers 8. The 400 files are spread over 4 folders. files/s = 400 / wall time of the
`python -m syncd sync` process (start-up included).
Baseline: the theoretical maximum, 20 files/s: every file needs one uploadInfos and one
commit call, and each of those APIs is limited to 20 calls/s. ratio = measured / 20.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

QPS = 20
TARGET_FPS = 18.0


def main() -> int:
    args = c.parse_args(__doc__)
    n_files, n_folders = (100, 2) if args.quick else (400, 4)
    rep = c.Report(
        "B6", f"emulator --qps {QPS}, {n_files} x 4 KiB files, syncd qps {QPS}, workers 8"
    )
    work = c.tempdir("b6")
    local = work / "tree"
    c.make_tree(local, n_files, n_folders, lambda i: os.urandom(4096))
    uuid = c.new_uuid()
    with c.EmulatorProc([uuid], qps=QPS, log_dir=work) as emu:
        cfg = c.write_config(
            work / "syncd.json",
            api_base=emu.base_url,
            state_dir=work / "state",
            mappings=[(local, uuid)],
            qps=QPS,
        )
        run = c.run_syncd_sync(cfg, work / "syncd.log")
        stats = emu.stats()
    fin = run.event("sync.finished") or {}
    fps = n_files / run.wall
    ratio = fps / QPS
    rep.figure(
        "syncd",
        f"{fps:.2f} files/s  (wall {run.wall:.2f} s, sync.finished "
        f"{fin.get('seconds')} s, exit {run.returncode}, uploaded {fin.get('uploaded')})",
    )
    rep.figure("theoretical max (baseline)", f"{QPS:.2f} files/s steady state")
    rep.note(
        f"(a sliding window lets the first {QPS} calls of each API start at once, so a "
        f"finite run can beat {QPS}/s: for {n_files} files the bound is "
        f"{n_files * QPS / (n_files - QPS):.2f} files/s)"
    )
    rep.figure("ratio measured/max", f"{ratio:.3f}  (target >= {TARGET_FPS / QPS:.2f})")
    rep.figure("emulator requests", f"{stats['requests']}")
    rep.figure(
        "emulator throttled",
        f"{stats['throttled']}  (403 statuses: "
        f"{ {ep: s.get('403') for ep, s in stats['status'].items() if s.get('403')} })",
    )
    commits_ok = stats["status"].get("commit", {}).get("200", 0)
    ok = run.returncode == 0 and fin.get("uploaded") == n_files and commits_ok == n_files
    rep.check(
        "every file committed once, exit 0",
        ok,
        f"{commits_ok} successful commits ({stats['requests'].get('commit')} commit "
        f"requests), uploaded {fin.get('uploaded')}, exit {run.returncode}",
    )
    rep.check("zero throttled calls", stats["throttled"] == 0, f"{stats['throttled']} == 0")
    rep.check("files/s", fps >= TARGET_FPS, f"{fps:.2f} >= {TARGET_FPS}")
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
