"""Shared helpers for the syncd benchmarks (``bench/bN_*.py``, product.md section 6).

Every benchmark runs the emulator and syncd as *separate processes* (``python -m syncd ...``),
the way a user would, so neither shares the GIL with the other or with this script. Helpers:

- temp dirs and child processes that are always cleaned up (atexit, SIGTERM/SIGHUP, finally);
- :class:`EmulatorProc`: ``python -m syncd emulator --port 0 ...`` with its URLs parsed from the
  first line it prints, and ``/_emulator/stats``;
- :func:`write_config`, :func:`make_tree`, :func:`seed_state` (a state store as a completed
  initial sync would have left it);
- :func:`run_syncd_sync` (wall time, exit code and peak RSS via ``wait4``),
  :class:`DaemonProc` (``syncd run`` with its JSON log events parsed live);
- ``/proc`` readers (VmRSS, VmHWM, utime+stime) and a small :class:`Report` that prints the
  figures, the ratio to the in-run baseline and PASS/FAIL.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The interpreter that has syncd installed; by default the one running the benchmark.
PY = os.environ.get("SYNCD_BENCH_PYTHON") or sys.executable
APP_KEY = "emulator-app-key"
APP_SECRET = "emulator-app-secret"
UNION_ID = "emulator-union-id"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024

# -- cleanup -------------------------------------------------------------------------------

_children: list[subprocess.Popen[Any]] = []
_tempdirs: list[Path] = []
KEEP_TEMP = False


def _cleanup() -> None:
    for p in list(_children):
        stop_process(p, timeout=5)
    if not KEEP_TEMP:
        for d in list(_tempdirs):
            shutil.rmtree(d, ignore_errors=True)
            _tempdirs.remove(d)
    elif _tempdirs:
        print(f"(kept temp dirs: {' '.join(map(str, _tempdirs))})", file=sys.stderr)


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally, then atexit


atexit.register(_cleanup)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def tempdir(tag: str) -> Path:
    """A new temp dir, removed at exit (also on error or SIGTERM)."""
    base = os.environ.get("SYNCD_BENCH_TMP") or None
    path = Path(tempfile.mkdtemp(prefix=f"syncd-bench-{tag}-", dir=base))
    _tempdirs.append(path)
    return path


def remove_tempdir(path: Path) -> None:
    if path in _tempdirs and not KEEP_TEMP:
        shutil.rmtree(path, ignore_errors=True)
        _tempdirs.remove(path)


def spawn(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a child process that is stopped at exit if still running."""
    p = subprocess.Popen(list(args), **kwargs)
    _children.append(p)
    return p


def stop_process(
    p: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 10.0
) -> int | None:
    """Stop one child by its pid (signal, wait, then SIGKILL); return its exit code."""
    try:
        if p.returncode is None and p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            except ProcessLookupError:
                pass
    finally:
        if p in _children:
            _children.remove(p)
    return p.returncode


_RSS_FILES: dict[int, Path] = {}


def spawn_measured(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Like `spawn`, through `_rusage.py`, so that `wait_rusage` reports the command's own
    peak RSS (a child forked from this script starts with this script's peak)."""
    fd, name = tempfile.mkstemp(prefix="syncd-bench-rss-")
    os.close(fd)
    launcher = [sys.executable, "-S", str(Path(__file__).with_name("_rusage.py")), name]
    p = spawn([*launcher, *args], **kwargs)
    _RSS_FILES[p.pid] = Path(name)
    return p


def _measured(p: subprocess.Popen[Any]) -> tuple[int | None, int | None, float | None]:
    """(the command's pid, its peak RSS KiB, its wall seconds) from a `spawn_measured`
    launcher's file (None for what it has not written yet)."""
    path = _RSS_FILES.get(p.pid)
    fields = path.read_text().split() if path is not None and path.exists() else []
    pid = int(fields[0]) if fields else None
    rss = int(fields[1]) if len(fields) > 1 else None
    return pid, rss, float(fields[2]) if len(fields) > 2 else None


def wait_measured(
    p: subprocess.Popen[Any], timeout: float | None = None
) -> tuple[int, int, float | None]:
    """`wait_rusage` for a `spawn_measured` process: (exit code, peak RSS KiB, the
    command's own wall seconds, without the launcher's start-up)."""
    code, rss = wait_rusage(p, timeout, keep=True)
    _, _, seconds = _measured(p)
    _RSS_FILES.pop(p.pid, Path("/nonexistent")).unlink(missing_ok=True)
    return code, rss, seconds


def wait_rusage(
    p: subprocess.Popen[Any], timeout: float | None = None, *, keep: bool = False
) -> tuple[int, int]:
    """Reap ``p`` with ``wait4``: (exit code, peak RSS in KiB of that process alone).

    A timer kills the process after ``timeout`` seconds (the exit code is then -9).
    """
    timer = None
    if timeout is not None:
        timer = threading.Timer(timeout, lambda: _kill_quietly(_measured(p)[0] or p.pid))
        timer.daemon = True
        timer.start()
    try:
        while True:
            try:
                _, status, usage = os.wait4(p.pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        if timer is not None:
            timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p in _children:
        _children.remove(p)
    _, own, _ = _measured(p)
    path = _RSS_FILES.get(p.pid) if keep else _RSS_FILES.pop(p.pid, None)
    if path is not None and not keep:
        path.unlink(missing_ok=True)
    return p.returncode, own if own is not None else int(usage.ru_maxrss)


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- the emulator --------------------------------------------------------------------------

_URL_LINE = re.compile(r"API:\s*(http://\S+)\s+OSS:\s*(http://\S+)")


def new_uuid() -> str:
    """A dentry-uuid-shaped id (32 url-safe characters, no "/")."""
    return secrets.token_hex(16)


class EmulatorProc:
    """``python -m syncd emulator --port 0`` in its own process (its own GIL)."""

    def __init__(
        self,
        folders: Iterable[str],
        *,
        qps: int | None = None,
        extra: Sequence[str] = (),
        log_dir: Path | None = None,
    ) -> None:
        self.folders = list(folders)
        self.qps = qps
        self.extra = list(extra)
        self.log_dir = log_dir
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.oss_url = ""
        self.lines: list[str] = []

    def start(self, timeout: float = 20.0) -> EmulatorProc:
        args = [PY, "-m", "syncd", "emulator", "--port", "0", "--oss-port", "0"]
        for f in self.folders:
            args += ["--folder", f]
        if self.qps is not None:
            args += ["--qps", str(self.qps)]
        args += self.extra
        with contextlib.ExitStack() as stack:
            err: Any = subprocess.DEVNULL
            if self.log_dir is not None:
                err = stack.enter_context(open(self.log_dir / "emulator.stderr", "w"))
            self.proc = spawn(
                args, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1, cwd=REPO
            )
        first: list[str] = []
        ready = threading.Event()

        def reader() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:  # keep draining so the pipe never fills
                self.lines.append(line.rstrip("\n"))
                if not first:
                    first.append(line)
                    ready.set()
            ready.set()

        threading.Thread(target=reader, name="emulator-stdout", daemon=True).start()
        if not ready.wait(timeout) or not first:
            self.stop()
            raise RuntimeError(f"emulator did not start: {self.lines}")
        m = _URL_LINE.search(first[0])
        if not m:
            self.stop()
            raise RuntimeError(f"cannot parse emulator URLs from {first[0]!r}")
        self.base_url, self.oss_url = m.group(1), m.group(2)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base_url + "/_emulator/stats", timeout=10) as resp:
            return json.load(resp)

    def tree(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base_url + "/_emulator/tree", timeout=60) as resp:
            return json.load(resp)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def __enter__(self) -> EmulatorProc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def api_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    """One JSON call with urllib (used by the bench itself, never timed)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


# -- config, trees, state ------------------------------------------------------------------


def write_config(
    path: Path,
    *,
    api_base: str,
    state_dir: Path,
    mappings: Sequence[tuple[Path, str]],
    workers: int | None = 8,
    settle_seconds: float = 2.0,
    qps: float | None = 100000,
    rescan_interval_seconds: float = 3600,
    **sync_extra: Any,
) -> Path:
    """A syncd YAML config (JSON is valid YAML) pointing at the emulator."""
    cfg = {
        "dingtalk": {
            "app_key": APP_KEY,
            "app_secret": APP_SECRET,
            "union_id": UNION_ID,
            "api_base": api_base,
            **({"qps": qps} if qps is not None else {}),
        },
        "state_dir": str(state_dir),
        "mappings": [{"local": str(local), "parent_dentry_uuid": uuid} for local, uuid in mappings],
        "sync": {
            **({"workers": workers} if workers is not None else {}),
            "settle_seconds": settle_seconds,
            "rescan_interval_seconds": rescan_interval_seconds,
            **sync_extra,
        },
        "log": {"format": "json", "level": "info"},
    }
    path.write_text(json.dumps(cfg, indent=2) + "\n")
    return path


def make_tree(
    root: Path, n_files: int, n_folders: int, content: Callable[[int], bytes]
) -> list[str]:
    """``n_files`` files spread round-robin over ``n_folders`` folders ``dNNNN``; rel paths."""
    root.mkdir(parents=True, exist_ok=True)
    for d in range(n_folders):
        (root / f"d{d:04d}").mkdir(exist_ok=True)
    rels = []
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for i in range(n_files):
        rel = f"d{i % n_folders:04d}/f{i:06d}.bin" if n_folders else f"f{i:06d}.bin"
        fd = os.open(root / rel, flags, 0o644)
        try:
            os.write(fd, content(i))
        finally:
            os.close(fd)
        rels.append(rel)
    os.sync()  # no dirty-page writeback running during the measurements
    return rels


def mapping_key(local: Path, parent_uuid: str) -> str:
    """The state-store key of a mapping, exactly as syncd computes it (resolved path)."""
    from syncd.core.settings import Mapping

    return Mapping(Path(local).expanduser().resolve(), parent_uuid).key


def seed_state(state_dir: Path, local: Path, parent_uuid: str, rels: Sequence[str]) -> int:
    """Write the rows a completed initial sync would have left; return the file count.

    The schema, the mapping and the folder rows are made by syncd's own StateStore (with
    each folder's inode, as a scan records it); the file rows go in with one executemany
    (put_record per file would be one transaction each). size/mtime_ns/inode come from a
    fresh stat and sha256 from the content, so syncd sees every file as unchanged.
    """
    from syncd.state.store import StateStore

    local = Path(local).expanduser().resolve()
    key = mapping_key(local, parent_uuid)
    store = StateStore(state_dir)
    dirs: dict[str, int] = {}
    now = time.time()
    rows = []
    for n, rel in enumerate(rels):
        folder, _, name = rel.rpartition("/")
        if folder not in dirs:
            store.set_dir_inode(key, folder, os.stat(local / folder).st_ino)
            dirs[folder] = store.dir_id(key, folder) or 0
        with open(local / rel, "rb") as f:
            data = f.read()
            st = os.fstat(f.fileno())
        sha = hashlib.sha256(data).digest()
        row = (dirs[folder], name, st.st_size, st.st_mtime_ns, st.st_ino, sha)
        rows.append((*row, f"uuid{n:08d}", str(100000 + n), 1, now))
    if "" not in dirs:
        store.set_dir_inode(key, "", os.stat(local).st_ino)
    store.close()
    db = sqlite3.connect(state_dir / "state.db")
    try:
        with db:
            db.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        (count,) = db.execute("SELECT COUNT(*) FROM files").fetchone()
    finally:
        db.close()
    os.sync()
    return int(count)


# -- running syncd -------------------------------------------------------------------------


@dataclass
class SyncRun:
    returncode: int
    wall: float  # seconds, process start to exit (includes interpreter start-up)
    maxrss_kib: int
    events: list[dict[str, Any]]
    log_path: Path

    def event(self, name: str) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e.get("event") == name), None)

    def count(self, name: str) -> int:
        return sum(1 for e in self.events if e.get("event") == name)


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def syncd_cmd(command: str, cfg: Path) -> list[str]:
    return [PY, "-m", "syncd", command, "-c", str(cfg), "--log-format", "json"]


def run_syncd_sync(cfg: Path, log_path: Path, timeout: float = 600) -> SyncRun:
    """``python -m syncd sync -c CFG --log-format json``: wall time, exit code, peak RSS."""
    with open(log_path, "w") as err:
        t0 = time.perf_counter()
        p = spawn_measured(syncd_cmd("sync", cfg), stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
        code, rss, own = wait_measured(p, timeout)
        wall = own if own is not None else time.perf_counter() - t0
    return SyncRun(code, wall, rss, read_json_lines(log_path), log_path)


def iso_to_epoch(stamp: str) -> float:
    """structlog's ISO UTC timestamp (``...T...Z``) as seconds since the epoch."""
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class DaemonProc:
    """``python -m syncd run`` with its JSON log events (stderr) parsed as they arrive."""

    def __init__(self, cfg: Path, log_path: Path) -> None:
        self.cfg = cfg
        self.log_path = log_path
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self.proc: subprocess.Popen[bytes] | None = None
        self.maxrss_kib = 0
        self.returncode: int | None = None

    def start(self) -> DaemonProc:
        self.proc = spawn(
            syncd_cmd("run", self.cfg), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO
        )
        threading.Thread(target=self._read, name="daemon-stderr", daemon=True).start()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        with open(self.log_path, "wb") as raw:
            for line in self.proc.stderr:
                raw.write(line)
                raw.flush()
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if isinstance(ev, dict):
                    with self._cond:
                        self.events.append(ev)
                        self._cond.notify_all()

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float, start: int = 0
    ) -> tuple[int, dict[str, Any]] | None:
        """The first event at index >= ``start`` matching ``pred`` (index, event), or None."""
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.events):
                    if pred(self.events[i]):
                        return i, self.events[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (
                    self.proc is not None and self.proc.poll() is not None and i >= len(self.events)
                ):
                    return None
                self._cond.wait(min(left, 0.5))

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then reap with wait4 (peak RSS of the daemon itself)."""
        if self.proc is None or self.returncode is not None:
            return self.returncode
        try:
            self.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.returncode, self.maxrss_kib = wait_rusage(self.proc, timeout)
        return self.returncode


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, ... of a live process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Vm"):
                key, _, value = line.partition(":")
                out[key] = int(value.split()[0])
    return out


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (its own threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_cpu_ns(pid: int) -> int:
    """On-CPU time of every current thread of a process, in ns (/proc/PID/task/*/schedstat).

    Finer than the clock ticks of /proc/PID/stat; threads that ended are not counted, so use
    it over windows without thread churn (an idle daemon).
    """
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


# -- reporting -----------------------------------------------------------------------------


@dataclass
class Report:
    """Prints figures as they come, then the checks and one ``RESULT`` line."""

    bench: str
    title: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        print(f"== {self.bench}: {self.title}", flush=True)
        load = os.getloadavg()
        print(
            f"   (host: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
            f"{load[2]:.2f} at start; other busy processes skew every figure)",
            flush=True,
        )

    def note(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def figure(self, label: str, value: str) -> None:
        print(f"   {label:<38} {value}", flush=True)

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append((name, ok, detail))
        return ok

    def finish(self) -> int:
        print(f"-- {self.bench} checks:")
        for name, ok, detail in self.checks:
            print(f"   [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
        ok = bool(self.checks) and all(c[1] for c in self.checks)
        print(f"RESULT {self.bench}: {'PASS' if ok else 'FAIL'}", flush=True)
        return 0 if ok else 1


def parse_args(
    doc: str | None,
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    global KEEP_TEMP
    parser = argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for a smoke run (< 30 s)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dirs (logs, configs) for inspection"
    )
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    KEEP_TEMP = args.keep
    return args


def main_guard(fn: Callable[[], int]) -> None:
    """Run a benchmark's main: exit 0 PASS, 1 FAIL, 2 error (children and temp dirs cleaned)."""
    try:
        code = fn()
    except KeyboardInterrupt:
        code = 130
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - report, clean up, exit 2
        import traceback

        traceback.print_exc()
        print(f"RESULT ERROR: {exc}", flush=True)
        code = 2
    sys.exit(code)


def fmt_kib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def percentile(xs: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]
