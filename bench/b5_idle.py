"""B5: `syncd run` idle, watching 100,000 files in 2,000 folders.

Targets (product.md section 6): RSS <= 120 MiB; <= 0.3 s CPU per idle minute.

The state store is seeded as in B3, so the start-up reconcile scan uploads nothing. After
syncd's `scan.finished`, the idle window starts (60 s; 30 s with --quick): CPU = utime+stime
of the syncd process from /proc/PID/stat over the window; RSS = VmRSS at the end; VmHWM (the
peak, which includes the start-up scan) is reported as well.

Baseline (in the same run, over the same window): a bare Python process that imports
watchdog and schedules the same recursive observer with the same event filter on the same
tree, then sleeps: the cost of watching alone. The ratios to it are printed for information;
PASS/FAIL is against the absolute targets (the baseline's idle CPU is close to zero, so a
CPU ratio would mostly measure noise).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

RSS_TARGET_MIB = 120
CPU_TARGET_PER_MIN = 0.3
SETTLE = 2.0

WATCH_ONLY = r"""
import sys, time
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from syncd.local.watcher import WATCHED_EVENTS
obs = Observer()
obs.daemon = True
obs.start()
obs.schedule(FileSystemEventHandler(), sys.argv[1], recursive=True, event_filter=WATCHED_EVENTS)
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


def main() -> int:
    args = c.parse_args(__doc__)
    n_files, n_folders, window = (10_000, 200, 30.0) if args.quick else (100_000, 2000, 60.0)
    rep = c.Report(
        "B5",
        f"syncd run idle, watching {n_files:,} files in {n_folders:,} "
        f"folders, {window:.0f} s window",
    )
    work = c.tempdir("b5")
    local = work / "tree"
    t0 = time.perf_counter()
    rels = c.make_tree(local, n_files, n_folders, lambda i: b"%d\n" % i)
    written = time.time()
    state = work / "state"
    uuid = c.new_uuid()
    seeded = c.seed_state(state, local, uuid, rels)
    rep.figure(
        "tree created and state seeded", f"{seeded:,} records, {time.perf_counter() - t0:.1f} s"
    )
    # files younger than settle_seconds go through the settle gate after the scan: start the
    # daemon only once the whole tree is older than that, so the scan is the whole start-up
    time.sleep(max(0.0, written + SETTLE + 0.5 - time.time()))
    with c.EmulatorProc([uuid], log_dir=work) as emu:
        cfg = c.write_config(
            work / "syncd.json",
            api_base=emu.base_url,
            state_dir=state,
            mappings=[(local, uuid)],
            workers=4,
            settle_seconds=SETTLE,
        )
        daemon = c.DaemonProc(cfg, work / "daemon.log").start()
        base = None
        try:
            t_start = time.perf_counter()
            hit = daemon.wait_for(lambda e: e.get("event") == "scan.finished", 180)
            if hit is None:
                raise RuntimeError(f"no scan.finished from syncd run (log {daemon.log_path})")
            scan = hit[1]
            rep.figure(
                "syncd start-up scan",
                f"{scan.get('seconds')} s in scan.finished, "
                f"{time.perf_counter() - t_start:.1f} s from start; files "
                f"{scan.get('files')}, changed {scan.get('changed')}",
            )
            base = c.spawn([c.PY, "-c", WATCH_ONLY, str(local)], stdout=subprocess.PIPE, text=True)
            assert base.stdout is not None
            if base.stdout.readline().strip() != "ready":
                raise RuntimeError("the watch-only baseline did not start")
            time.sleep(1.0)  # let both settle after the baseline's start-up
            cpu0_s, cpu0_b = c.proc_cpu_seconds(daemon.pid), c.proc_cpu_seconds(base.pid)
            ns0_s, ns0_b = c.proc_cpu_ns(daemon.pid), c.proc_cpu_ns(base.pid)
            w0 = time.perf_counter()
            time.sleep(window)
            cpu1_s, cpu1_b = c.proc_cpu_seconds(daemon.pid), c.proc_cpu_seconds(base.pid)
            ns1_s, ns1_b = c.proc_cpu_ns(daemon.pid), c.proc_cpu_ns(base.pid)
            elapsed = time.perf_counter() - w0
            threads = len(os.listdir(f"/proc/{daemon.pid}/task"))
            st_s, st_b = c.proc_status(daemon.pid), c.proc_status(base.pid)
            idle_events = [e.get("event") for e in daemon.events[hit[0] + 1 :]]
            stats = emu.stats()
        finally:
            code = daemon.stop()
            if base is not None:
                c.stop_process(base)
    cpu_s = (cpu1_s - cpu0_s) * 60.0 / elapsed
    cpu_b = (cpu1_b - cpu0_b) * 60.0 / elapsed
    rss_s, hwm_s = st_s["VmRSS"] / 1024, st_s["VmHWM"] / 1024
    rss_b, hwm_b = st_b["VmRSS"] / 1024, st_b["VmHWM"] / 1024
    rep.figure(
        "syncd idle CPU (utime+stime)",
        f"{cpu1_s - cpu0_s:.2f} s over {elapsed:.1f} s = "
        f"{cpu_s:.3f} s/min  (target <= {CPU_TARGET_PER_MIN})",
    )
    rep.figure(
        "syncd idle CPU (schedstat, ns)",
        f"{(ns1_s - ns0_s) / 1e6:.2f} ms = "
        f"{(ns1_s - ns0_s) / 1e9 * 60 / elapsed * 1000:.2f} ms/min over {threads} threads",
    )
    rep.figure(
        "syncd VmRSS at end / VmHWM",
        f"{rss_s:.1f} MiB / {hwm_s:.1f} MiB  (target RSS <= {RSS_TARGET_MIB})",
    )
    rep.figure(
        "baseline (watchdog only) idle CPU",
        f"{cpu1_b - cpu0_b:.2f} s = {cpu_b:.3f} s/min (schedstat {(ns1_b - ns0_b) / 1e6:.2f} ms)",
    )
    rep.figure("baseline VmRSS / VmHWM", f"{rss_b:.1f} MiB / {hwm_b:.1f} MiB")
    rep.figure("ratio syncd/baseline RSS", f"{rss_s / rss_b:.2f}")
    rep.figure(
        "ratio syncd/baseline CPU (schedstat)",
        f"{(ns1_s - ns0_s) / (ns1_b - ns0_b):.1f}" if ns1_b > ns0_b else "n/a",
    )
    rep.figure(
        "ratio to target RSS / CPU",
        f"{rss_s / RSS_TARGET_MIB:.2f} / {cpu_s / CPU_TARGET_PER_MIN:.2f}  (<= 1 passes)",
    )
    rep.figure("log events during the window", str(idle_events))
    uploads = sum(1 for e in daemon.events if e.get("event") == "upload.completed")
    # `run` gets a token before READY=1 (rejected credentials fail fast): that one call only
    others = {k: v for k, v in stats["requests"].items() if k != "token"}
    rep.check(
        "start-up uploads nothing",
        uploads == 0 and not others and stats["requests"].get("token", 0) <= 1,
        f"{uploads} uploads, HTTP requests {stats['requests']} (the token only; scan changed "
        f"{scan.get('changed')})",
    )
    rep.check("clean stop", code == 0, f"exit {code}")
    rep.check("idle RSS", rss_s <= RSS_TARGET_MIB, f"{rss_s:.1f} MiB <= {RSS_TARGET_MIB} MiB")
    rep.check(
        "idle CPU per minute",
        cpu_s <= CPU_TARGET_PER_MIN,
        f"{cpu_s:.3f} s <= {CPU_TARGET_PER_MIN} s",
    )
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
