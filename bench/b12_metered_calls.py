"""B12: metered API calls on a mixed workload against the protocol minimum.

Target (product.md section 6, section 4.11): metered calls = the protocol minimum (2 per new
or changed file, 1 per new folder, 1 per rename, 0 for a no-op): ratio 1.00 (rclone averages
3-4 calls per uploaded file, rclone issue 6995).

The emulator runs with a monthly quota too large to refuse anything (`--monthly-quota`), so it
meters every call it charges (`/_emulator/stats` "metered": token and contact calls exempt,
OSS PUTs no API call). These are the emulator's own counters, not syncd's, and calls are
counted, not timed. Four real `python -m syncd sync` runs, one per phase:
1. new: N files in F new folders under the mapping's root (the first sync also resolves the
   root once, queryDentryId, and lists it once for adoption: it is a remote folder that
   exists and may hold twins; both count in its minimum);
2. no-op: the same tree again;
3. changed: C files rewritten (a longer content);
4. renamed: R files renamed in place.
Baseline: the protocol minimum of each phase, computed from the workload in the same run
(section 15.1's costs); ratio = metered / minimum, overall and per phase.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

UNLIMITED = "1000000000"


def metered(emu: c.EmulatorProc) -> dict[str, Any]:
    return dict(emu.stats().get("metered") or {"total": 0, "by_endpoint": {}})


def delta(after: dict[str, Any], before: dict[str, Any]) -> tuple[int, dict[str, int]]:
    a, b = after["by_endpoint"], before["by_endpoint"]
    by = {ep: a.get(ep, 0) - b.get(ep, 0) for ep in sorted(set(a) | set(b))}
    return after["total"] - before["total"], {ep: n for ep, n in by.items() if n}


def main() -> int:
    args = c.parse_args(__doc__)
    n_folders, per_folder, changed, renamed = (3, 10, 5, 2) if args.quick else (10, 50, 100, 20)
    n_files = n_folders * per_folder
    rep = c.Report(
        "B12",
        f"metered calls: {n_files} new files in {n_folders} new folders, {changed} changed, "
        f"{renamed} renamed, a no-op",
    )
    work = c.tempdir("b12")
    local = work / "tree"
    for d in range(n_folders):
        (local / f"d{d:02}").mkdir(parents=True)
        for i in range(per_folder):
            (local / f"d{d:02}" / f"f{i:03}.txt").write_bytes(b"b12 %d %d\n" % (d, i))
    uuid = c.new_uuid()
    minimum = {
        "new": 2 * n_files + n_folders + 1 + 1,  # + the root's queryDentryId and one listing
        "no-op": 0,
        "changed": 2 * changed,
        "renamed": renamed,
    }
    got: dict[str, int] = {}
    with c.EmulatorProc([uuid], log_dir=work, extra=["--monthly-quota", UNLIMITED]) as emu:
        cfg = c.write_config(
            work / "syncd.json",
            api_base=emu.base_url,
            state_dir=work / "state",
            mappings=[(local, uuid)],
        )

        def phase(name: str) -> None:
            before = metered(emu)
            run = c.run_syncd_sync(cfg, work / f"syncd-{name}.log")
            total, by = delta(metered(emu), before)
            got[name] = total
            rep.figure(
                f"{name}: metered calls",
                f"{total} (minimum {minimum[name]}; exit {run.returncode}) "
                + " ".join(f"{k} {v}" for k, v in by.items()),
            )
            if run.returncode != 0:
                raise RuntimeError(f"sync failed in phase {name}: log {run.log_path}")

        phase("new")
        phase("no-op")
        files = sorted(local.rglob("*.txt"))
        for p in files[:changed]:
            p.write_bytes(p.read_bytes() + b"changed, and longer\n")
        phase("changed")
        for p in files[changed : changed + renamed]:
            p.rename(p.with_name("renamed-" + p.name))
        phase("renamed")
    total, least = sum(got.values()), sum(minimum.values())
    ratio = total / least
    rep.figure("total metered / protocol minimum", f"{total} / {least}")
    rep.figure("ratio (goal 1.00)", f"{ratio:.3f}")
    uploaded = n_files + changed
    rep.figure(
        "calls per uploaded file", f"{(got['new'] + got['changed']) / uploaded:.2f} (rclone 3-4)"
    )
    for name in minimum:
        rep.check(
            f"{name} at the minimum", got[name] <= minimum[name], f"{got[name]} <= {minimum[name]}"
        )
    rep.check("ratio", ratio <= 1.0, f"{ratio:.3f} <= 1.00")
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
