"""B10: the per-app ceiling at any latency, with the default config.

Targets (product.md section 6): with the emulator adding 0, 50, 150 and 300 ms to every API
call (and OSS PUT) and enforcing 20 calls/s per API, 400 small files go at >= 18 files/s
(0.9 of the per-app ceiling) with the DEFAULT config — no `workers`, no `qps` set — and zero
throttled calls; syncd's peak RSS is reported (memory must stay bounded).

Baseline: the theoretical maximum, 20 files/s (each file needs one upload-info and one
commit, each API limited to 20 calls/s). files/s = files / wall time of `python -m syncd
sync` (start-up included). ratio = measured / 20.
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
    n_files, latencies = (100, [0, 150]) if args.quick else (400, [0, 50, 150, 300])
    rep = c.Report("B10", f"{n_files} x 4 KiB files, emulator --qps {QPS}, default config")
    ok = True
    for ms in latencies:
        work = c.tempdir(f"b10-{ms}")
        local = work / "tree"
        c.make_tree(local, n_files, 4, lambda i: os.urandom(4096))
        uuid = c.new_uuid()
        extra = ["--latency-ms", str(ms)]
        with c.EmulatorProc([uuid], qps=QPS, extra=extra, log_dir=work) as emu:
            cfg = c.write_config(
                work / "syncd.json",
                api_base=emu.base_url,
                state_dir=work / "state",
                mappings=[(local, uuid)],
                workers=None,
                qps=None,
            )
            run = c.run_syncd_sync(cfg, work / "syncd.log")
            stats = emu.stats()
        fin = run.event("sync.finished") or {}
        fps = n_files / run.wall
        good = run.returncode == 0 and fin.get("uploaded") == n_files
        rep.figure(
            f"{ms:>3} ms per call",
            f"{fps:5.2f} files/s (ratio {fps / QPS:.3f}), throttled {stats['throttled']}, "
            f"peak RSS {c.fmt_kib(run.maxrss_kib)}, exit {run.returncode}",
        )
        ok &= rep.check(f"{ms} ms: every file, exit 0", good, f"uploaded {fin.get('uploaded')}")
        ok &= rep.check(f"{ms} ms: files/s", fps >= TARGET_FPS, f"{fps:.2f} >= {TARGET_FPS}")
        ok &= rep.check(
            f"{ms} ms: zero throttled", stats["throttled"] == 0, f"{stats['throttled']}"
        )
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
