"""`syncd status` while `run` runs: the verdict (the same as /healthz), the failing mappings
with since when, the daemon's activity and pending work; gauges read at scrape time."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import requests

from tests.conftest import run_cli, wait_until
from tests.integration.daemon_proc import cfg_for, start
from tests.integration.test_metrics import free_port

pytestmark = pytest.mark.integration


def _status(cfg) -> dict:
    proc = run_cli("status", "--json", "-c", str(cfg))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_status_and_healthz_agree_on_a_mapping_waiting_for_its_share(
    tmp_path, emulator, share, daemons
):
    cfg = cfg_for(tmp_path, emulator, share)
    cfg.write_text(cfg.read_text() + f"metrics:\n  listen: 127.0.0.1:{free_port()}\n")
    os.rename(share, tmp_path / "share.later")
    d = start(daemons, cfg)
    port = d.wait_event("metrics.listening")["port"]
    d.wait_event("daemon.started")
    url = f"http://127.0.0.1:{port}"

    def failing() -> dict | None:
        data = _status(cfg)
        return data if data["mappings"][0]["failure"] else None

    data = wait_until(failing, timeout=20, interval=0.2, message="status shows the failure")
    failure = data["mappings"][0]["failure"]
    assert failure["reason"] == "local folder missing" and failure["since"]
    assert data["daemon"]["running"] and data["daemon"]["activity"] == "idle"
    assert data["daemon"]["pending"] == {
        "settling": 0,
        "queued": 0,
        "in_flight": 0,
        "retrying": 0,
    }
    assert data["verdict"] == f"failing: 1 mapping failed ({share}: local folder missing)"
    health = requests.get(f"{url}/healthz", timeout=5)
    assert (health.status_code, health.text) == (503, data["verdict"] + "\n")
    # read at the scrape, not at the last once-a-minute stats line
    assert "syncd_failed_mappings 1.0" in requests.get(f"{url}/metrics", timeout=5).text
    text = run_cli("status", "-c", str(cfg)).stdout.splitlines()
    assert text[0] == data["verdict"]
    assert "  now: idle" in text
    assert f"  FAILED: local folder missing; since {failure['since']}" in text

    (tmp_path / "share.later" / "bad|name.txt").write_bytes(b"a name DingTalk refuses")
    os.rename(tmp_path / "share.later", share)
    d.wait_event("mapping.recovered", timeout=20)
    d.wait_event("upload.skipped", path="bad|name.txt", timeout=20)
    data = wait_until(
        lambda: (s := _status(cfg))["mappings"][0]["failure"] is None and s,
        timeout=20,
        interval=0.2,
        message="status without the failure",
    )
    assert data["verdict"] == "degraded: 1 file refused"
    health = requests.get(f"{url}/healthz", timeout=5)
    assert (health.status_code, health.text) == (200, "degraded: 1 file refused\n")
    assert "syncd_failed_mappings 0.0" in requests.get(f"{url}/metrics", timeout=5).text
    assert d.stop() == 0


def test_retry_and_resolve_while_run_holds_the_lock(tmp_path, emulator, share, daemons):
    """Neither command takes the lock: the daemon takes their request within seconds and
    they print what was done."""
    (share / "plan.xlsx").write_bytes(b"ours v1")
    cfg = cfg_for(tmp_path, emulator, share, on_remote_change="hold")
    d = start(daemons, cfg)
    d.wait_event("upload.completed", path="plan.xlsx", timeout=20)
    emulator.set_fault("commit", "5xx")
    (share / "late.txt").write_bytes(b"fails first")
    d.wait_event("upload.failed", path="late.txt", timeout=60)

    def failing() -> dict | None:
        items = _status(cfg)["mappings"][0]["failing"]
        return items[0] if items else None

    item = wait_until(failing, timeout=20, interval=0.2, message="late.txt failing")
    emulator.clear_faults()
    proc = run_cli("retry", "-c", str(cfg), str(share / "late.txt"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"retrying now: {share / 'late.txt'}\n"
    done = d.wait_event("upload.completed", path="late.txt", timeout=30)
    assert done["timestamp"] < item["next_retry"]  # before its back-off would have ended

    emulator.edit(emulator.files()["plan.xlsx"]["uuid"], b"theirs v2", modifier="colleague")
    (share / "plan.xlsx").write_bytes(b"ours v2, longer")
    d.wait_event("remote.changed", path="plan.xlsx", timeout=30)
    proc = run_cli("resolve", "-c", str(cfg), str(share / "plan.xlsx"), "--keep-local")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"resolved: {share / 'plan.xlsx'}: keep-local: ours uploaded")
    assert "version 2 in the file's version history" in proc.stdout
    assert emulator.files()["plan.xlsx"]["sha256"] == hashlib.sha256(b"ours v2, longer").hexdigest()
    assert d.stop() == 0
