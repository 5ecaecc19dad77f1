"""Signals and thread crashes, turned into ordinary messages and log lines."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


def log_thread_crash(args: threading.ExceptHookArgs) -> None:
    """Uncaught errors in any thread (watchdog's included) become one JSON log line."""
    log.error(
        "thread.crashed",
        thread=args.thread.name if args.thread else None,
        error=repr(args.exc_value),
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


class SignalRelay:
    """Turn SIGTERM/SIGINT/SIGHUP into requests without running code in a handler.

    A Python signal handler runs in the main thread at an arbitrary point, possibly while
    that thread holds a queue's lock, so it must not touch the queue. The C-level handler
    writes the signal number to a pipe (`signal.set_wakeup_fd`); a small thread reads it
    and calls `on_stop` / `on_reload` like any other thread would.
    """

    def __init__(self, on_stop: Callable[[], None], on_reload: Callable[[], None]) -> None:
        self.on_stop, self.on_reload = on_stop, on_reload
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._previous = {
            sig: signal.signal(sig, lambda *_: None)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        }
        self._old_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._relay, name="signals", daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        while True:
            try:
                data = os.read(self._read_fd, 16)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum == signal.SIGHUP:
                    self.on_reload()
                elif signum in (signal.SIGTERM, signal.SIGINT):
                    self.on_stop()

    def close(self) -> None:
        signal.set_wakeup_fd(self._old_wakeup)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        os.close(self._write_fd)  # ends the relay thread's read
        self._thread.join(timeout=1)
        os.close(self._read_fd)
