"""Shared fixtures: an emulator on 127.0.0.1, config files, and waits with timeouts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
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


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves threads running (watchdog's and structlog's own hygiene)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


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


UNPRIVILEGED = "nobody"


def _reachable(path: str) -> bool:
    """Whether an unprivileged user can reach `path` (every parent traversable)."""
    p = Path(path).resolve()
    return all(os.stat(parent).st_mode & 0o001 for parent in [*p.parents][:-1])


def unprivileged_python() -> list[str] | None:
    """A Python the unprivileged user can run, or None (not root, or no such interpreter)."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return None
    for candidate in (sys.executable, "/usr/bin/python3"):
        real = os.path.realpath(candidate)
        if os.path.exists(real) and _reachable(real):
            return [candidate]
    return None


def run_as_nobody(
    args: list[str], *, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python ARGS` as an unprivileged user (root ignores file permissions), with
    syncd and its dependencies importable."""
    python = unprivileged_python()
    if python is None:
        pytest.skip("needs root, runuser and a Python an unprivileged user can run")
    import site

    import syncd

    paths = [str(Path(syncd.__file__).parents[1]), *site.getsitepackages()]
    if not all(_reachable(p) for p in paths):
        pytest.skip("the checkout or its packages are not reachable by an unprivileged user")
    full_env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONUNBUFFERED": "1",
        "HOME": "/nonexistent",
        **(env or {}),
    }
    return subprocess.run(
        [shutil.which("runuser") or "runuser", "-u", UNPRIVILEGED, "--", *python, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd="/",
        check=False,
    )


@pytest.fixture
def shared_tmp():
    """A temporary folder an unprivileged user can reach (pytest's tmp_path is root-only)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="syncd-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    for sub in path.rglob("*"):
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


def events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines of a syncd run."""
    import json

    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server on a free 127.0.0.1 port, stopped after the test."""
    from tests.redis_server import RedisServer

    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir).start()
    yield server
    server.stop()


def child_pids() -> set[str]:
    """This process's child processes, from /proc (other tests' children are left alone)."""
    me = os.getpid()
    found: set[str] = set()
    for task in os.listdir(f"/proc/{me}/task"):
        found.update(Path(f"/proc/{me}/task/{task}/children").read_text().split())
    return found
