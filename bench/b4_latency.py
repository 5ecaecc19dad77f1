"""B4: `syncd run` latency from "file written and closed" to "committed", settle 0.5 s.

Targets (product.md section 6): p50 <= settle + 0.3 s, p95 <= settle + 1 s.

`python -m syncd run` (JSON logs on stderr, parsed live) watches an empty folder; after its
initial `scan.finished`, 40 files of 4 KiB are written one after another, each only after the
previous one's `upload.completed` (timeout 10 s each). Latency = the `upload.completed` event's
ISO timestamp (UTC, stamped by syncd when it logs the line after the commit) minus
`time.time()` taken right after the file was closed. Same host, same clock.
Baseline: the configured settle time itself (the floor any settle-gated uploader has);
ratio = p50 / settle.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

SETTLE = 0.5


def main() -> int:
    args = c.parse_args(__doc__)
    n = 10 if args.quick else 40
    rep = c.Report("B4", f"syncd run: write+close -> committed, {n} files, settle {SETTLE} s")
    work = c.tempdir("b4")
    local = work / "tree"
    local.mkdir()
    state = work / "state"
    uuid = c.new_uuid()
    lat: list[float] = []
    timeouts = 0
    with c.EmulatorProc([uuid], log_dir=work) as emu:
        cfg = c.write_config(
            work / "syncd.json",
            api_base=emu.base_url,
            state_dir=state,
            mappings=[(local, uuid)],
            settle_seconds=SETTLE,
        )
        daemon = c.DaemonProc(cfg, work / "daemon.log").start()
        try:
            if daemon.wait_for(lambda e: e.get("event") == "scan.finished", 30) is None:
                raise RuntimeError(f"no scan.finished from syncd run (log {daemon.log_path})")
            for i in range(n):
                rel = f"file{i:03d}.bin"
                start_idx = len(daemon.events)
                with open(local / rel, "wb") as f:
                    f.write(os.urandom(4096))
                closed = time.time()
                hit = daemon.wait_for(
                    lambda e, rel=rel: (
                        e.get("event") == "upload.completed" and e.get("path") == rel
                    ),
                    10,
                    start_idx,
                )
                if hit is None:
                    timeouts += 1
                    rep.note(f"{rel}: no upload.completed within 10 s")
                    continue
                lat.append(c.iso_to_epoch(hit[1]["timestamp"]) - closed)
            stats = emu.stats()
        finally:
            code = daemon.stop()
    uploads = sum(1 for e in daemon.events if e.get("event") == "upload.completed")
    if not lat:
        raise RuntimeError("no latency measured")
    p50, p95, mx = c.percentile(lat, 50), c.percentile(lat, 95), max(lat)
    rep.figure("latency p50", f"{p50 * 1000:.0f} ms  (target <= {(SETTLE + 0.3) * 1000:.0f} ms)")
    rep.figure("latency p95", f"{p95 * 1000:.0f} ms  (target <= {(SETTLE + 1.0) * 1000:.0f} ms)")
    rep.figure("latency min / max", f"{min(lat) * 1000:.0f} ms / {mx * 1000:.0f} ms")
    rep.figure("ratio p50/settle", f"{p50 / SETTLE:.2f}  (target <= {(SETTLE + 0.3) / SETTLE:.2f})")
    rep.figure(
        "commits / upload.completed events",
        f"{stats['requests'].get('commit')} / "
        f"{uploads}  (daemon exit {code}, peak RSS {c.fmt_kib(daemon.maxrss_kib)})",
    )
    rep.check(
        "every file committed exactly once",
        timeouts == 0 and uploads == n and stats["requests"].get("commit") == n,
        f"{uploads} uploads, {stats['requests'].get('commit')} commits, {timeouts} timeouts",
    )
    rep.check("clean stop", code == 0, f"exit {code}")
    rep.check("p50", p50 <= SETTLE + 0.3, f"{p50:.3f} s <= {SETTLE + 0.3:.1f} s")
    rep.check("p95", p95 <= SETTLE + 1.0, f"{p95:.3f} s <= {SETTLE + 1.0:.1f} s")
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
