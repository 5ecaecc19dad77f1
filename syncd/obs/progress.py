"""Progress of a `syncd sync`: the interface, and the terminal bars drawn by tqdm.

tqdm is a well-kept library that already handles terminal width, rate smoothing and
redrawing around log lines, so syncd does not hand-write one. It is used only when stderr
is a terminal and logs are rendered for the console, never in JSON/journald mode. Both bars
advance when a file is committed, so they never count bytes that are sent again.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any


class Progress:
    """Receives progress; the default does nothing."""

    def planned(self, files: int, size: int) -> None: ...
    def file_done(self, size: int) -> None: ...
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

    def file_done(self, size: int) -> None:
        with self._lock:
            self.files.update(1)
            self.bytes.update(size)

    def close(self) -> None:
        self.files.close()
        self.bytes.close()


def redirect_logs() -> AbstractContextManager[Any]:
    """While bars are drawn, log lines are written above them instead of through them."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm()
