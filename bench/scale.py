"""Scale: B3, B9 and B11 at 10 k, 100 k and 1 M files (50 files per folder).

For each size, on one tree (built fast: empty files, os.open per file):
- `find DIR -type f -printf '%s %T@\\n'` (best of 2, warm cache): the baseline of B3/B9;
- the first `syncd sync --dry-run` (no state yet) against `rclone copy --dry-run` into an
  empty folder: B11 (time ratio, peak RSS, and the planning cost per file);
- a no-op `syncd sync` over a state seeded as after a complete sync (stat only): B3/B9 (time
  ratio to find, peak RSS), the state database's bytes per file;
- `syncd run` (1 M only, or --run): READY (from the notify socket), the reconcile's
  `scan.finished`, peak and idle RSS, RSS after ten full rescans, watches; `syncd status`.
Every syncd figure is the whole process (start-up included); RSS from wait4 or /proc.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
PER_FOLDER = 50


def build(root: Path, n: int) -> int:
    """n empty-ish files in n/50 folders; returns the folder count."""
    folders = max(1, n // PER_FOLDER)
    root.mkdir(parents=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for d in range(folders):
        dfd = os.open(root, os.O_RDONLY)
        name = f"d{d:05d}"
        os.mkdir(name, dir_fd=dfd)
        sub = os.open(name, os.O_RDONLY, dir_fd=dfd)
        os.close(dfd)
        for i in range(d, n, folders):
            os.close(os.open(f"f{i:07d}.bin", flags, 0o644, dir_fd=sub))
        os.close(sub)
    os.sync()
    return folders


def timed(cmd: list[str], **kw: object) -> tuple[float, int, int]:
    """(seconds, peak RSS KiB, exit code) of a whole process."""
    t0 = time.perf_counter()
    p = c.spawn_measured(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    code, rss, own = c.wait_measured(p)
    return (own if own is not None else time.perf_counter() - t0), rss, code


def best(cmd: list[str], rounds: int = 2) -> tuple[float, int, int]:
    runs = [timed(cmd) for _ in range(rounds)]
    return min(runs, key=lambda r: r[0])


def seed(state: Path, local: Path, uuid: str) -> int:
    """Records as a completed sync leaves them (stat only; the hash is not compared)."""
    from syncd.state.store import StateStore

    key = c.mapping_key(local, uuid)
    store = StateStore(state)
    store.set_dir_inode(key, "", os.stat(local).st_ino)
    rows = []
    for name in sorted(os.listdir(local)):
        store.set_dir_inode(key, name, os.stat(local / name).st_ino)
        dir_id = store.dir_id(key, name) or 0
        for f in os.listdir(local / name):
            st = os.stat(local / name / f)
            rows.append(
                (
                    dir_id,
                    f,
                    st.st_size,
                    st.st_mtime_ns,
                    st.st_ino,
                    b"\0" * 32,
                    "u" * 32,
                    "123456789012",
                    1,
                    0.0,
                )
            )
    store.close()
    db = sqlite3.connect(state / "state.db")
    with db:
        db.executemany("INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return len(rows)


def one_size(rep: c.Report, label: str, n: int, run_daemon: bool) -> None:
    work = c.tempdir(f"scale-{label}")
    local = work / "tree"
    t0 = time.perf_counter()
    folders = build(local, n)
    rep.figure(
        f"{label}: tree",
        f"{n:,} files in {folders:,} folders, built in {time.perf_counter() - t0:.1f} s",
    )
    find = ["find", str(local), "-type", "f", "-printf", "%s %T@\\n"]
    timed(find)
    f_s, _, _ = best(find)
    uuid = c.new_uuid()
    cfg = c.write_config(
        work / "syncd.json",
        api_base="http://127.0.0.1:9",
        state_dir=work / "state",
        mappings=[(local, uuid)],
    )
    dry_s, dry_rss, code = timed([*c.syncd_cmd("sync", cfg), "--dry-run"])
    (work / "empty").mkdir()
    rcl = ["rclone", "copy", "--dry-run", "--config", "/dev/null", str(local), str(work / "empty")]
    r_s, r_rss, _ = timed(rcl) if shutil.which("rclone") else (0.0, 0, 0)
    rep.figure(
        f"{label}: first sync --dry-run",
        f"{dry_s:.2f} s, peak RSS {c.fmt_kib(dry_rss)}, "
        f"{dry_s / n * 1e6:.1f} µs/file, exit {code}"
        + (
            f" | rclone copy --dry-run {r_s:.2f} s, {c.fmt_kib(r_rss)}: ratio {dry_s / r_s:.2f}"
            if r_s
            else ""
        ),
    )
    # seeded in a process of its own: a child forked by a big parent reports the parent's RSS
    # as its own peak (wait4's ru_maxrss counts the pages it inherited before exec)
    out = subprocess.run(
        [sys.executable, __file__, "--seed", str(work / "state"), str(local), uuid],
        capture_output=True,
        text=True,
        check=True,
    )
    seeded = int(out.stdout.strip())
    size = (work / "state" / "state.db").stat().st_size
    noop_s, noop_rss, code = best(c.syncd_cmd("sync", cfg))
    rep.figure(
        f"{label}: no-op sync",
        f"{noop_s:.2f} s ({noop_s / f_s:.2f} x find {f_s:.2f} s), "
        f"peak RSS {c.fmt_kib(noop_rss)}, exit {code}",
    )
    rep.figure(f"{label}: state", f"{size / seeded:.0f} bytes per file ({size / 2**20:.1f} MiB)")
    targets(rep, label, noop_s / f_s, noop_rss, dry_s / r_s if r_s else 0.0, dry_rss, code)
    if run_daemon:
        daemon_figures(rep, label, work, cfg, f_s)
    c.remove_tempdir(work)


def targets(
    rep: c.Report, label: str, noop: float, noop_rss: int, dry: float, dry_rss: int, code: int
) -> None:
    """product.md §6: B3 (100 k), B9 (1 M: no-op) and B11 (1 M: first dry-run)."""
    rep.check(
        f"{label}: no-op exit 0, no request", code == 0, f"exit {code} (the API is unreachable)"
    )
    if label == "100k":
        rep.check("B3 time", noop <= 2.5, f"{noop:.2f} x find <= 2.5")
        rep.check("B3 peak RSS", noop_rss <= 48 * 1024, f"{c.fmt_kib(noop_rss)} <= 48 MiB")
    if label == "1M":
        rep.check("B9 no-op time", noop <= 2.5, f"{noop:.2f} x find <= 2.5")
        rep.check("B9 no-op peak RSS", noop_rss <= 64 * 1024, f"{c.fmt_kib(noop_rss)} <= 64 MiB")
        if dry:
            rep.check("B11 time", dry <= 1.0, f"{dry:.2f} x rclone copy --dry-run <= 1.0")
        rep.check("B11 peak RSS", dry_rss <= 256 * 1024, f"{c.fmt_kib(dry_rss)} <= 256 MiB")


def daemon_figures(rep: c.Report, label: str, work: Path, cfg: Path, find_s: float) -> None:
    import json

    data = json.loads(cfg.read_text())
    data["sync"]["rescan_interval_seconds"] = 1
    cfg.write_text(json.dumps(data))
    sock_path = str(work / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(sock_path)
    server.settimeout(60)
    log = work / "run.log"
    t0 = time.perf_counter()
    with open(log, "w") as err:
        p = subprocess.Popen(
            c.syncd_cmd("run", cfg),
            stderr=err,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "NOTIFY_SOCKET": sock_path},
        )
    ready = None
    while ready is None:
        if b"READY=1" in server.recv(4096):
            ready = time.perf_counter() - t0
    server.close()
    scans: list[float] = []
    peak = first_rss = 0
    first = 0.0
    deadline = time.time() + 1200
    while len(scans) < 11 and time.time() < deadline and p.poll() is None:
        time.sleep(0.5)
        peak = max(peak, c.proc_status(p.pid).get("VmHWM", 0))
        evs = [e for e in c.read_json_lines(log) if e.get("event") == "scan.finished"]
        scans = [float(e["seconds"]) for e in evs]
        if scans and not first:
            first = time.perf_counter() - t0
            first_rss = c.proc_status(p.pid).get("VmRSS", 0)
    after = c.proc_status(p.pid).get("VmRSS", 0)
    st_s, _, _ = timed([sys.executable, "-m", "syncd", "status", "-c", str(cfg)])
    c.stop_process(p)
    rep.check("B9 run READY", ready <= 3.0, f"{ready:.2f} s <= 3 s")
    rep.check("B9 run reconcile", first / find_s <= 3.0, f"{first / find_s:.2f} x find <= 3")
    rep.check("B9 run peak RSS", peak <= 100 * 1024, f"{c.fmt_kib(peak)} <= 100 MiB")
    rep.check("B9 run RSS after rescans", after <= 100 * 1024, f"{c.fmt_kib(after)} <= 100 MiB")
    rep.figure(f"{label}: run READY", f"{ready:.2f} s")
    rep.figure(
        f"{label}: run reconcile",
        f"finished {first:.2f} s after start ({first / find_s:.2f} x find), scan {scans[0]:.2f} s",
    )
    rep.figure(
        f"{label}: run RSS",
        f"peak {c.fmt_kib(peak)}, after the reconcile {c.fmt_kib(first_rss)}, "
        f"after {len(scans) - 1} more rescans {c.fmt_kib(after)}",
    )
    rep.figure(f"{label}: status", f"{st_s:.2f} s")


def main() -> int:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--only", default="10k,100k,1M", help="sizes, e.g. 100k,1M")
        p.add_argument("--run", action="store_true", help="measure `run` at every size")

    args = c.parse_args(__doc__, extra=extra)
    sizes = ["10k"] if args.quick else [s for s in SIZES if s in args.only.split(",")]
    rep = c.Report("SCALE", "no-op sync, first dry-run and run at " + ", ".join(sizes))
    for label in sizes:
        one_size(rep, label, SIZES[label], run_daemon=label == "1M" or args.run)
    return rep.finish()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--seed"]:
        print(seed(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]))
        sys.exit(0)
    c.main_guard(main)
