"""One syncd per state directory: an exclusive `flock` on `state_dir/lock`.

`sync` and `run` take it; the second one exits 1 at once, naming the process that holds
it. `status`, `check` and dry-runs never take it, so they never block. The lock is released
by the kernel when the process ends, however it ends (kill -9 included); the pid in the
file is only there to be named.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from syncd.core.errors import LockedError, StateError

LOCK_FILE = "lock"


@contextlib.contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    path = Path(state_dir) / LOCK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(f"cannot create {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise LockedError(f"another syncd (pid {holder}) is using {state_dir}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
