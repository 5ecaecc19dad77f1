"""What a remote change must prove (issue "Trust"): `syncd` as a subprocess against the
emulator."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from tests.conftest import ROOT_UUID, events, run_cli, write_config

pytestmark = pytest.mark.e2e
COLLEAGUE = "colleague-union-id"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("policy", ["overwrite", "hold"])
def test_a_colleagues_edit_that_kept_the_stamp_is_not_adopted(tmp_path, emulator, policy):
    """Finding 13: an edit inside DingTalk keeps syncd's stamp; with the state lost, the
    local file (the stamp's content) is not adopted as the remote: `remote.changed`, and
    the colleague's version is either overwritten loudly or held, never silently."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "plan.xlsx").write_bytes(b"ours v1")
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}],
        sync={"on_remote_change": policy},
    )
    run_cli("sync", "-c", str(cfg), check=True)
    uuid = emulator.files()["plan.xlsx"]["uuid"]
    emulator.edit(uuid, b"theirs v2", modifier=COLLEAGUE)  # the stamp is kept
    shutil.rmtree(tmp_path / "state")
    proc = run_cli("sync", "-c", str(cfg), "--log-format", "json")
    evs = events(proc.stderr)
    assert not [e for e in evs if e["event"] == "upload.adopted"]
    changed = [e for e in evs if e["event"] == "remote.changed"]
    assert len(changed) == 1 and changed[0]["modifier"] == COLLEAGUE
    remote = emulator.files()["plan.xlsx"]
    if policy == "hold":
        assert remote["sha256"] == sha(b"theirs v2") and remote["version"] == 2
        assert "held: plan.xlsx" in run_cli("status", "-c", str(cfg)).stdout
    else:
        assert remote["sha256"] == sha(b"ours v1") and remote["version"] == 3
        assert changed[0]["version_overwritten"] == 2


def test_our_own_stamped_twin_is_still_adopted(tmp_path, emulator):
    """The modifier of our own commit is ours: a lost state adopts, no upload."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "a.txt").write_bytes(b"ours")
    cfg = write_config(tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}])
    run_cli("sync", "-c", str(cfg), check=True)
    shutil.rmtree(tmp_path / "state")
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg), "--log-format", "json", check=True)
    assert [e["path"] for e in events(proc.stderr) if e["event"] == "upload.adopted"] == ["a.txt"]
    assert emulator.calls("commit") == 0


def test_follow_symlinks_uploads_no_excluded_content(tmp_path, emulator):
    """Finding 10: with `follow_symlinks: true`, links to an excluded `.env` and an ignored
    `*.tmp` upload nothing of them; a link to a synced file is uploaded."""
    root = tmp_path / "share"
    root.mkdir()
    (root / ".env").write_bytes(b"SECRET=canary")
    (root / "build.tmp").write_bytes(b"canary tmp")
    (root / "real.txt").write_bytes(b"real")
    (root / "settings.txt").symlink_to(".env")
    (root / "notes.txt").symlink_to(root / "build.tmp")
    (root / "alias.txt").symlink_to("real.txt")
    mapping = {"local": str(root), "parent_dentry_uuid": ROOT_UUID, "exclude": [".env"]}
    cfg = write_config(tmp_path, emulator, [mapping], sync={"follow_symlinks": True})
    proc = run_cli("sync", "-c", str(cfg), "--log-format", "json")
    assert sorted(emulator.files()) == ["alias.txt", "real.txt"], proc.stderr[-2000:]
    skipped = {e["path"] for e in events(proc.stderr) if e["event"] == "upload.skipped"}
    assert skipped == {"settings.txt", "notes.txt"}
