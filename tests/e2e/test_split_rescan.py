"""`sync` over a share wide enough to share its rescan with a helper process (`walk_shared`):
what it does to the remote is what a single walk would do, whoever walked which folder."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import ROOT_UUID, events, run_cli, write_config

pytestmark = pytest.mark.e2e
FOLDERS, PER_FOLDER = 24, 20


def _local_files(root) -> set[str]:
    out = set()
    for dirpath, _, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            out.add(rel.replace(os.sep, "/"))
    return out


def test_a_shared_rescan_changes_the_remote_as_one_walk_would(tmp_path, emulator):
    """Edits, a move across subtrees, a renamed folder (handed back to the parent), a new
    folder, deletes into the trash and a refused name, spread over the share: each done
    once, nothing else trashed; the next rescan makes no request at all."""
    root = tmp_path / "share"
    for i in range(FOLDERS):
        (root / f"d{i:02d}").mkdir(parents=True)
        for j in range(PER_FOLDER):
            (root / f"d{i:02d}" / f"f{j}.txt").write_bytes(b"%d-%d" % (i, j))
    (root / "top.txt").write_bytes(b"top")
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}],
        sync={"deletes": "trash", "workers": 8},
    )
    run_cli("sync", "-c", str(cfg), check=True)
    before = emulator.files()
    folder_uuid = emulator.folders()["d13"]["uuid"]

    (root / "d03" / "f0.txt").write_bytes(b"changed")
    (root / "d05" / "f1.txt").rename(root / "d17" / "moved.txt")
    (root / "d09" / "f2.txt").unlink()
    shutil.rmtree(root / "d11")
    os.rename(root / "d13", root / "renamed13")
    (root / "new" / "deep").mkdir(parents=True)
    (root / "new" / "deep" / "n.txt").write_bytes(b"n")
    (root / "d19" / "bad|name.txt").write_bytes(b"refused")
    emulator.reset_stats()
    proc = run_cli(
        "--log-level", "debug", "--log-format", "json", "sync", "-c", str(cfg), check=True
    )

    seen = events(proc.stderr)
    assert any(e["event"] == "scan.shared" for e in seen)
    remote = emulator.files()
    trash = {p.split("/", 2)[2] for p in remote if p.startswith(".syncd-trash/")}
    assert trash == {"d09/f2.txt"} | {f"d11/f{j}.txt" for j in range(PER_FOLDER)}
    synced = {p for p in remote if not p.startswith(".syncd-trash/")}
    assert synced == _local_files(root) - {"d19/bad|name.txt", ".syncd-root"}
    assert remote["d17/moved.txt"]["uuid"] == before["d05/f1.txt"]["uuid"]
    assert emulator.folders()["renamed13"]["uuid"] == folder_uuid
    requests = emulator.stats()["requests"]
    assert requests.get("commit") == 2  # the edit and the new file, nothing else
    skipped = [e for e in seen if e["event"] == "upload.skipped"]
    assert [e["path"] for e in skipped] == ["d19/bad|name.txt"]

    emulator.reset_stats()
    proc = run_cli("--log-level", "debug", "--log-format", "json", "sync", "-c", str(cfg))
    assert proc.returncode == 0
    assert emulator.stats()["total"] == 0
    seen = events(proc.stderr)
    assert any(e["event"] == "scan.shared" for e in seen)
    assert not [e for e in seen if e["event"] in ("file.trashed", "folder.trashed")]
