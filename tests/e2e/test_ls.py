"""`syncd ls`: the knowledge bases and what is in a folder, through the wiki 2.0 APIs."""

from __future__ import annotations

import json

import pytest

from syncd.emulator import Emulator
from tests.conftest import ROOT_UUID, run_cli, write_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def many():
    """An emulator with more knowledge bases than one page holds (30)."""
    names = {f"kbUuid{i:026d}": f"KB {i:02d}" for i in range(35)}
    emu = Emulator(folders=[ROOT_UUID, *names], workspace_names={ROOT_UUID: "Reports", **names})
    emu.start()
    yield emu
    emu.stop()


def test_ls_lists_knowledge_bases_with_the_uuid_to_paste(tmp_path, many):
    """Every knowledge base over the pages, with its role and root uuid."""
    cfg = write_config(tmp_path, many, [{"local": str(tmp_path), "parent_dentry_uuid": ROOT_UUID}])
    out = run_cli("ls", "-c", str(cfg), check=True).stdout
    assert "PARENT_DENTRY_UUID" in out and ROOT_UUID in out and "Reports" in out
    data = json.loads(run_cli("ls", "--json", "-c", str(cfg), check=True).stdout)
    teams = [w for w in data if w["type"] == "TEAM"]
    assert len(teams) == 36
    assert {w["parent_dentry_uuid"] for w in teams} >= {
        ROOT_UUID,
        "kbUuid00000000000000000000000034",
    }


def test_ls_uuid_lists_a_folder_over_pages(tmp_path, emulator):
    """Folders first, then files, every entry once over the 50-entry pages."""
    sub = emulator.mkdir(ROOT_UUID, "2026")
    for i in range(60):
        emulator.put_file(ROOT_UUID, f"f{i:02d}.txt", b"x" * i)
    cfg = write_config(
        tmp_path, emulator, [{"local": str(tmp_path), "parent_dentry_uuid": ROOT_UUID}]
    )
    data = json.loads(run_cli("ls", ROOT_UUID, "--json", "-c", str(cfg), check=True).stdout)
    assert len(data) == 61 and data[0] == {**data[0], "name": "2026", "type": "FOLDER", "uuid": sub}
    assert len({d["uuid"] for d in data}) == 61
    text = run_cli("ls", ROOT_UUID, "-c", str(cfg), check=True).stdout
    assert "f59.txt" in text and "59 B" in text


def test_ls_of_an_unknown_folder_says_so(tmp_path, emulator):
    """A uuid that is no folder: exit 1 with the remote's code, no traceback."""
    cfg = write_config(
        tmp_path, emulator, [{"local": str(tmp_path), "parent_dentry_uuid": ROOT_UUID}]
    )
    proc = run_cli("ls", "noSuchFolder000000000000000000000", "-c", str(cfg))
    assert proc.returncode == 1 and "parentNodeNotExist" in proc.stderr
    assert "Traceback" not in proc.stderr
