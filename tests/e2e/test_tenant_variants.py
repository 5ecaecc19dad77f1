"""syncd's promises on each tenant variant (dingtalk-api.md §15.3): the fallbacks, end to
end, `syncd` as a subprocess against the emulator playing the variant."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from tests.conftest import ROOT_UUID, events, run_cli, write_config

pytestmark = pytest.mark.e2e


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_share(tmp_path, files: dict[str, bytes]):
    root = tmp_path / "share"
    root.mkdir(exist_ok=True)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def cfg_for(tmp_path, emulator, root, **sync):
    return write_config(
        tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}], sync=sync
    )


def named(proc, event: str) -> list[dict]:
    return [e for e in events(proc.stderr) if e["event"] == event]


# -- listings without our stamp --------------------------------------------------------
@pytest.mark.parametrize("strategy", ["AUTO_RENAME", "OVERWRITE"])
@pytest.mark.parametrize("probed", [True, False])
def test_lost_commit_answers_never_duplicate_without_the_stamp_in_listings(
    tmp_path, emulator, strategy, probed
):
    """Listings without app properties, 30 % of commit answers lost after the commit was
    applied: the lookup reads the stamp with get-dentry, so no `name(1)` and no extra
    version, whether the space was probed first or the app's id is learnt on the way."""
    emulator.set_variant("listing-without-app-properties")
    files = {f"f{i}.txt": os.urandom(50) for i in range(30)}
    root = make_share(tmp_path, {} if probed else {"first.txt": b"first"})
    cfg = cfg_for(tmp_path, emulator, root, conflict_strategy=strategy, workers=1)
    if probed:
        run_cli("check", "--probe", "-c", str(cfg), check=True)
    else:  # a first file lands before the faults: its answer shows the app's id
        run_cli("sync", "-c", str(cfg), check=True)
        files["first.txt"] = b"first"
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    emulator.set_fault("commit", "lost", rate=0.2)
    emulator.set_fault("commit", "lost5xx", rate=0.1)
    proc = run_cli("sync", "-c", str(cfg), check=True)
    assert named(proc, "commit.recovered")  # the faults did hit
    assert sorted(emulator.files()) == sorted(files)
    assert all(f["version"] == 1 for f in emulator.files().values())
    if strategy == "AUTO_RENAME":
        return
    changed = list(files)[:10]
    for rel in changed:
        (root / rel).write_bytes(os.urandom(60))
    run_cli("sync", "-c", str(cfg), check=True)
    remote = emulator.files()
    assert sorted(remote) == sorted(files)
    assert all(f["version"] == (2 if p in changed else 1) for p, f in remote.items())


def test_a_lost_state_dir_adopts_by_get_dentry_without_the_stamp_in_listings(tmp_path, emulator):
    """State lost, listings without the stamp: every twin is adopted, not uploaded again,
    at one get-dentry per file in doubt."""
    emulator.set_variant("listing-without-app-properties")
    files = {f"d{i % 3}/f{i}.txt": os.urandom(64) for i in range(20)}
    root = make_share(tmp_path, files)
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    app_id_kept = tmp_path / "state"
    assert app_id_kept.exists()
    shutil.rmtree(tmp_path / "state")
    run_cli("check", "--probe", "-c", str(cfg), check=True)  # as the README says: probe first
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg), check=True)
    stats = emulator.stats()["requests"]
    assert stats.get("commit", 0) == 0 and stats.get("oss", 0) == 0
    assert stats.get("getDentry", 0) == 20
    assert len(named(proc, "upload.adopted")) == 20


# -- upload info refusing a name that exists -------------------------------------------
def test_changed_files_land_when_upload_info_refuses_existing_names(tmp_path, emulator):
    """Upload info answers dentryNameConflict for a name that exists: every changed file
    still lands as a new version (step 1 asked again without the name, then without it
    from the start), and nothing is left failing."""
    emulator.set_variant("upload-info-refuses-existing-name")
    files = {f"f{i}.txt": b"v1 %d" % i for i in range(6)}
    root = make_share(tmp_path, files)
    cfg = cfg_for(tmp_path, emulator, root, workers=1)
    run_cli("sync", "-c", str(cfg), check=True)
    for rel in files:
        (root / rel).write_bytes(b"v2, longer %s" % rel.encode())
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg), check=True)
    assert not named(proc, "upload.failed")
    remote = emulator.files()
    assert all(remote[p]["version"] == 2 for p in files)
    assert all(remote[p]["sha256"] == sha(b"v2, longer %s" % p.encode()) for p in files)
    assert emulator.calls("uploadInfo") == len(files) + 1  # one refusal, then learnt
    learned = named(proc, "capability.learned")
    assert [e["capability"] for e in learned] == ["upload_info_accepts_existing_name"]


# -- no folder API -----------------------------------------------------------------------
def test_without_the_folder_api_root_files_land_and_subfolders_fail_once(tmp_path, emulator):
    """add-folder answers operationNotSupported: the root files land, the subfolders'
    files fail with one `mapping.failed` naming the capability and the fix, not one
    `upload.failed` per file; `sync` exits 1."""
    emulator.set_variant("no-folder-api")
    files = {"a.txt": b"a", "b.txt": b"b", **{f"sub{i % 3}/f{i}.txt": b"%d" % i for i in range(30)}}
    root = make_share(tmp_path, files)
    cfg = cfg_for(tmp_path, emulator, root)
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 1
    assert sorted(emulator.files()) == ["a.txt", "b.txt"]
    assert not named(proc, "upload.failed")
    [failed] = named(proc, "mapping.failed")
    assert failed["capability"] == "add_folder" and "subfolders: false" in failed["hint"]
    assert "Traceback" not in proc.stderr


# -- no rename / move --------------------------------------------------------------------
def test_without_rename_and_move_a_rename_is_an_upload_logged_once(tmp_path, emulator):
    """rename and move answer operationNotSupported: a local rename is uploaded at the new
    name (as `renames: upload`), said once; the next rename makes no rename call at all."""
    emulator.set_variant("no-rename-move")
    root = make_share(tmp_path, {"a.txt": b"a", "b.txt": b"b", "c.txt": b"c"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    (root / "a.txt").rename(root / "a2.txt")
    (root / "b.txt").rename(root / "b2.txt")
    proc = run_cli("sync", "-c", str(cfg), check=True)
    assert {"a2.txt", "b2.txt", "c.txt"} <= set(emulator.files())
    assert emulator.files()["a2.txt"]["sha256"] == sha(b"a")
    assert len(named(proc, "renames.unsupported")) == 1
    assert not named(proc, "upload.failed")
    (root / "c.txt").rename(root / "c2.txt")
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.calls("rename") == 0 and emulator.calls("move") == 0
    assert emulator.files()["c2.txt"]["sha256"] == sha(b"c")
