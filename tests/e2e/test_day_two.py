"""Day two as an operator meets it: a share not mounted yet, and `status` telling all."""

from __future__ import annotations

import json

import pytest

from syncd.emulator import Emulator
from tests.conftest import ROOT_UUID, events, run_cli, write_config

pytestmark = pytest.mark.e2e

OTHER_UUID = "otherFolderUuid00000000000000002"


@pytest.fixture
def two_roots():
    emu = Emulator(folders=[ROOT_UUID, OTHER_UUID], store_content=True).start()
    yield emu
    emu.stop()


def test_a_missing_share_is_skipped_by_sync_shown_by_status_and_fails_check(tmp_path, two_roots):
    """The share that mounts late is not a config error: `sync` syncs the other mapping,
    reports the missing one (mapping.failed) and exits 1; `status` shows it; `check` still
    reports it and exits 3."""
    here = tmp_path / "here"
    here.mkdir()
    (here / "a.txt").write_bytes(b"a")
    missing = tmp_path / "mnt" / "share"
    cfg = write_config(
        tmp_path,
        two_roots,
        [
            {"local": str(missing), "parent_dentry_uuid": OTHER_UUID},
            {"local": str(here), "parent_dentry_uuid": ROOT_UUID},
        ],
    )
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 1, proc.stderr
    failed = [e for e in events(proc.stderr) if e["event"] == "mapping.failed"]
    assert [(e["mapping"], e["reason"]) for e in failed] == [(str(missing), "local folder missing")]
    assert sorted(two_roots.files(ROOT_UUID)) == ["a.txt"]

    status = run_cli("status", "-c", str(cfg), "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    first, second = data["mappings"]
    assert first["failure"]["reason"] == "local folder missing"
    assert second["failure"] is None
    assert data["verdict"].startswith("failing: ")
    text = run_cli("status", "-c", str(cfg))
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0].startswith("failing: 1 mapping")
    assert "  FAILED: local folder missing" in text.stdout

    check = run_cli("check", "-c", str(cfg), "--offline")
    assert check.returncode == 3
    assert f"mappings[0].local: folder does not exist: {missing}" in check.stderr
