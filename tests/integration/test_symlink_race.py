"""No byte from outside a mapping ever reaches the remote, whatever is swapped when.

A racer swaps a folder of the share for a symlink to a folder outside it (and a file for a
symlink to a file outside it), back and forth, while `syncd run` watches the share and
`syncd sync` passes run over it; afterwards no remote file holds the canary's bytes.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.conftest import ROOT_UUID, run_cli, wait_until, write_config
from tests.integration.daemon_proc import DaemonProc

pytestmark = pytest.mark.integration

RACE_SECONDS = 3.0


def _race(share, outside, stop: threading.Event, rounds: list[int]) -> None:
    """Swap `share/x` (a folder) and `share/y.txt` (a file) for links out, and back."""
    n = 0
    while not stop.is_set():
        n += 1
        (share / "x" / "f.txt").write_bytes(f"inside {n}".encode())
        (share / "y.txt").write_bytes(f"inside y {n}".encode())
        os.rename(share / "x", share / "x.real")
        os.symlink(outside, share / "x")
        os.rename(share / "y.txt", share / "y.real")
        os.symlink(outside / "f.txt", share / "y.txt")
        time.sleep(0.003)  # the race's shape (links half of the time), not synchronisation
        os.unlink(share / "x")
        os.rename(share / "x.real", share / "x")
        os.unlink(share / "y.txt")
        os.rename(share / "y.real", share / "y.txt")
    rounds.append(n)


@pytest.mark.parametrize("follow", [False, True])
def test_swaps_for_symlinks_never_leak_a_byte(tmp_path, emulator, follow):
    """Races folder<->symlink and file<->symlink swaps against scans, events and uploads."""
    canary = os.urandom(32).hex().encode() + b"-CANARY"
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "f.txt").write_bytes(canary)
    (outside / "sub" / "f.txt").write_bytes(canary)
    share = tmp_path / "share"
    (share / "x").mkdir(parents=True)
    (share / "keep.txt").write_bytes(b"steady")
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}],
        sync={"settle_seconds": 0.05, "follow_symlinks": follow, "rescan_interval_seconds": 0.5},
    )
    # `sync` passes beside the daemon need a state of their own (the daemon holds its lock)
    (tmp_path / "side").mkdir()
    side = write_config(
        tmp_path / "side",
        emulator,
        [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}],
        sync={"settle_seconds": 0.05, "follow_symlinks": follow},
    )
    daemon = DaemonProc(cfg)
    stop, rounds = threading.Event(), []
    racer = threading.Thread(target=_race, args=(share, outside, stop, rounds), daemon=True)
    try:
        daemon.wait_event("scan.finished")
        racer.start()
        deadline = time.monotonic() + RACE_SECONDS
        passes = []
        while time.monotonic() < deadline:
            passes.append(run_cli("sync", "-c", str(side), timeout=60))
        stop.set()
        racer.join(timeout=10)
        wait_until(lambda: "keep.txt" in emulator.files(), timeout=20)
    finally:
        stop.set()
        daemon.stop()
    assert rounds and rounds[0] > 10, "the race did not run"
    assert passes and all(p.returncode in (0, 1) for p in passes), [p.stderr for p in passes]
    assert any('"sync.finished"' in p.stderr for p in passes), "no sync pass ran"
    uploaded = emulator.files()
    assert uploaded, "nothing was uploaded at all"
    for path, f in uploaded.items():
        data = emulator.content(f["uuid"])
        assert canary not in data, f"{path} holds bytes from outside the mapping"
