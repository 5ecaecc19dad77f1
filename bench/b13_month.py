"""B13: a simulated month on the emulator with `--monthly-quota` and a share that keeps growing.

Target (product.md section 6, section 4.11): never over the quota; everything that fits lands;
the rest is pending (never failed) and lands after the month's reset with no duplicate; calls
after the quota answer <= 1 per probe interval (one per `sync`).

The emulator's org quota is Q metered calls a month (`--monthly-quota Q`; it answers 403
`Forbidden.AccessDenied.ApiCountLimitForOrg` past it). Each "day" D new files are written into
the share (a new folder a day) and one real `python -m syncd sync` runs, as a cron job would.
Counted on the emulator's own meter (`/_emulator/stats` "metered": total, refused). Then a new
month (`POST /_emulator/reset-month`, the quota stays Q, enough for the rest) and one more
`sync`: every file must be there, each once, byte-identical (the emulator's sha256), at
version 1.
Baseline: the calls the workload needs at the protocol minimum (2 per file + 1 per folder +
the root's 2), computed in the same run: what lands in the first month is compared with what
the quota can pay for at that minimum (ratio landed / fits, goal >= 0.95).
"""

from __future__ import annotations

import hashlib
import sys
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c


def metered(emu: c.EmulatorProc) -> dict[str, Any]:
    return dict(emu.stats()["metered"])


def files_of(emu: c.EmulatorProc, uuid: str) -> dict[str, str]:
    """path -> sha256 of every file under the root (from /_emulator/tree)."""
    out: dict[str, str] = {}  # a duplicate (name(1).txt, a second version) shows as a mismatch

    def walk(node: dict[str, Any], prefix: str) -> None:
        for child in node.get("children", []):
            path = f"{prefix}{child['name']}"
            if child.get("type") == "FOLDER" or "children" in child:
                walk(child, path + "/")
            else:
                out[path] = str(child.get("sha256") or "") + f"@v{child.get('version')}"

    root = next(r for r in emu.tree()["roots"] if r["uuid"] == uuid)
    walk(root, "")
    return out


def main() -> int:
    args = c.parse_args(__doc__)
    days, per_day, quota = (5, 10, 60) if args.quick else (20, 25, 600)
    rep = c.Report(
        "B13",
        f"a month of {days} daily syncs, {per_day} new files a day, org quota {quota} calls",
    )
    work = c.tempdir("b13")
    local = work / "share"
    local.mkdir()
    uuid = c.new_uuid()
    written: dict[str, bytes] = {}
    probes_ok, failed, over = True, 0, False
    extra = ["--monthly-quota", str(quota)]
    with c.EmulatorProc([uuid], log_dir=work, extra=extra) as emu:
        cfg = c.write_config(
            work / "syncd.json",
            api_base=emu.base_url,
            state_dir=work / "state",
            mappings=[(local, uuid)],
            workers=4,
        )
        exhausted_day = 0
        for day in range(1, days + 1):
            folder = local / f"day{day:02}"
            folder.mkdir()
            for i in range(per_day):
                rel = f"day{day:02}/f{i:03}.txt"
                written[rel] = b"day %d file %d\n" % (day, i)
                (local / rel).write_bytes(written[rel])
            before = metered(emu)
            run = c.run_syncd_sync(cfg, work / f"syncd-day{day:02}.log")
            after = metered(emu)
            fin = run.event("sync.finished") or {}
            failed += int(fin.get("failed") or 0)
            over = over or after["total"] > quota
            refused = after["refused"] - before["refused"]
            sent = after["total"] - before["total"] + refused
            if exhausted_day and sent > 1:
                probes_ok = False
            if not exhausted_day and after["refused"]:
                exhausted_day = day
            rep.figure(
                f"day {day:02}",
                f"metered {after['total'] - before['total']:4}, refused {refused}, "
                f"uploaded {fin.get('uploaded')}, pending {fin.get('pending')}, "
                f"exit {run.returncode}",
            )
        first_month = metered(emu)["total"]
        landed_month1 = len(files_of(emu, uuid))
        req = urllib.request.Request(emu.base_url + "/_emulator/reset-month", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass
        run = c.run_syncd_sync(cfg, work / "syncd-next-month.log")
        remote = files_of(emu, uuid)
        fin = run.event("sync.finished") or {}
    need = 2 * len(written) + days + 2
    fits = min(len(written), max(0, (quota - 2 - exhausted_day) // 2))
    ratio = landed_month1 / fits if fits else 0.0
    rep.figure("first month: metered / quota", f"{first_month} / {quota} (workload needs {need})")
    rep.figure("landed in the first month", f"{landed_month1} files (fit at the minimum ≈ {fits})")
    rep.figure("ratio landed / fits (goal >= 0.95)", f"{ratio:.3f}")
    rep.figure(
        "next month",
        f"uploaded {fin.get('uploaded')}, pending {fin.get('pending')}, exit {run.returncode}",
    )
    expected = {p: hashlib.sha256(b).hexdigest() + "@v1" for p, b in written.items()}
    rep.check("never over the quota", not over, f"{first_month} <= {quota}")
    rep.check("no file failed", failed == 0, f"{failed} failed")
    rep.check("<= 1 call per sync after the quota answer", probes_ok, f"from day {exhausted_day}")
    rep.check("what fits lands", ratio >= 0.95, f"{ratio:.3f} >= 0.95")
    landed_ok = remote == expected
    missing = len(set(expected) - set(remote))
    extra_files = len(set(remote) - set(expected))
    rep.check(
        "the rest lands next month, no duplicate",
        landed_ok,
        f"{len(remote)} remote files for {len(expected)} local; {missing} missing, "
        f"{extra_files} extra",
    )
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
