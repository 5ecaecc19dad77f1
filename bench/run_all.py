"""Run every syncd benchmark (B1-B13) one after another and summarise.

    python bench/run_all.py [--quick] [--keep] [--only b1,b3]

Benchmarks never run in parallel: they measure CPU-bound work on a small machine. Each one's
output is shown as it runs; the summary lists each RESULT line. Exit 0 when all passed, 1
when any failed, 2 when any could not run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    "b1_initial_sync",
    "b2_large_file",
    "b3_rescan_unchanged",
    "b4_latency",
    "b5_idle",
    "b6_throttled",
    "b6s_shared_budget",
    "b7_adopt",
    "b8_folder_rename",
    "b10_latency_ceiling",
    "b12_metered_calls",
    "b13_month",
    "scale",  # B9 and B11: a million files (several minutes; --quick: 10,000)
]


def _cpu_times() -> tuple[int, int]:
    """(idle + iowait, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


def wait_quiet(idle: float = 0.9, limit: float = 60.0) -> float:
    """Wait until the CPUs were at least `idle` idle over one second (at most `limit` s).

    So a script never starts while the previous one's tail (an emulator exiting, a 1 GiB
    file's pages being freed) still runs. It does not remove this machine's own noise: the
    same no-op scan of 100,000 files takes 0.67-1.03 s from one run to the next with the
    CPUs otherwise idle. Returns the time waited.
    """
    started = time.monotonic()
    while time.monotonic() - started < limit:
        idle0, total0 = _cpu_times()
        time.sleep(1.0)
        idle1, total1 = _cpu_times()
        if total1 > total0 and (idle1 - idle0) / (total1 - total0) >= idle:
            break
    return time.monotonic() - started - 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--keep", action="store_true", help="keep temp dirs")
    parser.add_argument("--only", default="", help="comma-separated prefixes, e.g. b1,b3")
    args = parser.parse_args()
    wanted = [
        b
        for b in BENCHES
        if not args.only or any(b.startswith(p.strip()) for p in args.only.split(","))
    ]
    passthrough = [f for f, on in (("--quick", args.quick), ("--keep", args.keep)) if on]
    summary: list[tuple[str, int, float, str]] = []
    for name in wanted:
        waited = wait_quiet()
        if waited >= 1:
            print(f"   (waited {waited:.0f} s for the machine to be quiet after the last one)")
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, str(HERE / f"{name}.py"), *passthrough],
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        result = ""
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                if line.startswith("RESULT "):
                    result = line.strip()
            code = proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait(30)
            raise
        summary.append((name, code, time.monotonic() - started, result or f"exit {code}"))
        print()
    print("== summary")
    for name, _code, secs, result in summary:
        print(f"   {name:<22} {secs:6.1f} s  {result}")
    codes = {code for _, code, _, _ in summary}
    return 0 if codes <= {0} else (1 if codes <= {0, 1} else 2)


if __name__ == "__main__":
    sys.exit(main())
