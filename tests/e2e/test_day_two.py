"""Day two as an operator meets it: a share not mounted yet, and `status` telling all."""

from __future__ import annotations

import hashlib
import json
import os

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


COLLEAGUE = "colleague-union-id"


def _held(tmp_path, emulator):
    """plan.xlsx edited remotely by a colleague and locally: held (on_remote_change: hold)."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "plan.xlsx").write_bytes(b"ours v1")
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}],
        sync={"on_remote_change": "hold"},
    )
    run_cli("sync", "-c", str(cfg), check=True)
    emulator.edit(emulator.files()["plan.xlsx"]["uuid"], b"theirs v2", modifier=COLLEAGUE)
    (root / "plan.xlsx").write_bytes(b"ours v2, longer")
    run_cli("sync", "-c", str(cfg))
    assert "held: plan.xlsx" in run_cli("status", "-c", str(cfg)).stdout
    return root, cfg


@pytest.mark.parametrize("choice", ["keep-local", "keep-remote", "keep-both"])
def test_resolve_without_a_daemon_is_carried_out_by_the_next_sync(tmp_path, emulator, choice):
    root, cfg = _held(tmp_path, emulator)
    proc = run_cli("resolve", "-c", str(cfg), str(root / "plan.xlsx"), f"--{choice}")
    assert proc.returncode == 0, proc.stderr
    assert "queued: no daemon runs; the next `syncd sync`" in proc.stdout
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 0, proc.stderr
    (done,) = [e for e in events(proc.stderr) if e["event"] == "hold.resolved"]
    assert done["resolution"] == choice
    files = emulator.files()
    if choice == "keep-local":
        assert files["plan.xlsx"]["sha256"] == sha(b"ours v2, longer")
        assert "version 2 in the file's version history" in done["restore"]
    elif choice == "keep-remote":
        assert files["plan.xlsx"]["sha256"] == sha(b"theirs v2") and len(files) == 1
        emulator.reset_stats()
        run_cli("sync", "-c", str(cfg), check=True)
        assert emulator.stats()["total"] == 0  # accepted: nothing sent, nothing held
        (root / "plan.xlsx").write_bytes(b"ours v3")  # until ours changes again
        run_cli("sync", "-c", str(cfg), check=True)
        assert emulator.files()["plan.xlsx"]["sha256"] == sha(b"ours v3")
    else:
        assert files["plan.xlsx"]["sha256"] == sha(b"theirs v2")
        (copy,) = [p for p in files if p.startswith("plan (conflict ")]
        assert files[copy]["sha256"] == sha(b"ours v2, longer")
    status = run_cli("status", "-c", str(cfg)).stdout
    assert "held:" not in status and "hold resolved: plan.xlsx: " + choice in status


def test_resolve_and_retry_refuse_what_is_not_theirs_to_act_on(tmp_path, emulator):
    root, cfg = _held(tmp_path, emulator)
    proc = run_cli("resolve", "-c", str(cfg), str(tmp_path / "elsewhere.txt"), "--keep-local")
    assert proc.returncode == 1 and "is in no mapping (mapped folders: " in proc.stderr
    (root / "other.txt").write_bytes(b"x")
    proc = run_cli("resolve", "-c", str(cfg), str(root / "other.txt"), "--keep-local")
    assert proc.returncode == 1 and "other.txt is not held" in proc.stderr
    assert run_cli("retry", "-c", str(cfg)).returncode == 2
    proc = run_cli("retry", "-c", str(cfg), "--all")
    assert (proc.returncode, proc.stdout) == (0, "no failing file\n")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("command", ["retry", "resolve"])
def test_the_new_commands_have_help_with_exit_codes_and_an_example(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0
    assert "exit codes: 0 " in proc.stdout and f"example: syncd {command} " in proc.stdout
    assert command in run_cli("completion", "bash", check=True).stdout


def _offline(tmp_path, dingtalk: dict) -> tuple[int, str, str]:
    here = tmp_path / "here"
    here.mkdir(exist_ok=True)
    cfg = tmp_path / "c.yaml"
    mapping = f"mappings:\n  - local: {here}\n    parent_dentry_uuid: {ROOT_UUID}\n"
    body = "".join(f"  {k}: {v!r}\n" for k, v in dingtalk.items())
    cfg.write_text(("dingtalk:\n" + body if body else "") + mapping)
    assert "CREDENTIALS_DIRECTORY" not in os.environ  # as for an operator at a shell
    proc = run_cli("check", "--offline", "-c", str(cfg))
    return proc.returncode, proc.stdout, proc.stderr


def test_check_offline_fails_on_missing_credentials_and_unusable_literal_secret_files(tmp_path):
    """No app_key, secret or union_id, or a literal secret path that is missing or a folder:
    exit 3 naming each; a secret only the unit provides is a note, not a failure."""
    code, _, err = _offline(tmp_path, {})
    assert code == 3
    for problem in (
        "dingtalk.app_key: required",
        "dingtalk.app_secret: required (or app_secret_file)",
        "dingtalk.union_id: required",
    ):
        assert problem in err
    keys = {"app_key": "k", "union_id": "u"}
    missing = tmp_path / "no-such.secret"
    code, _, err = _offline(tmp_path, {**keys, "app_secret_file": str(missing)})
    assert code == 3 and f"dingtalk.app_secret_file: cannot read {missing}: No such file" in err
    code, _, err = _offline(tmp_path, {**keys, "app_secret_file": str(tmp_path)})
    assert code == 3 and f"cannot read {tmp_path}: Is a directory" in err
    unit = "${CREDENTIALS_DIRECTORY}/dingtalk-app-secret"
    code, out, err = _offline(tmp_path, {**keys, "app_secret_file": unit})
    assert code == 0, err
    assert "OK" in out and "read when the service starts" in out
