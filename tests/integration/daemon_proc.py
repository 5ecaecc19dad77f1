"""Run `syncd run` as a subprocess and follow its JSON log lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from syncd.emulator import Emulator
from tests.conftest import ROOT_UUID, write_config


class DaemonProc:
    def __init__(
        self,
        config: Path,
        *args: str,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        if not env or "NOTIFY_SOCKET" not in env:
            full_env.pop("NOTIFY_SOCKET", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "syncd",
                "run",
                "-c",
                str(config),
                "--log-format",
                "json",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            preexec_fn=preexec,
        )
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.raw.append(line)
                if line.startswith("{"):
                    try:
                        self.events.append(json.loads(line))
                    except ValueError:
                        pass
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(
        self,
        predicate: Callable[[list[dict[str, Any]]], Any],
        timeout: float = 15,
        what: str = "event",
    ) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self.events)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = "".join(self.raw[-15:])
                    raise AssertionError(f"timed out waiting for {what}; last output:\n{tail}")
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        f"daemon exited ({self.proc.returncode}) while "
                        f"waiting for {what}:\n{''.join(self.raw[-30:])}"
                    )
                self._cond.wait(min(left, 0.2))

    def wait_event(self, name: str, timeout: float = 15, **fields: Any) -> dict[str, Any]:
        def pred(evs: list[dict[str, Any]]) -> Any:
            for e in evs:
                if e.get("event") == name and all(e.get(k) == v for k, v in fields.items()):
                    return e
            return None

        return self.wait_for(pred, timeout, f"{name} {fields}")

    def count(self, name: str, **fields: Any) -> int:
        with self._cond:
            return sum(
                1
                for e in self.events
                if e.get("event") == name and all(e.get(k) == v for k, v in fields.items())
            )

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self._reader.join(timeout=5)
        self._close_pipes()
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed and not self._reader.is_alive():
                pipe.close()


def start(daemons: list[DaemonProc], cfg: Path, *args: str, **kw: Any) -> DaemonProc:
    """Start `syncd run -c cfg ARGS`; the `daemons` fixture kills it after the test."""
    d = DaemonProc(cfg, *args, **kw)
    daemons.append(d)
    return d


def cfg_for(
    tmp_path: Path,
    emulator: Emulator | None,
    share: Path,
    dingtalk: dict[str, Any] | None = None,
    **sync: Any,
) -> Path:
    """A config mapping `share` to the emulator's root folder; `sync` overrides (settle 0.3 s
    unless given)."""
    return write_config(
        tmp_path,
        emulator,
        [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}],
        sync={"settle_seconds": 0.3, **sync},
        dingtalk=dingtalk,
    )
