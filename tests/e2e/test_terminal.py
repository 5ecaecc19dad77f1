"""What a person sees running `syncd sync` in a terminal (a real pseudo-terminal)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.conftest import ROOT_UUID, write_config

pytestmark = pytest.mark.e2e


def on_terminal(*args: str, timeout: float = 60) -> tuple[int, str]:
    """Run `python -m syncd ARGS` with stdout and stderr on a pty; its exit and output
    (killed, and the test failed, after `timeout` seconds)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))  # 100 columns
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**env, "COLUMNS": "100", "TERM": "xterm"},
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"syncd {' '.join(args)} still writing after {timeout}s")
            if not select.select([master], [], [], left)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has gone
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if proc.poll() is None and time.monotonic() > deadline:
            proc.kill()
    return proc.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")


def test_a_sync_on_a_terminal_reads_like_a_report(tmp_path, emulator):
    """Readable lines (no uuids, mapping by its folder name), and the summary block at the
    end; the dry-run says what it would upload instead."""
    share = tmp_path / "share"
    (share / "docs").mkdir(parents=True)
    for i in range(3):
        (share / "docs" / f"r{i}.txt").write_bytes(b"x" * 2048)
    (share / "bad|name.txt").write_bytes(b"refused")
    cfg = write_config(tmp_path, emulator, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
    code, out = on_terminal("sync", "--dry-run", "-c", str(cfg), "--log-format", "auto")
    assert code == 0, out
    assert "would upload 3 files (6.0 KiB) in 1 folder; 1 refused" in out
    code, out = on_terminal("sync", "-c", str(cfg), "--log-format", "auto")
    assert code == 0, out
    assert "Transferred:  3 files, 6.0 KiB" in out
    assert "Refused:      1 file (see `syncd status`)" in out
    assert ROOT_UUID not in out and "dentry_uuid" not in out and "{" not in out
    assert len(emulator.files()) == 3


def test_the_bytes_bar_follows_the_bytes_sent_and_mkdir_names_the_folder(tmp_path, emulator):
    """One big file at a capped bandwidth: the bytes bar shows it part-sent while the files
    bar still says 0 of 1; a dry-run's `plan.mkdir` lines name the folder they create."""
    share = tmp_path / "share"
    (share / "reports" / "q3").mkdir(parents=True)
    (share / "reports" / "q3" / "big.bin").write_bytes(os.urandom(6 * 1024 * 1024))
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}],
        sync={"bwlimit": "2M"},
    )
    code, out = on_terminal("sync", "--dry-run", "-c", str(cfg), "--log-format", "auto")
    assert code == 0, out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    mkdirs = [line for line in plain.splitlines() if "plan.mkdir" in line]
    assert [line.split("folder=")[1].split()[0] for line in mkdirs] == ["reports", "reports/q3"]
    code, out = on_terminal("sync", "-c", str(cfg), "--log-format", "auto")
    assert code == 0, out
    partial = [int(p) for p in re.findall(r"bytes:\s+(\d+)%", out) if 0 < int(p) < 100]
    assert partial, out
    assert len(emulator.files()) == 1
