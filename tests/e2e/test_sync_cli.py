"""`syncd sync` as a subprocess against the emulator: real files, real SQLite, real HTTP."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from syncd.emulator import Emulator
from tests.conftest import ROOT_UUID, events, run_cli, write_config

pytestmark = pytest.mark.e2e


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def tree(tmp_path):
    """A nested tree with non-ASCII names, an empty file and a multi-megabyte file."""
    root = tmp_path / "share"
    files = {
        "readme.txt": b"hello\n",
        "报告/季度 总结.md": "第一季度".encode() * 100,
        "报告/深层/空文件.txt": b"",
        "media/big.bin": os.urandom(5 * 1024 * 1024 + 123),
        "media/naïve café.txt": b"accents",
        "a/b/c/d/e/deep.txt": b"deep",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root, files


def remote_hashes(emu: Emulator) -> dict[str, str]:
    return {path: f["sha256"] for path, f in emu.files().items()}


def test_sync_uploads_tree_then_does_nothing_then_uploads_one_change(tmp_path, emulator, tree):
    """Every file lands byte-identical in the right folder; a rerun makes zero requests;
    one changed file gives exactly one upload, version 2, and no name(1) duplicate."""
    root, files = tree
    cfg = write_config(tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}])
    proc = run_cli("sync", "-c", str(cfg), check=True)
    assert remote_hashes(emulator) == {rel: sha(data) for rel, data in files.items()}
    for rel, data in files.items():
        assert emulator.content(emulator.files()[rel]["uuid"]) == data
    assert set(emulator.folders()) == {
        "报告",
        "报告/深层",
        "media",
        "a",
        "a/b",
        "a/b/c",
        "a/b/c/d",
        "a/b/c/d/e",
    }
    completed = [e for e in events(proc.stderr) if e["event"] == "upload.completed"]
    assert len(completed) == len(files)
    assert {
        "mapping",
        "path",
        "remote_path",
        "size",
        "duration_ms",
        "attempts",
        "dentry_uuid",
        "version",
        "reason",
    } <= set(completed[0])

    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0, emulator.stats()

    (root / "报告/季度 总结.md").write_bytes(b"changed content")
    proc = run_cli("sync", "-c", str(cfg), check=True)
    completed = [e for e in events(proc.stderr) if e["event"] == "upload.completed"]
    assert [e["path"] for e in completed] == ["报告/季度 总结.md"]
    remote = emulator.files()
    assert remote["报告/季度 总结.md"]["version"] == 2
    assert remote["报告/季度 总结.md"]["sha256"] == sha(b"changed content")
    assert len(remote) == len(files)
    assert emulator.stats()["requests"]["commit"] == 1


def test_touch_costs_no_upload(tmp_path, emulator):
    """A new mtime with the same content is settled by hashing, not by uploading."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "t.txt").write_bytes(b"same")
    cfg = write_config(tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}])
    run_cli("sync", "-c", str(cfg), check=True)
    later = time.time() + 100
    os.utime(root / "t.txt", (later, later))
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)  # and the record was refreshed: no hashing loop
    assert emulator.stats()["total"] == 0


def test_dry_run_makes_no_request_and_writes_no_state(tmp_path, emulator, tree):
    """--dry-run plans every file with plan.upload/plan.mkdir, sends nothing, writes nothing."""
    root, files = tree
    cfg = write_config(tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}])
    proc = run_cli("sync", "-c", str(cfg), "--dry-run", check=True)
    evs = events(proc.stderr)
    planned = {e["path"] for e in evs if e["event"] == "plan.upload"}
    assert planned == set(files)
    assert {e["remote_folder"].split("/", 1)[1] for e in evs if e["event"] == "plan.mkdir"} == {
        "报告",
        "报告/深层",
        "media",
        "a",
        "a/b",
        "a/b/c",
        "a/b/c/d",
        "a/b/c/d/e",
    }
    assert emulator.stats()["total"] == 0
    assert not (tmp_path / "state").exists()


def test_a_dry_run_over_a_state_plans_past_a_new_refusal(tmp_path, emulator):
    """A dry-run over an existing state that meets a newly refused name says so and plans
    the other files: it writes no issue (its store is read-only), so it never stops with
    `state.write_failed` (it did, and planned nothing after the refusal)."""
    share = tmp_path / "share"
    share.mkdir()
    (share / "first.txt").write_bytes(b"1")
    cfg = write_config(tmp_path, emulator, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
    run_cli("sync", "-c", str(cfg), check=True)
    (share / "bad*name.txt").write_bytes(b"x")
    (share / "new.txt").write_bytes(b"new")
    before = emulator.stats()["total"]
    proc = run_cli("sync", "-c", str(cfg), "--dry-run", check=True)
    names = [e["event"] for e in events(proc.stderr)]
    assert "state.write_failed" not in names
    assert [e["path"] for e in events(proc.stderr) if e["event"] == "plan.upload"] == ["new.txt"]
    assert [e["path"] for e in events(proc.stderr) if e["event"] == "upload.skipped"] == [
        "bad*name.txt"
    ]
    assert emulator.stats()["total"] == before


def test_dry_run_works_without_credentials(tmp_path):
    """With the credential variables unset, a dry run still plans (and needs no emulator)."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "x.txt").write_text("x")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
dingtalk:
  app_key: ${{NO_SUCH_KEY_VAR}}
  app_secret: ${{NO_SUCH_SECRET_VAR}}
  union_id: ${{NO_SUCH_UNION_VAR}}
state_dir: {tmp_path / "state"}
mappings:
  - local: {root}
    parent_dentry_uuid: {ROOT_UUID}
""")
    proc = run_cli("sync", "-c", str(cfg), "--dry-run", "--log-format", "json", check=True)
    assert [e["path"] for e in events(proc.stderr) if e["event"] == "plan.upload"] == ["x.txt"]
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 3
    assert "NO_SUCH_SECRET_VAR" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_input_is_refused_with_reasons_and_listed_in_status(tmp_path, emulator):
    """Invalid names, symlinks, FIFOs, >5 GiB files and temp files are skipped with reasons."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "ok.txt").write_text("ok")
    (root / "bad|name.txt").write_text("x")
    (root / "trailing.").write_text("x")
    (root / "~$lock.docx").write_text("x")
    (root / "notes.txt.swp").write_text("x")
    os.mkfifo(root / "pipe")
    os.symlink("/etc/hostname", root / "link")
    with open(root / "huge.iso", "wb") as fh:  # sparse: 5 GiB + 1 byte, no disk used
        fh.truncate(5 * 1024**3 + 1)
    cfg = write_config(tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}])
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 0, proc.stderr  # refusals by policy do not fail the run
    skipped = {
        e["path"]: e["reason"] for e in events(proc.stderr) if e["event"] == "upload.skipped"
    }
    assert skipped == {
        "bad|name.txt": "invalid name",
        "trailing.": "invalid name",
        "pipe": "special file",
        "link": "symlink",
        "huge.iso": "too large for single upload (limit 5 GiB)",
    }
    assert set(emulator.files()) == {"ok.txt"}
    proc = run_cli("sync", "-c", str(cfg), check=True)  # reported once per file per change
    assert not [e for e in events(proc.stderr) if e["event"] == "upload.skipped"]
    status = run_cli("status", "-c", str(cfg), "--json", check=True)
    import json

    refused = {i["path"] for i in json.loads(status.stdout)["mappings"][0]["refused"]}
    assert refused == set(skipped)


def test_empty_file_guard_holds_a_truncated_file(tmp_path, emulator):
    """A file that was uploaded non-empty and is now 0 bytes is held, not uploaded."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "data.csv").write_text("1,2,3\n")
    cfg = write_config(tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}])
    run_cli("sync", "-c", str(cfg), check=True)
    (root / "data.csv").write_bytes(b"")
    proc = run_cli("sync", "-c", str(cfg), check=True)
    held = [e for e in events(proc.stderr) if e["event"] == "upload.skipped"]
    assert held and held[0]["reason"] == "empty file would overwrite remote content"
    assert emulator.files()["data.csv"]["size"] == 6
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}],
        sync={"allow_empty_overwrite": True},
    )
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.files()["data.csv"]["size"] == 0


def test_injected_faults_converge_without_loss_or_duplicates(tmp_path, emulator):
    """At a 30 % fault rate on every endpoint, repeated runs end with every file once."""
    root = tmp_path / "share"
    expected = {}
    for i in range(40):
        rel = f"d{i % 4}/f{i}.txt"
        data = f"file {i}".encode() * (i + 1)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        expected[rel] = sha(data)
    for kind in ("5xx", "throttle", "reset"):
        emulator.set_fault("*", kind, rate=0.1)
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}],
        sync={"workers": 4},
    )
    codes = []
    for _ in range(4):
        proc = run_cli("sync", "-c", str(cfg))
        codes.append(proc.returncode)
        if proc.returncode == 0:
            break
    assert codes[-1] == 0, codes
    assert remote_hashes(emulator) == expected
    assert all(f["version"] >= 1 for f in emulator.files().values())
    names = [p.rsplit("/", 1)[-1] for p in emulator.files()]
    assert not [n for n in names if "(" in n]


def test_failed_upload_exits_1_and_is_listed_in_status(tmp_path, emulator):
    """A file that cannot be uploaded makes sync exit 1 and shows in status with its error."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "x.txt").write_text("x")
    emulator.set_fault("commit", "5xx")
    cfg = write_config(tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}])
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 1
    failed = [e for e in events(proc.stderr) if e["event"] == "upload.failed"]
    assert failed and failed[0]["error_code"] in ("systemError", "operationTimeout")
    assert "next_retry" in failed[0]
    out = run_cli("status", "-c", str(cfg), check=True).stdout
    assert "failing: x.txt" in out
    emulator.clear_faults()
    run_cli("sync", "-c", str(cfg), check=True)
    assert "x.txt" in emulator.files()
    assert "failing" not in run_cli("status", "-c", str(cfg), check=True).stdout


def test_rejected_credentials_exit_3(tmp_path, emulator):
    """A wrong app secret stops the run with exit 3 and a clear message, no traceback."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "x.txt").write_text("x")
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}],
        dingtalk={"app_secret": "not-the-secret-123"},
    )
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 3
    assert "rejected the app credentials" in proc.stderr
    assert "not-the-secret-123" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_invalid_config_lists_every_problem_and_exits_3(tmp_path):
    """Every config problem is printed with its key path; exit 3; no traceback."""
    cfg = tmp_path / "c.yaml"
    (tmp_path / "a-file").write_text("not a folder")  # (a missing one waits for its mount)
    cfg.write_text(
        "dingtalk: {app_key: k, app_secret: s, union_id: u}\n"
        f"mappings:\n  - local: {tmp_path / 'a-file'}\n    parent_dentry_uuid: x\n"
        "sync: {workers: many, colour: blue}\n"
    )
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 3
    assert "mappings[0].local" in proc.stderr
    assert "sync.workers" in proc.stderr
    assert "sync.colour" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_secrets_never_reach_output(tmp_path, emulator):
    """Neither the app secret nor the access token nor the OSS signature appear in logs."""
    root = tmp_path / "share"
    root.mkdir()
    (root / "x.txt").write_text("x")
    emulator.expire_tokens()
    cfg = write_config(tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}])
    proc = run_cli("sync", "-c", str(cfg), "--log-level", "debug", check=True)
    out = proc.stdout + proc.stderr
    assert "emulator-app-secret" not in out
    token = emulator.issue_token()
    assert token not in out
    assert "OSS " + emulator.oss_access_key_id not in out
    db = (tmp_path / "state" / "state.db").read_bytes()
    assert b"emulator-app-secret" not in db and token.encode() not in db


def test_check_reports_per_mapping(tmp_path, emulator):
    """`check` gets a token and names the mapping whose folder does not exist."""
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    cfg = write_config(
        tmp_path,
        emulator,
        [
            {"local": str(good), "parent_dentry_uuid": ROOT_UUID},
            {"local": str(bad), "parent_dentry_uuid": "noSuchFolder0000000000000000000000"},
        ],
    )
    proc = run_cli("check", "-c", str(cfg))
    assert proc.returncode == 3
    assert "mappings[0]" in proc.stdout and "OK" in proc.stdout
    assert "mappings[1]" in proc.stdout and "FAILED" in proc.stdout
    assert run_cli("check", "-c", str(cfg), "--offline").returncode == 0


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_sigterm_stops_sync_cleanly_and_the_next_run_finishes(tmp_path, emulator, signame):
    """SIGTERM (or Ctrl-C) during a sync: exit 143 (130) soon, since work was abandoned
    (in-flight uploads finish, the queue is dropped); the next run uploads the rest, each
    file once."""
    import signal
    import subprocess
    import sys

    sig = getattr(signal, signame)
    root = tmp_path / "share"
    root.mkdir()
    for i in range(30):
        (root / f"f{i}.txt").write_text(f"file {i}")
    emulator.set_fault("oss", "slow", delay=1.0)
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}],
        sync={"workers": 2},
    )
    env = {**os.environ}
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "sync", "-c", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    from tests.conftest import wait_until

    wait_until(lambda: emulator.stats()["requests"].get("oss", 0) >= 1, timeout=20)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + sig, err  # work was left for the next run
    assert "Traceback" not in err
    assert "next run" in err
    emulator.clear_faults()
    run_cli("sync", "-c", str(cfg), check=True)
    assert len(emulator.files()) == 30
    assert all(f["version"] == 1 for f in emulator.files().values())
