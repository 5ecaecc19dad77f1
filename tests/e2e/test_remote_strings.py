"""Remote strings on a terminal (issue 19, item 11): a name or a colleague's id with escape
sequences is shown escaped by `ls`, `status` and the console log, and exact in JSON; `ls`
aligns wide (CJK) names by the columns they take."""

from __future__ import annotations

import json

import pytest
from wcwidth import wcswidth

from syncd.emulator import Emulator
from tests.conftest import ROOT_UUID, events, run_cli, write_config
from tests.e2e.test_terminal import on_terminal

pytestmark = pytest.mark.e2e

EVIL = "q3\x1b[2J\x1b]0;owned\x07\u202eslx.exe"  # clear screen, retitle, right-to-left
SHOWN = "q3\\x1b[2J\\x1b]0;owned\\x07\\u202eslx.exe"


def test_ls_escapes_remote_names_and_json_keeps_them(tmp_path, emulator):
    emulator.put_file(ROOT_UUID, EVIL, b"x")
    cfg = write_config(tmp_path, emulator, [])  # `ls` needs no mapping
    proc = run_cli("ls", ROOT_UUID, "-c", str(cfg), check=True)
    assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout
    assert SHOWN in proc.stdout
    data = json.loads(run_cli("ls", ROOT_UUID, "--json", "-c", str(cfg), check=True).stdout)
    assert [n["name"] for n in data] == [EVIL]


def test_ls_escapes_knowledge_base_names_and_aligns_wide_ones(tmp_path):
    names = {ROOT_UUID: "季度报告", "kbUuid00000000000000000000000002": "Evil\x1b[31mKB"}
    with Emulator(folders=list(names), workspace_names=names) as emu:
        cfg = write_config(tmp_path, emu, [])
        out = run_cli("ls", "-c", str(cfg), check=True).stdout
    assert "\x1b" not in out and "Evil\\x1b[31mKB" in out
    lines = [line for line in out.splitlines() if "TEAM" in line]
    assert len(lines) == 2
    # TYPE starts at the same terminal column on every row, whatever the name's width
    columns = {wcswidth(line[: line.index("TEAM")]) for line in lines}
    assert len(columns) == 1, lines


def _remote_edit_by(tmp_path, emulator, modifier: str):
    """A file syncd uploaded, edited remotely by `modifier`, then changed locally."""
    share = tmp_path / "share"
    share.mkdir()
    (share / "plan.xlsx").write_bytes(b"ours v1")
    cfg = write_config(tmp_path, emulator, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
    run_cli("sync", "-c", str(cfg), check=True)
    emulator.edit(emulator.files()["plan.xlsx"]["uuid"], b"theirs v2", modifier=modifier)
    (share / "plan.xlsx").write_bytes(b"ours v2, longer")
    return cfg


def test_status_escapes_what_the_remote_said_and_json_keeps_it(tmp_path, emulator):
    """The notice of a colleague's edit names the colleague as the remote gave it."""
    cfg = _remote_edit_by(tmp_path, emulator, EVIL)
    proc = run_cli("sync", "-c", str(cfg), check=True)
    assert [e["modifier"] for e in events(proc.stderr) if e["event"] == "remote.changed"] == [EVIL]
    text = run_cli("status", "-c", str(cfg), check=True).stdout
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert SHOWN in text
    data = json.loads(run_cli("status", "--json", "-c", str(cfg), check=True).stdout)
    details = [n["detail"] for n in data["mappings"][0]["notices"]]
    assert any(EVIL in d for d in details), details


def test_the_console_log_escapes_remote_fields(tmp_path, emulator):
    """On a terminal the `remote.changed` warning shows the colleague's id escaped (the
    renderer's own colours are the only escape sequences left)."""
    cfg = _remote_edit_by(tmp_path, emulator, EVIL)
    code, out = on_terminal("sync", "-c", str(cfg), "--log-format", "auto")
    assert code == 0, out
    assert "remote.changed" in out and SHOWN in out
    assert "\x1b]0;owned" not in out and "\x1b[2J" not in out and "\u202e" not in out
