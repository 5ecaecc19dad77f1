"""B8: rename a folder holding 500 files while `syncd run` watches.

Targets (product.md section 6, section 4.8 "Renames/moves"): <= 3 API calls, zero uploads,
remote updated within settle + 1 s.

`python -m syncd run` (settle 2 s, the default; JSON logs on stderr, parsed live) uploads a
folder `project-a` of 500 small files; once every file is committed and the start-up
`scan.finished` is logged, the folder is renamed with `os.rename` (a -> b, then b -> a, ...),
5 rounds. Each round:
- latency = the first moment the emulator's tree (`/_emulator/tree`, polled every 25 ms; that
  route is not counted as a request) shows the folder under its new name, with its 500 files
  and its old uuid, and no folder under the old name - minus `time.time()` right after the
  rename. It is an upper bound: one poll of a 500-file tree takes some 25-40 ms, so each
  round prints "remote LO-HI ms": the last poll that still saw the old name was sent at LO,
  the first that saw the new one had its answer at HI. The `folder.moved` log line's
  timestamp (logged by syncd once the rename call returned) is shown too;
- calls = every request the emulator counted (`/_emulator/stats`: every API endpoint plus OSS
  PUTs, the token call included), from just before the rename until settle + 1.5 s after the
  `folder.moved` line (so calls made after the remote already shows the new name, such as a
  stray upload, count too). The calls made until the remote showed the new name are shown
  apart. Uploads = uploadInfo + OSS PUT + commit requests, and `upload.completed` lines.
Baseline: the configured settle time (what any settle-gated daemon may wait before acting);
ratio = median latency / (settle + 1 s), target <= 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

SETTLE = 2.0
MAX_CALLS = 3
POLL = 0.025
UPLOAD_ENDPOINTS = ("uploadInfo", "oss", "commit")
NAMES = ("project-a", "project-b")


def diff(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    """Requests per endpoint between two ``/_emulator/stats`` snapshots (non-zero only)."""
    a, b = after["requests"], before["requests"]
    out = {ep: a.get(ep, 0) - b.get(ep, 0) for ep in sorted(set(a) | set(b))}
    return {ep: n for ep, n in out.items() if n}


def fmt_calls(calls: dict[str, int]) -> str:
    return f"{sum(calls.values())} ({', '.join(f'{k} {v}' for k, v in calls.items()) or '-'})"


def remote_folders(emu: c.EmulatorProc, root_uuid: str) -> dict[str, tuple[str, int]]:
    """The root's child folders: name -> (uuid, number of files directly in it)."""
    root = next(r for r in emu.tree()["roots"] if r["uuid"] == root_uuid)
    return {
        ch["name"]: (ch["uuid"], sum(1 for g in ch.get("children", ()) if g["type"] == "FILE"))
        for ch in root.get("children", ())
        if ch["type"] == "FOLDER"
    }


def wait_remote(
    emu: c.EmulatorProc, root_uuid: str, new: str, old: str, uuid: str, n: int, timeout: float
) -> tuple[float | None, float]:
    """Poll until the remote shows folder `new` (same uuid, n files) and no `old`.

    Returns (the time.time() when the first poll that saw it had its answer, or None after
    `timeout` s; the time.time() when the last poll that did not see it was sent): the
    remote changed between the two.
    """
    deadline = time.monotonic() + timeout
    not_yet = time.time()
    while time.monotonic() < deadline:
        sent = time.time()
        folders = remote_folders(emu, root_uuid)
        seen = time.time()
        if folders.get(new) == (uuid, n) and old not in folders:
            return seen, not_yet
        not_yet = sent
        time.sleep(POLL)
    return None, not_yet


def moved_to(path: str) -> Callable[[dict[str, Any]], bool]:
    def pred(e: dict[str, Any]) -> bool:
        return e.get("event") == "folder.moved" and e.get("path") == path

    return pred


def alive(daemon: c.DaemonProc) -> bool:
    return daemon.proc is not None and daemon.proc.poll() is None


def extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=None, help="renames (default 5, quick 3)")
    parser.add_argument(
        "--settle", type=float, default=SETTLE, help="sync.settle_seconds (default %(default)s)"
    )


def main() -> int:
    args = c.parse_args(__doc__, extra=extra)
    n = 50 if args.quick else 500
    rounds = args.rounds or (3 if args.quick else 5)
    settle = args.settle
    rep = c.Report(
        "B8", f"syncd run: rename a folder of {n} files, settle {settle:g} s, {rounds} rounds"
    )
    work = c.tempdir("b8")
    local = work / "tree"
    (local / NAMES[0]).mkdir(parents=True)
    for i in range(n):
        (local / NAMES[0] / f"f{i:04d}.txt").write_bytes(b"b8 file %d\n" % i)
    os.sync()
    uuid = c.new_uuid()
    lat: list[float] = []
    lat_log: list[float] = []
    totals: list[int] = []
    failures: list[str] = []
    all_calls: dict[str, int] = {}
    uploads_total = 0
    with c.EmulatorProc([uuid], log_dir=work) as emu:
        cfg = c.write_config(
            work / "syncd.json",
            api_base=emu.base_url,
            state_dir=work / "state",
            mappings=[(local, uuid)],
            settle_seconds=settle,
        )
        daemon = c.DaemonProc(cfg, work / "daemon.log").start()
        try:
            t0 = time.perf_counter()
            if daemon.wait_for(lambda e: e.get("event") == "scan.finished", 120) is None:
                raise RuntimeError(f"no scan.finished from syncd run (log {daemon.log_path})")
            deadline = time.monotonic() + 120
            while remote_folders(emu, uuid).get(NAMES[0], ("", 0))[1] < n:
                if time.monotonic() > deadline or not alive(daemon):
                    raise RuntimeError(f"initial upload incomplete (log {daemon.log_path})")
                time.sleep(0.2)
            folder_uuid = remote_folders(emu, uuid)[NAMES[0]][0]
            time.sleep(settle + 1.0)  # let the initial pass go quiet
            rep.figure(
                "initial upload by run",
                f"{n} files in {time.perf_counter() - t0:.1f} s "
                f"({emu.stats()['requests'].get('commit')} commits)",
            )
            for r in range(rounds):
                old, new = NAMES[r % 2], NAMES[(r + 1) % 2]
                start_idx = len(daemon.events)
                s0 = emu.stats()
                os.rename(local / old, local / new)
                renamed = time.time()
                seen, not_yet = wait_remote(emu, uuid, new, old, folder_uuid, n, settle + 15)
                s_seen = emu.stats()
                hit = daemon.wait_for(moved_to(new), settle + 15, start_idx)
                time.sleep(settle + 1.5)  # anything the rename still sets off is counted
                s1 = emu.stats()
                calls = diff(s1, s0)
                early = diff(s_seen, s0)
                ups = sum(calls.get(ep, 0) for ep in UPLOAD_ENDPOINTS)
                ups += sum(
                    1 for e in daemon.events[start_idx:] if e.get("event") == "upload.completed"
                )
                uploads_total += ups
                totals.append(sum(calls.values()))
                for ep, k in calls.items():
                    all_calls[ep] = all_calls.get(ep, 0) + k
                if seen is None:
                    failures.append(f"round {r + 1}: remote never showed {new}")
                else:
                    lat.append(seen - renamed)
                if hit is None:
                    failures.append(f"round {r + 1}: no folder.moved for {new}")
                else:
                    lat_log.append(c.iso_to_epoch(hit[1]["timestamp"]) - renamed)
                moved = hit[1] if hit else {}
                rep.figure(
                    f"round {r + 1}: {old} -> {new}",
                    (
                        f"remote {max(0.0, not_yet - renamed) * 1000:.0f}-"
                        f"{(seen - renamed) * 1000:.0f} ms"
                        if seen
                        else "remote: TIMEOUT"
                    )
                    + (
                        f", folder.moved {lat_log[-1] * 1000:.0f} ms (calls "
                        f"{moved.get('calls')}, files {moved.get('files')})"
                        if hit
                        else ", no folder.moved"
                    ),
                )
                rep.figure(
                    "",
                    f"calls {fmt_calls(calls)}; until remote updated {fmt_calls(early)}; "
                    f"uploads {ups}",
                )
            stats = emu.stats()
        finally:
            code = daemon.stop()
    final = stats["requests"]
    if not lat:
        raise RuntimeError(f"no round completed: {failures}")
    budget = settle + 1.0
    p50 = c.median(lat)
    rep.figure(
        "latency rename -> remote (median)",
        f"{p50 * 1000:.0f} ms  (max {max(lat) * 1000:.0f} ms; target <= {budget * 1000:.0f} ms)",
    )
    if lat_log:
        rep.figure("rename -> folder.moved (median)", f"{c.median(lat_log) * 1000:.0f} ms")
    rep.figure("ratio latency/(settle+1)", f"{p50 / budget:.3f}  (target <= 1)")
    rep.figure(
        "API calls per rename (median, max)",
        f"{c.median(totals):g}, {max(totals)}  (target <= {MAX_CALLS}; all rounds: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(all_calls.items())) or '-'})",
    )
    rep.figure(
        "emulator requests, whole run",
        f"{stats['total']}  (commits {final.get('commit')}, daemon exit {code}, "
        f"peak RSS {c.fmt_kib(daemon.maxrss_kib)})",
    )
    for f in failures:
        rep.note(f)
    if failures:
        rep.note(f"syncd log: {daemon.log_path}")
    rep.check(
        "every rename seen remotely (same folder uuid, all files)",
        not failures,
        f"{len(lat)}/{rounds} rounds" + (f"; {failures[0]}" if failures else ""),
    )
    rep.check("clean stop", code == 0, f"exit {code}")
    rep.check("zero uploads", uploads_total == 0, f"{uploads_total} over {rounds} renames")
    rep.check(
        "API calls per rename",
        max(totals) <= MAX_CALLS,
        f"max {max(totals)} <= {MAX_CALLS} (per round: {', '.join(map(str, totals))})",
    )
    rep.check(
        "remote updated within settle + 1 s",
        max(lat) <= budget,
        f"max {max(lat):.3f} s, median {p50:.3f} s <= {budget:.1f} s",
    )
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
