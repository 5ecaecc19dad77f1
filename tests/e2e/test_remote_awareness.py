"""Seeing the remote: adopt what is there, never clobber a remote edit silently, never
replay a commit blindly, repair drift. `syncd` as a subprocess against the emulator."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from tests.conftest import ROOT_UUID, events, run_cli, write_config

pytestmark = pytest.mark.e2e
COLLEAGUE = "colleague-union-id"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_share(tmp_path, files: dict[str, bytes]):
    root = tmp_path / "share"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    root.mkdir(exist_ok=True)
    return root


def cfg_for(tmp_path, emulator, root, **sync):
    return write_config(
        tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}], sync=sync
    )


def test_a_lost_state_dir_costs_no_upload(tmp_path, emulator):
    """Deleting state_dir and syncing again adopts every stamped twin: zero uploads, zero
    commits, and at most folders + files/50 + a few calls."""
    files = {f"d{i % 12}/f{i}.txt": os.urandom(64) for i in range(240)}
    root = make_share(tmp_path, files)
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    shutil.rmtree(tmp_path / "state")
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg), check=True)
    stats = emulator.stats()["requests"]
    assert stats.get("commit", 0) == 0 and stats.get("oss", 0) == 0
    assert sum(stats.values()) <= 13 + 240 // 50 + 5
    assert [e for e in events(proc.stderr) if e["event"] == "upload.adopted"].__len__() == 240
    assert "adopted 240" in run_cli("status", "-c", str(cfg), check=True).stdout
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0  # and the next pass is quiet again


def test_unstamped_twins_follow_sync_adopt(tmp_path, emulator):
    """A file uploaded by hand (no stamp) is uploaded over with `adopt: stamped` and adopted
    with `adopt: size` when the size matches."""
    root = make_share(tmp_path, {"same.txt": b"12345", "other.txt": b"abc"})
    for name, data in (("same.txt", b"54321"), ("other.txt", b"abc")):
        emulator.put_file(ROOT_UUID, name, data, modifier=COLLEAGUE)
    cfg = cfg_for(tmp_path, emulator, root, adopt="size")
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.calls("commit") == 0  # both adopted by size (a documented trade-off)
    shutil.rmtree(tmp_path / "state")
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.calls("commit") == 2
    assert emulator.files()["same.txt"]["sha256"] == sha(b"12345")


@pytest.mark.parametrize("policy", ["overwrite", "keep-both", "hold"])
def test_a_colleagues_remote_edit_is_never_lost_silently(tmp_path, emulator, policy):
    """Edited remotely, then locally: each `on_remote_change` gives its documented end."""
    root = make_share(tmp_path, {"plan.xlsx": b"ours v1"})
    cfg = cfg_for(tmp_path, emulator, root, on_remote_change=policy)
    run_cli("sync", "-c", str(cfg), check=True)
    uuid = emulator.files()["plan.xlsx"]["uuid"]
    emulator.edit(uuid, b"theirs v2", modifier=COLLEAGUE)
    (root / "plan.xlsx").write_bytes(b"ours v2, longer")
    proc = run_cli("sync", "-c", str(cfg))
    changed = [e for e in events(proc.stderr) if e["event"] == "remote.changed"]
    assert len(changed) == 1 and changed[0]["modifier"] == COLLEAGUE
    files = emulator.files()
    status = run_cli("status", "-c", str(cfg)).stdout
    if policy == "overwrite":
        assert files["plan.xlsx"]["sha256"] == sha(b"ours v2, longer")
        assert files["plan.xlsx"]["version"] == 3
        assert changed[0]["version_overwritten"] == 2 and "version history" in changed[0]["restore"]
        assert "remote edit overwritten: plan.xlsx" in status
    elif policy == "keep-both":
        assert files["plan.xlsx"]["sha256"] == sha(b"theirs v2")
        copies = [p for p in files if p.startswith("plan (conflict ") and p.endswith(").xlsx")]
        assert len(copies) == 1 and files[copies[0]]["sha256"] == sha(b"ours v2, longer")
        assert "remote edit kept beside ours: plan.xlsx" in status
        assert run_cli("sync", "-c", str(cfg), check=True) and len(emulator.files()) == 2
    else:
        assert files["plan.xlsx"]["sha256"] == sha(b"theirs v2") and len(files) == 1
        assert f"held: plan.xlsx: changed remotely by {COLLEAGUE} (version 1 -> 2)" in status
        run_cli("sync", "-c", str(cfg))
        assert emulator.files()["plan.xlsx"]["version"] == 2  # still held, reported once


@pytest.mark.parametrize("strategy", ["AUTO_RENAME", "OVERWRITE"])
def test_lost_commit_answers_never_duplicate(tmp_path, emulator, strategy):
    """With 30 % of commit answers lost after the commit was applied: no name(1) under
    AUTO_RENAME and no spurious version under OVERWRITE (changed files go to version 2)."""
    files = {f"f{i}.txt": os.urandom(50) for i in range(40)}
    root = make_share(tmp_path, files)
    emulator.set_fault("commit", "lost", rate=0.2)
    emulator.set_fault("commit", "lost5xx", rate=0.1)
    cfg = cfg_for(tmp_path, emulator, root, conflict_strategy=strategy)
    run_cli("sync", "-c", str(cfg), check=True)
    assert sorted(emulator.files()) == sorted(files)
    assert all(f["version"] == 1 for f in emulator.files().values())
    if strategy == "AUTO_RENAME":
        return  # a changed file is a new copy by design of AUTO_RENAME
    changed = list(files)[:10]
    for rel in changed:
        (root / rel).write_bytes(os.urandom(60))
    run_cli("sync", "-c", str(cfg), check=True)
    remote = emulator.files()
    assert sorted(remote) == sorted(files)
    assert all(f["version"] == (2 if p in changed else 1) for p, f in remote.items())


def test_check_remote_puts_back_what_was_deleted_remotely(tmp_path, emulator):
    """A file (and a folder) deleted inside DingTalk comes back with `sync --check-remote`;
    a plain `sync` makes no request for it."""
    root = make_share(tmp_path, {"a.txt": b"a", "sub/b.txt": b"b", "sub/c.txt": b"c"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    emulator.delete(emulator.files()["a.txt"]["uuid"])
    emulator.delete(emulator.folders()["sub"]["uuid"])
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0
    proc = run_cli("sync", "--check-remote", "-c", str(cfg), check=True)
    assert sorted(emulator.files()) == ["a.txt", "sub/b.txt", "sub/c.txt"]
    checked = [e for e in events(proc.stderr) if e["event"] == "remote.checked"]
    assert checked and checked[0]["deleted"] == 3
    (fin,) = [e for e in events(proc.stderr) if e["event"] == "sync.finished"]
    assert (fin["planned"], fin["uploaded"], fin["planned_bytes"]) == (3, 3, 3)  # the repair
    assert "remote: last checked 20" in run_cli("status", "-c", str(cfg)).stdout


def test_check_remote_follows_on_remote_change_for_remote_edits(tmp_path, emulator):
    """A remote edit of a file unchanged locally follows on_remote_change (hold here)."""
    root = make_share(tmp_path, {"a.txt": b"ours"})
    cfg = cfg_for(tmp_path, emulator, root, on_remote_change="hold")
    run_cli("sync", "-c", str(cfg), check=True)
    emulator.edit(emulator.files()["a.txt"]["uuid"], b"theirs", modifier=COLLEAGUE)
    run_cli("sync", "--check-remote", "-c", str(cfg), check=True)
    assert emulator.files()["a.txt"]["sha256"] == sha(b"theirs")
    assert "held: a.txt: changed remotely" in run_cli("status", "-c", str(cfg)).stdout


def test_dry_run_shows_the_plan_and_makes_no_request(tmp_path, emulator):
    """A dry-run over a fresh tree plans uploads and folders; the remote is not consulted."""
    root = make_share(tmp_path, {"a.txt": b"a", "x/y/z.txt": b"z"})
    cfg = cfg_for(tmp_path, emulator, root)
    proc = run_cli("sync", "--dry-run", "--check-remote", "-c", str(cfg), check=True)
    names = [e["event"] for e in events(proc.stderr)]
    assert names.count("plan.upload") == 2 and names.count("plan.mkdir") == 2
    assert "plan.remote_check_skipped" in names
    assert emulator.stats()["total"] == 0


def test_a_new_folder_is_created_while_its_parent_is_listed(tmp_path, emulator):
    """Far from DingTalk each round trip before the first upload counts: the first new
    folder's add-folder goes out while the root is being listed (two calls in flight at
    once, where every call used to wait for the one before), and the root is resolved and
    the folder created once each."""
    root = make_share(tmp_path, {"new/deeper/a.txt": b"x"})  # one file: nothing else overlaps
    emulator.set_latency(0.2)
    try:
        run_cli("sync", "-c", str(cfg_for(tmp_path, emulator, root)), check=True)
    finally:
        emulator.set_latency(0)
    st = emulator.stats()
    assert st["latency"]["peak"] >= 2
    assert st["requests"]["queryDentryId"] == 1
    assert st["requests"]["addFolder"] == 2  # new, new/deeper
    # the root only: a folder made with RETURN_ERROR_IF_EXISTS is known to be empty, so
    # it is not listed for adoption even when the root's listing already shows it
    assert st["requests"]["listDentries"] == 1
    assert st["requests"]["commit"] == 1


def test_an_early_folder_that_exists_is_found_not_doubled(tmp_path, emulator):
    """With state_dir lost, the early add-folder meets the folder that is there (returned,
    not duplicated) and its files are adopted, not uploaded again."""
    root = make_share(tmp_path, {"docs/a.txt": b"a", "docs/b.txt": b"b"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    (docs,) = emulator.tree()["roots"][0]["children"]
    shutil.rmtree(tmp_path / "state")
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    (again,) = emulator.tree()["roots"][0]["children"]
    assert (again["name"], again["uuid"]) == ("docs", docs["uuid"])
    assert sorted(n["name"] for n in again["children"]) == ["a.txt", "b.txt"]
    assert emulator.stats()["requests"].get("commit", 0) == 0
