"""`syncd demo DIR`: emulator + daemon in one process, files shown as they land."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.integration


def test_demo_shows_files_landing_and_stops_on_ctrl_c(tmp_path):
    """The sample file lands, a dropped file lands, Ctrl-C exits 0."""
    folder = tmp_path / "demo"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "demo", str(folder), "--settle-seconds", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: list[str] = []
    cond = threading.Condition()

    def read():
        for line in proc.stdout:
            with cond:
                lines.append(line)
                cond.notify_all()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_line(fragment, timeout=20):
        deadline = time.monotonic() + timeout
        with cond:
            while not any(fragment in line for line in lines):
                left = deadline - time.monotonic()
                assert left > 0, f"no line with {fragment!r}: {lines}"
                cond.wait(left)

    try:
        wait_line("landed: hello-syncd.txt")
        (folder / "dropped.txt").write_text("dropped in")
        wait_line("landed: dropped.txt")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        wait_line("syncd demo: stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
