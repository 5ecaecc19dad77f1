"""Shared fixtures: an emulator on 127.0.0.1, config files, and waits with timeouts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncd.config import load
from syncd.emulator import Emulator

ROOT_UUID = "rootFolderUuid0000000000000000001"
UNION_ID = "emulator-union-id"


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition",
) -> Any:
    """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def emulator():
    emu = Emulator(folders=[ROOT_UUID], store_content=True).start()
    yield emu
    emu.stop()


def write_config(
    tmp_path: Path,
    emu: Emulator | None,
    mappings: list[dict[str, Any]],
    *,
    sync: dict[str, Any] | None = None,
    dingtalk: dict[str, Any] | None = None,
    name: str = "syncd.yaml",
) -> Path:
    """Write a syncd config for `emu` (api_base, credentials) and return its path."""
    cfg: dict[str, Any] = {
        "dingtalk": {
            "app_key": "emulator-app-key",
            "app_secret": "emulator-app-secret",
            "union_id": UNION_ID,
            "api_base": emu.base_url if emu is not None else "http://127.0.0.1:9",
            "qps": 1000,
            **(dingtalk or {}),
        },
        "state_dir": str(tmp_path / "state"),
        "mappings": mappings,
        "sync": {"settle_seconds": 0.2, **(sync or {})},
        "log": {"format": "json"},
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def load_config(path: Path, **kw: Any):
    return load(path, **kw)


def run_cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `python -m syncd ARGS` as a subprocess and capture its output."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"syncd {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines of a syncd run."""
    import json

    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out
