"""`syncd run`: renames and moves from watchdog's moved events; deletes into the trash."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from tests.conftest import wait_until
from tests.integration.daemon_proc import DaemonProc, cfg_for, start

pytestmark = pytest.mark.integration


def test_a_folder_renamed_while_watched_is_one_remote_call(tmp_path, emulator, share, daemons):
    """A folder of 500 files renamed under `run`: one rename call, no upload."""
    for i in range(500):
        (share / "proj" / "docs").mkdir(parents=True, exist_ok=True)
        (share / "proj" / "docs" / f"f{i}.txt").write_bytes(b"%d" % i)
    d = start(daemons, cfg_for(tmp_path, emulator, share, workers=8))
    d.wait_for(lambda evs: len(emulator.files()) == 500, timeout=60, what="500 files")
    d.wait_event("scan.finished")
    emulator.reset_stats()
    os.rename(share / "proj", share / "project-2026")
    d.wait_event("folder.moved", timeout=20)
    assert d.stop() == 0
    requests = emulator.stats()["requests"]
    assert requests.get("rename") == 1 and not requests.get("oss") and not requests.get("commit")
    assert sum(requests.values()) <= 3
    assert len([p for p in emulator.files() if p.startswith("project-2026/docs/")]) == 500


def test_a_renamed_file_while_watched_keeps_its_uuid(tmp_path, emulator, share, daemons):
    """A file renamed under `run` is renamed remotely (same uuid, same version)."""
    (share / "a.txt").write_bytes(b"a")
    d = start(daemons, cfg_for(tmp_path, emulator, share))
    d.wait_event("upload.completed", path="a.txt")
    uuid = emulator.files()["a.txt"]["uuid"]
    os.rename(share / "a.txt", share / "b.txt")
    d.wait_event("file.moved", path="b.txt", timeout=20)
    assert d.stop() == 0
    assert list(emulator.files()) == ["b.txt"]
    assert emulator.files()["b.txt"]["uuid"] == uuid and emulator.files()["b.txt"]["version"] == 1


def test_an_office_save_is_an_update_not_a_move(tmp_path, emulator, share, daemons):
    """Save as a temp file, then rename it over the document: a new version of the
    document (same uuid), the temp name never appears remotely."""
    doc = share / "plan.docx"
    doc.write_bytes(b"v1")
    d = start(daemons, cfg_for(tmp_path, emulator, share))
    d.wait_event("upload.completed", path="plan.docx")
    tmp = share / "~WRL0001.tmp"
    tmp.write_bytes(b"v2 after save")
    os.replace(tmp, doc)
    d.wait_for(lambda evs: emulator.files()["plan.docx"]["version"] == 2, timeout=20, what="v2")
    assert d.stop() == 0
    assert list(emulator.files()) == ["plan.docx"]


def test_a_restart_between_a_rename_and_its_remote_move(tmp_path, emulator, share, daemons):
    """Renamed while syncd was down: the next start moves it remotely; one remote file."""
    (share / "a.txt").write_bytes(b"a")
    cfg = cfg_for(tmp_path, emulator, share)
    d = start(daemons, cfg)
    d.wait_event("upload.completed", path="a.txt")
    assert d.stop() == 0
    os.rename(share / "a.txt", share / "renamed.txt")
    d = start(daemons, cfg)
    d.wait_event("file.moved", timeout=20)
    assert d.stop() == 0
    assert list(emulator.files()) == ["renamed.txt"]


def test_a_kill_while_the_remote_rename_is_in_flight(tmp_path, emulator, share, daemons):
    """kill -9 while the rename call is on its way (the server applies it, syncd never hears
    back): the next start finds the remote already renamed; one remote file, its uuid and
    version kept, nothing uploaded."""
    (share / "a.txt").write_bytes(b"a")
    cfg = cfg_for(tmp_path, emulator, share)
    d = start(daemons, cfg)
    d.wait_event("upload.completed", path="a.txt")
    before = emulator.files()["a.txt"]
    emulator.set_latency(1.0)  # the call reaches the server, its answer comes a second later
    os.rename(share / "a.txt", share / "renamed.txt")
    wait_until(lambda: emulator.calls("rename") == 1, timeout=20)
    d.kill()
    wait_until(lambda: "renamed.txt" in emulator.files(), timeout=20)  # the server applied it
    emulator.set_latency(0.0)
    emulator.reset_stats()
    d = start(daemons, cfg)
    d.wait_event("scan.finished", timeout=20)
    assert d.stop() == 0
    after = emulator.files()
    assert list(after) == ["renamed.txt"]
    assert after["renamed.txt"]["uuid"] == before["uuid"]
    assert after["renamed.txt"]["version"] == before["version"]
    assert not emulator.stats()["requests"].get("commit")


def test_a_copy_and_delete_while_down_is_a_move_at_the_next_start(
    tmp_path, emulator, share, daemons
):
    """Moved across file systems while syncd was down (a new inode): the start-up scan
    pairs it with the vanished record by content; one remote file, its uuid kept."""
    data = os.urandom(3000)
    (share / "a.bin").write_bytes(data)
    cfg = cfg_for(tmp_path, emulator, share)
    d = start(daemons, cfg)
    d.wait_event("upload.completed", path="a.bin")
    assert d.stop() == 0
    uuid = emulator.files()["a.bin"]["uuid"]
    (share / "sub").mkdir()
    (share / "sub" / "a.bin").write_bytes(data)
    (share / "a.bin").unlink()
    d = start(daemons, cfg)
    d.wait_event("file.moved", path="sub/a.bin", timeout=20)
    assert d.stop() == 0
    assert list(emulator.files()) == ["sub/a.bin"]
    assert emulator.files()["sub/a.bin"]["uuid"] == uuid


def test_a_delete_while_watched_goes_to_the_trash(tmp_path, emulator, share, daemons):
    """With deletes: trash, a file deleted under `run` is moved into today's trash folder."""
    (share / "sub").mkdir()
    (share / "sub" / "gone.txt").write_bytes(b"g")
    (share / "stay.txt").write_bytes(b"s")
    cfg = cfg_for(tmp_path, emulator, share, deletes="trash", max_delete_percent=100)
    d = start(daemons, cfg)
    d.wait_for(lambda evs: len(emulator.files()) == 2, timeout=20, what="2 files")
    (share / "sub" / "gone.txt").unlink()
    d.wait_event("file.trashed", timeout=20)
    assert d.stop() == 0
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    assert sorted(emulator.files()) == [f".syncd-trash/{day}/sub/gone.txt", "stay.txt"]


def test_a_start_shares_its_rescan_with_a_spawned_helper(tmp_path, emulator, share, daemons):
    """`run` has threads, so its full rescan's helper is a new interpreter: changes made
    while it was down (an edit, a move across subtrees, a renamed folder, a delete) come
    out as a single walk would make them."""
    from tests.conftest import run_cli

    for i in range(24):
        (share / f"d{i:02d}").mkdir()
        for j in range(20):
            (share / f"d{i:02d}" / f"f{j}.txt").write_bytes(b"%d-%d" % (i, j))
    cfg = cfg_for(tmp_path, emulator, share, deletes="trash", workers=8)
    run_cli("sync", "-c", str(cfg), check=True)
    before = emulator.files()
    (share / "d03" / "f0.txt").write_bytes(b"edited")
    (share / "d05" / "f1.txt").rename(share / "d17" / "moved.txt")
    os.rename(share / "d13", share / "renamed13")
    (share / "d09" / "f2.txt").unlink()
    d = DaemonProc(cfg, "--log-level", "debug")
    daemons.append(d)
    d.wait_event("scan.finished", timeout=60)
    d.wait_event("file.trashed", timeout=20, path="d09/f2.txt")
    # the edit is fresh at the start: it goes through the settle gate, so it is waited for
    # on its own (waiting for another file's event made this test fail under load)
    d.wait_event("upload.completed", timeout=30, path="d03/f0.txt")
    assert d.stop() == 0
    remote = emulator.files()
    assert remote["d17/moved.txt"]["uuid"] == before["d05/f1.txt"]["uuid"]
    assert remote["renamed13/f0.txt"]["uuid"] == before["d13/f0.txt"]["uuid"]
    assert remote["d03/f0.txt"]["size"] == len(b"edited")
    assert "d05/f1.txt" not in remote and "d13/f0.txt" not in remote
    shared = [e for e in d.events if e["event"] == "scan.shared"]
    assert shared and shared[0]["runs"] == 24
