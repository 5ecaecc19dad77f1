"""A walk's helper process: the fork, the pipe back to the parent, the end of it.

Used by `walk_forked` (a first dry-run listed in a child) and `walk_shared` (a rescan shared
with a child). The child writes nothing but the pipe and logs nothing itself: the walk's
lines are collected (`walk.notes`) and travel with the next message, and the parent logs
them in order. Each message is `(kind, payload, notes)`, pickled and framed by its length,
so the parent can ask whether one is waiting (`Helper.ready`) without blocking. The child
leaves with `os._exit` (no atexit handler, no buffer of the parent's flushed twice); a
parent that stops early kills it, and the parent always reaps it.

Fork only where no other thread runs (the callers check it): a lock held by another thread
at the fork would stay held in the child forever.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from syncd.core.errors import RootUnavailable
from syncd.core.model import new_local_file
from syncd.local import walk as walk_module
from syncd.local.walk import FolderScan, WalkCounters

log = structlog.get_logger(__name__)

SCANS, DONE, ROOT, ERROR = "scans", "done", "root", "error"
BATCH_ENTRIES = 512  # folders and files per pickled message
ENDED = "ended"  # not sent: the pipe ended before the child said it was done
STALLED = "stalled"  # not sent: the child said nothing for `stall` seconds (stopped, hung)
PIPE_BYTES = 1 << 20
_HEADER = struct.Struct("<Q")

Send = Callable[[str, object], None]
Packed = tuple[FolderScan, list[tuple[object, ...]]]


class Helper:
    """The parent's end: the child's pid and the pipe its messages come through. The child
    is supervised: a wait for its next message (or the rest of one) longer than `stall`
    seconds ends with STALLED (None: wait as long as it takes)."""

    def __init__(
        self,
        pid: int,
        fd: int,
        spawned: subprocess.Popen[bytes] | None = None,
        stall: float | None = None,
    ) -> None:
        self.pid, self.fd, self.spawned = pid, fd, spawned
        self.stall = stall
        self.done = False
        self._poll = select.poll()  # not select(): a busy daemon's descriptors pass 1024
        self._poll.register(fd, select.POLLIN)

    def ready(self) -> bool:
        """A message (or the end of the pipe) is waiting: `receive` will not block long."""
        return bool(self._poll.poll(0))

    def receive(self) -> tuple[str, Any]:
        """The next message, its notes logged (ENDED: the pipe ended, the child is gone;
        STALLED: it made no progress for `stall` seconds, and is killed at `close`); the
        child's RootUnavailable is raised here, as the walk raises it."""
        try:
            head = self._read(_HEADER.size)
            if len(head) < _HEADER.size:
                return ENDED, None
            size = _HEADER.unpack(head)[0]
            body = self._read(size)
        except TimeoutError:
            return STALLED, self.stall
        if len(body) < size:  # killed while it wrote
            return ENDED, None
        kind, payload, notes = pickle.loads(body)
        for level, event, fields in notes:
            log.log(level, event, **fields)
        if kind == ROOT:
            raise RootUnavailable(Path(payload[0]), payload[1])
        return kind, payload

    def _read(self, n: int) -> bytes:
        """`n` bytes (fewer: the pipe ended); TimeoutError when none came for `stall` s."""
        if self.stall is None:
            return _read(self.fd, n)
        parts, left = [], n
        while left:
            if not self._poll.poll(int(self.stall * 1000)):
                raise TimeoutError
            chunk = os.read(self.fd, min(left, PIPE_BYTES))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """Kill the child unless it said it was done; reap it; close the pipe."""
        if not self.done:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.spawned is not None:
            self.spawned.wait()
        else:
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def start(work: Callable[[Send], None], stall: float | None = None) -> Helper:
    """Fork a child that runs `work(send)` and reports through the pipe."""
    read_fd, write_fd = os.pipe()
    _widen(write_fd)
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:  # pragma: no cover - the child; its work is checked through the parent
        os.close(read_fd)
        _child(work, write_fd)
    os.close(write_fd)
    return Helper(pid, read_fd, stall=stall)


def spawn(work: Callable[[Send], None], fds: tuple[int, ...], stall: float | None = None) -> Helper:
    """Start a new interpreter that runs `work(send)` (`python -P -m syncd.local.helper_main FD`:
    -P, so the working directory cannot shadow a module): safe where other threads run,
    which a fork is not. `work` travels pickled through its stdin; `fds` are the
    descriptors it names, passed under the same numbers."""
    if not sys.executable:  # an embedded interpreter: nothing to start
        raise OSError(errno.ENOEXEC, "no Python interpreter to start a helper with")
    job = pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL)
    read_fd, write_fd = os.pipe()
    _widen(write_fd)
    proc: subprocess.Popen[bytes] | None = None
    try:
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "syncd.local.helper_main", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_fd, *fds),
        )
        # written beside the caller, which walks meanwhile: the helper reads it once started
        feeder = threading.Thread(target=_feed, args=(proc, job), name="walk-helper-feed")
        feeder.daemon = True
        feeder.start()
    except BaseException:
        os.close(read_fd)
        if proc is not None:
            proc.kill()
            proc.wait()
        raise
    finally:
        os.close(write_fd)
    return Helper(proc.pid, read_fd, proc, stall)


def _feed(proc: subprocess.Popen[bytes], job: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(job)
    except OSError:  # it was stopped (or died) first: its pipe ends, the caller sees ENDED
        pass
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass


def serve(work: Callable[[Send], None], fd: int) -> None:  # pragma: no cover - a helper
    """Run `work` in this (helper) process, reporting through `fd`; never returns."""
    _child(work, fd)


def _child(work: Callable[[Send], None], fd: int) -> None:  # pragma: no cover
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        notes: list[tuple[int, str, dict[str, Any]]] = []
        walk_module.notes = notes

        def send(kind: str, payload: object) -> None:
            body = pickle.dumps((kind, payload, notes), protocol=pickle.HIGHEST_PROTOCOL)
            _write(fd, _HEADER.pack(len(body)) + body)
            notes.clear()

        try:
            work(send)
        except RootUnavailable as exc:
            send(ROOT, (str(exc.path), exc.reason))
        except Exception as exc:  # noqa: BLE001 - told to the parent, which decides
            send(ERROR, f"{type(exc).__name__}: {exc}")
        code = 0
    except BaseException:  # noqa: BLE001 - a broken pipe (the parent stopped) or worse
        pass
    finally:
        os._exit(code)


def pack(scan: FolderScan) -> Packed:
    """A scan with its files as plain tuples: pickling a million NamedTuples one by one
    calls back into Python for each and cost the child a fifth of its time (measured)."""
    files = [tuple(f) for f in scan.files]
    scan.files = []
    return scan, files


def unpack(packed: Packed) -> FolderScan:
    scan, files = packed
    scan.files = list(map(new_local_file, files))
    return scan


def merge(into: WalkCounters, child: WalkCounters) -> None:
    into.files += child.files
    into.dirs += child.dirs
    into.ignored += child.ignored
    into.refused += child.refused
    into.failed.extend(child.failed)
    into.moving.extend(child.moving)


def _read(fd: int, n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = os.read(fd, min(left, PIPE_BYTES))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _write(fd: int, data: bytes) -> None:  # pragma: no cover - runs in the child
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _widen(fd: int) -> None:
    """A 1 MiB pipe (the default is 64 KiB): the child can run a few batches ahead, so a
    slow folder of its own does not stall the parent at once."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, AttributeError):  # over /proc/sys/fs/pipe-max-size, or not Linux
        pass
