"""Progress of a `syncd sync`: the interface, and the terminal bars drawn by tqdm.

tqdm is a well-kept library that already handles terminal width, rate smoothing and
redrawing around log lines, so syncd does not hand-write one. It is used only when stderr
is a terminal and logs are rendered for the console, never in JSON/journald mode. The files
bar advances when a file is committed; the bytes bar as its bytes are sent (`sending`), each
file credited at most its size (a PUT sent again counts once) and taken back if it fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any


class Sending:
    """One file's bytes as they are sent: called with each chunk's length (from the
    thread that reads the file); `credited` never passes the file's size."""

    def __init__(self, size: int, advance: Callable[[int], None]) -> None:
        self.size, self.advance, self.credited = size, advance, 0

    def __call__(self, n: int) -> None:
        step = min(n, self.size - self.credited)
        if step > 0:
            self.credited += step
            self.advance(step)


class Progress:
    """Receives progress; the default does nothing."""

    def planned(self, files: int, size: int) -> None: ...
    def sending(self, size: int) -> Sending | None:
        return None

    def file_done(self, size: int, sending: Sending | None = None) -> None: ...
    def file_failed(self, sending: Sending | None) -> None: ...
    def close(self) -> None: ...


class BarProgress(Progress):
    def __init__(self) -> None:
        from tqdm import tqdm

        self._lock = threading.Lock()
        self.files = tqdm(
            total=0, unit="file", desc="files", position=0, leave=True, dynamic_ncols=True
        )
        self.bytes = tqdm(
            total=0,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="bytes",
            position=1,
            leave=True,
            dynamic_ncols=True,
        )

    def planned(self, files: int, size: int) -> None:
        with self._lock:
            self.files.total = (self.files.total or 0) + files
            self.bytes.total = (self.bytes.total or 0) + size
            self.files.refresh()
            self.bytes.refresh()

    def _advance(self, n: int) -> None:
        with self._lock:
            self.bytes.update(n)

    def sending(self, size: int) -> Sending | None:
        return Sending(size, self._advance)

    def file_done(self, size: int, sending: Sending | None = None) -> None:
        with self._lock:
            self.files.update(1)
            self.bytes.update(size - (sending.credited if sending is not None else 0))

    def file_failed(self, sending: Sending | None) -> None:
        if sending is not None and sending.credited:
            with self._lock:
                self.bytes.update(-sending.credited)

    def close(self) -> None:
        self.files.close()
        self.bytes.close()


def redirect_logs() -> AbstractContextManager[Any]:
    """While bars are drawn, log lines are written above them instead of through them."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm()
