"""Hardening, seen from outside: `syncd` as a subprocess against the emulator."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from syncd.emulator import Emulator
from tests.conftest import (
    ROOT_UUID,
    events,
    run_as_nobody,
    run_cli,
    write_config,
)
from tests.integration.daemon_proc import DaemonProc

pytestmark = pytest.mark.e2e


def share_with(tmp_path, files: dict[str, bytes]):
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


def test_a_second_syncd_on_one_state_dir_exits_at_once(tmp_path, emulator):
    """`run` holds the state lock: a `sync` (or second `run`) exits 1 naming its pid, while
    `status`, `check` and `--dry-run` never need the lock and never block."""
    root = share_with(tmp_path, {"a.txt": b"a"})
    cfg = cfg_for(tmp_path, emulator, root)
    daemon = DaemonProc(cfg)
    try:
        daemon.wait_event("scan.finished")
        for cmd in (["sync"], ["run"]):
            proc = run_cli(*cmd, "-c", str(cfg), timeout=20)
            assert proc.returncode == 1
            assert (
                f"another syncd (pid {daemon.proc.pid}) is using {tmp_path / 'state'}"
                in proc.stderr
            )
        assert run_cli("status", "-c", str(cfg), timeout=20).returncode == 0
        assert run_cli("check", "--offline", "-c", str(cfg), timeout=20).returncode == 0
        assert run_cli("sync", "--dry-run", "-c", str(cfg), timeout=20).returncode == 0
    finally:
        assert daemon.stop() == 0
    assert emulator.calls("commit") == 1
    assert run_cli("sync", "-c", str(cfg), timeout=30).returncode == 0  # the lock went with it


def test_a_full_state_store_stops_the_pass_with_one_error(tmp_path, emulator):
    """When the state store cannot record uploads (a full disk), the pass stops with one
    state.write_failed naming the file; nothing crashes per file; the next run finishes
    and adopts what was committed but not recorded, without uploading it again."""
    root = share_with(tmp_path, {f"d{i % 5}/f{i}.txt": os.urandom(100) for i in range(200)})
    cfg = cfg_for(tmp_path, emulator, root, workers=4)
    run_cli("sync", "--dry-run", "-c", str(cfg), check=True)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

    proc = subprocess.run(
        [sys.executable, "-m", "syncd", "sync", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
        check=False,
    )
    evs = events(proc.stderr)
    failed = [e for e in evs if e["event"] == "state.write_failed"]
    assert proc.returncode == 1
    assert len(failed) == 1 and str(tmp_path / "state" / "state.db") in failed[0]["path"]
    assert not [e for e in evs if e["event"] == "upload.crashed"]
    assert "Traceback" not in proc.stderr
    committed = emulator.calls("commit")
    assert committed < 200  # uploads stopped
    run_cli("sync", "-c", str(cfg), check=True)
    assert len(emulator.files()) == 200
    assert emulator.calls("commit") == 200  # nothing committed twice: adopted by stamp


def test_an_unknown_parent_fails_the_mapping_once(tmp_path, emulator):
    """A parent_dentry_uuid that does not exist: one mapping.failed with the code and a
    hint, no per-file upload.failed, exit 1."""
    root = share_with(tmp_path, {f"f{i}.txt": b"x" for i in range(5)} | {"sub/g.txt": b"g"})
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(root), "parent_dentry_uuid": "noSuchFolder000000000000000000000"}],
    )
    proc = run_cli("sync", "-c", str(cfg))
    evs = events(proc.stderr)
    assert proc.returncode == 1
    failed = [e for e in evs if e["event"] == "mapping.failed"]
    assert len(failed) == 1 and failed[0]["error_code"] and failed[0]["hint"]
    assert not [e for e in evs if e["event"] == "upload.failed"]
    assert emulator.calls("uploadInfo") == 0


def test_a_parent_the_operator_may_not_write_fails_the_mapping_once(tmp_path):
    """The operator may read the mapping's folder but not write into it (a reader role):
    403 permissionDenied is permanent, so one mapping.failed with the code and a hint, no
    file retried or failed one by one, exit 1."""
    emu = Emulator(folders=[ROOT_UUID], default_role="READER").start()
    try:
        root = share_with(tmp_path, {f"f{i}.txt": b"x" for i in range(30)} | {"sub/g.txt": b"g"})
        mapping = {"local": str(root), "parent_dentry_uuid": ROOT_UUID}
        cfg = write_config(tmp_path, emu, [mapping], sync={"workers": 4})
        proc = run_cli("sync", "-c", str(cfg))
        evs = events(proc.stderr)
        assert proc.returncode == 1
        failed = [e for e in evs if e["event"] == "mapping.failed"]
        assert len(failed) == 1, failed
        assert failed[0]["error_code"] == "permissionDenied" and failed[0]["hint"]
        assert not [e for e in evs if e["event"] in ("upload.failed", "upload.retrying")]
        # only the uploads already in flight when the first answer came (workers: 4)
        assert emu.calls("uploadInfo") + emu.calls("addFolder") <= 4
        assert emu.files() == {}
    finally:
        emu.stop()


def test_counters_tell_the_truth_after_credentials_are_rejected(tmp_path, emulator):
    """Rejected credentials: exit 3, and sync.finished does not claim nothing failed."""
    root = share_with(tmp_path, {"a.txt": b"a", "b.txt": b"b"})
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}],
        dingtalk={"app_secret": "wrong-secret-1234"},
    )
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 3
    finished = next(e for e in events(proc.stderr) if e["event"] == "sync.finished")
    assert finished["failed"] >= 1 and finished["uploaded"] == 0
    assert "wrong-secret-1234" not in proc.stderr


def test_fixing_a_files_permissions_uploads_it(shared_tmp, emulator):
    """A file refused with `permission denied` is uploaded once `chmod 644` fixes it (the
    mtime and size did not change; the ctime did)."""
    root = shared_tmp / "share"
    root.mkdir()
    (shared_tmp / "state").mkdir()
    os.chown(shared_tmp / "state", 65534, 65534)  # the service user's own state dir
    (root / "locked.txt").write_text("secret-ish")
    (root / "locked.txt").chmod(0o000)
    cfg = write_config(
        shared_tmp, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}]
    )
    cfg.chmod(0o644)
    args = ["-m", "syncd", "sync", "-c", str(cfg), "--log-format", "json"]
    first = run_as_nobody(args)
    assert first.returncode == 0, first.stderr
    skipped = [e for e in events(first.stderr) if e["event"] == "upload.skipped"]
    assert skipped and skipped[0]["reason"] == "permission denied"
    (root / "locked.txt").chmod(0o644)
    second = run_as_nobody(args)
    assert second.returncode == 0, second.stderr
    assert "locked.txt" in emulator.files()
    status = run_as_nobody(["-m", "syncd", "status", "-c", str(cfg)])
    assert "permission denied" not in status.stdout


def test_stale_refusals_leave_status(tmp_path, emulator):
    """A refused file that is renamed, deleted or fixed leaves `status` at the next scan."""
    root = share_with(tmp_path, {"bad|name.txt": b"1", "gone*.txt": b"2", "fix<me>.txt": b"3"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    assert run_cli("status", "-c", str(cfg)).stdout.count("invalid name") == 3
    (root / "bad|name.txt").rename(root / "good name.txt")
    (root / "gone*.txt").unlink()
    run_cli("sync", "-c", str(cfg), check=True)
    out = run_cli("status", "-c", str(cfg)).stdout
    assert out.count("invalid name") == 1 and "fix<me>.txt" in out
    assert "good name.txt" in emulator.files()


def test_names_differing_only_in_case_are_refused_not_overwritten(tmp_path, emulator):
    """`Report.txt` and `report.txt` in one folder: the first is uploaded, the second is
    refused with the name it collides with, and listed in status."""
    root = share_with(tmp_path, {"d/Report.txt": b"upper", "d/report.txt": b"lower"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    assert list(emulator.files()) == ["d/Report.txt"]
    out = run_cli("status", "-c", str(cfg)).stdout
    assert "d/report.txt: name differs only in case (from Report.txt)" in out


def test_check_offline_validates_state_dir(tmp_path, emulator):
    """A state_dir that is a file, or cannot be created, is a config problem (exit 3)."""
    root = share_with(tmp_path, {})
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    for bad, message in ((blocker, "not a directory"), (blocker / "sub", "cannot be created")):
        cfg = write_config(
            tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}]
        )
        text = cfg.read_text().replace(str(tmp_path / "state"), str(bad))
        cfg.write_text(text)
        proc = run_cli("check", "--offline", "-c", str(cfg))
        assert proc.returncode == 3 and f"state_dir: {message}" in proc.stderr


def test_a_path_longer_than_path_max_is_listed_as_refused(tmp_path, emulator):
    """A path the remote and most tools cannot take is refused with a reason in status."""
    root = share_with(tmp_path, {})
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(17):
            os.mkdir("p" * 250, dir_fd=fd)
            nxt = os.open("p" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.close(os.open("deep.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    assert "path too long" in run_cli("status", "-c", str(cfg)).stdout
