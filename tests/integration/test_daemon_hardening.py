"""`syncd run` fails fast and loud: credentials, vanished roots, stalled writers."""

from __future__ import annotations

import functools
import json
import os
import re
import resource
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import run_cli, wait_until
from tests.integration import daemon_proc
from tests.integration.daemon_proc import DaemonProc, start

pytestmark = pytest.mark.integration


cfg_for = functools.partial(daemon_proc.cfg_for, settle_seconds=0.2)


def test_rejected_credentials_stop_run_before_ready(tmp_path, emulator, share, daemons):
    """`run` fetches a token before READY=1: rejected credentials exit 3 at once with the
    same message as `sync`, and systemd never hears READY."""
    sock_path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(sock_path)
    server.setblocking(False)
    try:
        cfg = cfg_for(tmp_path, emulator, share, dingtalk={"app_secret": "wrong-secret-5678"})
        d = start(daemons, cfg, env={"NOTIFY_SOCKET": sock_path})
        assert d.proc.wait(timeout=20) == 3
        d.kill()
        text = "".join(d.raw)
        assert "DingTalk rejected the app credentials (invalidClientIdOrSecret" in text
        assert "wrong-secret-5678" not in text
        received = []
        try:
            while True:
                received.append(server.recv(4096).decode())
        except BlockingIOError:
            pass
        assert not any("READY=1" in r for r in received)
    finally:
        server.close()


def test_an_unreachable_api_at_start_is_not_fatal(tmp_path, share, daemons):
    """A network error at start is logged and the daemon runs (the network may come back)."""
    cfg = cfg_for(tmp_path, None, share)
    d = start(daemons, cfg)
    d.wait_event("token.failed")
    d.wait_event("daemon.started")
    assert d.stop() == 0


def test_a_vanished_root_is_reported_watched_for_and_rescanned(tmp_path, emulator, share, daemons):
    """`mv share share.gone`: mapping.failed (local folder missing), not an empty share every
    hour; when it is back it is watched again and rescanned at once."""
    (share / "a.txt").write_bytes(b"a")
    d = start(daemons, cfg_for(tmp_path, emulator, share))
    d.wait_event("upload.completed", path="a.txt")
    os.rename(share, tmp_path / "share.gone")
    failed = d.wait_event("mapping.failed", timeout=20)
    assert failed["reason"] == "local folder missing"
    (tmp_path / "share.gone" / "b.txt").write_bytes(b"b, added while it was away")
    os.rename(tmp_path / "share.gone", share)
    d.wait_event("mapping.recovered", timeout=20)
    d.wait_event("upload.completed", path="b.txt", timeout=20)
    (share / "c.txt").write_bytes(b"c")  # watched again
    d.wait_event("upload.completed", path="c.txt", timeout=20)
    assert d.stop() == 0
    assert sorted(emulator.files()) == ["a.txt", "b.txt", "c.txt"]
    assert all(f["version"] == 1 for f in emulator.files().values())


def test_a_root_replaced_by_another_folder_is_watched_and_rescanned(
    tmp_path, emulator, share, daemons
):
    """`mv share share.old && mkdir share`: the new folder (another inode) is watched and
    rescanned; what is written into the moved-away one afterwards is never uploaded."""
    (share / "a.txt").write_bytes(b"a")
    d = start(daemons, cfg_for(tmp_path, emulator, share))
    d.wait_event("upload.completed", path="a.txt")
    os.rename(share, tmp_path / "share.old")
    share.mkdir()
    (share / "b.txt").write_bytes(b"b, in the new folder")
    replaced = d.wait_event("mapping.replaced", timeout=20)
    assert replaced["mapping"] == str(share)
    d.wait_event("upload.completed", path="b.txt", timeout=20)
    (tmp_path / "share.old" / "old.txt").write_bytes(b"written where the share used to be")
    (share / "c.txt").write_bytes(b"c")  # the new folder is watched
    d.wait_event("upload.completed", path="c.txt", timeout=20)
    assert d.stop() == 0
    assert sorted(emulator.files()) == ["a.txt", "b.txt", "c.txt"]


def test_run_checks_the_remote_on_its_interval_and_puts_back_what_was_deleted(
    tmp_path, emulator, share, daemons
):
    """`remote_check_interval_seconds`: the daemon lists the remote by itself and uploads
    again a file a colleague deleted inside DingTalk, while local changes still flow."""
    (share / "a.txt").write_bytes(b"a")
    d = start(daemons, cfg_for(tmp_path, emulator, share, remote_check_interval_seconds=1))
    d.wait_event("upload.completed", path="a.txt")
    emulator.delete(emulator.files()["a.txt"]["uuid"])
    (share / "b.txt").write_bytes(b"b")
    d.wait_event("upload.completed", path="b.txt", timeout=20)
    checked = d.wait_event("remote.checked", deleted=1, timeout=20)
    assert checked["mapping"] == str(share)
    d.wait_event("upload.completed", path="a.txt", reason="deleted remotely", timeout=20)
    assert d.stop() == 0
    assert sorted(emulator.files()) == ["a.txt", "b.txt"]


def test_a_full_state_store_pauses_uploads_until_it_can_record_again(
    tmp_path, emulator, share, daemons
):
    """run: when the store cannot record (RLIMIT_FSIZE as a full disk), one
    state.write_failed, uploads pause instead of piling up unrecorded commits; once the
    store can write again (the limit lifted on the running process) state.recovered, and
    every file lands exactly once (the unrecorded ones adopted by their stamp)."""
    for i in range(200):
        (share / f"d{i % 5}" / f"f{i}.txt").parent.mkdir(exist_ok=True)
        (share / f"d{i % 5}" / f"f{i}.txt").write_bytes(os.urandom(100))

    def small_files() -> None:  # the soft limit only, so the test can lift it again
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, resource.RLIM_INFINITY))

    cfg = cfg_for(tmp_path, emulator, share, workers=4)
    d = DaemonProc(cfg, "--log-level", "debug", preexec=small_files)
    daemons.append(d)
    failed = d.wait_event("state.write_failed", timeout=60)
    assert str(tmp_path / "state" / "state.db") in failed["path"]
    paused_at = emulator.calls("commit")
    assert paused_at < 200
    (share / "late.txt").write_bytes(b"written while the store is full")
    d.wait_event("state.still_failing", timeout=30)  # a probe, seconds later
    assert emulator.calls("commit") <= paused_at + 4  # at most the uploads in flight
    resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    d.wait_event("state.recovered", timeout=30)
    wait_until(lambda: len(emulator.files()) == 201, timeout=60)
    assert d.stop() == 0
    assert emulator.calls("commit") == 201  # nothing committed twice
    assert {f["version"] for f in emulator.files().values()} == {1}
    assert d.count("state.write_failed") == 1
    assert not [line for line in d.raw if "Traceback" in line]


def test_a_new_empty_file_waits_for_a_stalled_writer(tmp_path, emulator, share, daemons):
    """A file created empty and written after settle_seconds lands once, with its content,
    not first as a 0-byte version 1."""
    d = start(daemons, cfg_for(tmp_path, emulator, share))
    d.wait_event("scan.finished")
    path = share / "report.csv"
    path.write_bytes(b"")
    time.sleep(3.0)  # the stalled writer is the behaviour under test
    path.write_bytes(b"a,b,c\n1,2,3\n")
    done = d.wait_event("upload.completed", path="report.csv", timeout=30)
    assert done["size"] == 12
    assert d.stop() == 0
    assert emulator.files()["report.csv"]["version"] == 1


def test_run_converges_after_a_storm_of_faults(tmp_path, emulator, share, daemons):
    """A fault on a fifth or more of the calls to every endpoint (5xx, throttling with
    each code and body, resets) and on two in five commits (answers lost, lost as a 503, or
    unreadable) while files arrive: within a minute of the faults stopping every file is
    there, once, at version 1 (no lost file, no duplicate, no spurious version)."""

    def write(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            (share / f"d{i % 4}" / f"f{i}.txt").parent.mkdir(exist_ok=True)
            (share / f"d{i % 4}" / f"f{i}.txt").write_bytes(os.urandom(200))

    write(0, 40)
    for kind, rate in (("5xx", 0.08), ("throttle", 0.08), ("reset", 0.05)):
        emulator.set_fault("*", kind, rate=rate)
    emulator.set_fault("uploadInfo", "qpsapi", rate=0.05)
    emulator.set_fault("oss", "throttlejson", rate=0.05)
    for kind, rate in (("lost", 0.1), ("lost5xx", 0.05), ("badnumbers", 0.05)):
        emulator.set_fault("commit", kind, rate=rate)
    d = start(daemons, cfg_for(tmp_path, emulator, share, workers=4))
    d.wait_event("scan.finished", timeout=60)
    write(40, 60)  # arriving while the faults go on
    d.wait_for(lambda evs: len(emulator.files()) >= 30, timeout=60, what="half the files")
    emulator.clear_faults()
    d.wait_for(lambda evs: len(emulator.files()) == 60, timeout=60, what="all 60 files")
    assert d.stop() == 0
    files = emulator.files()
    assert all(f["version"] == 1 for f in files.values())
    assert not [p for p in files if "(" in p]


def test_a_polled_mapping_picks_up_changes_without_events(tmp_path, emulator, share, daemons):
    """watch.mode: poll (what auto picks on NFS/SMB/FUSE): no inotify watch, one
    watch.polling line, and new, changed and deleted files are noticed by the polls."""
    (share / "a.txt").write_bytes(b"a")
    (share / "c.txt").write_bytes(b"c")
    cfg = cfg_for(tmp_path, emulator, share, deletes="trash", max_delete_percent=100)
    cfg.write_text(cfg.read_text() + "watch:\n  mode: poll\n  poll_interval_seconds: 0.5\n")
    d = start(daemons, cfg)
    polling = d.wait_event("watch.polling")
    assert polling["reason"] == "watch.mode: poll"
    assert d.wait_event("daemon.started")["watching"] == 0
    d.wait_event("upload.completed", path="a.txt")
    (share / "b.txt").write_bytes(b"b")
    d.wait_event("upload.completed", path="b.txt", timeout=20)
    (share / "a.txt").write_bytes(b"a changed")
    d.wait_for(lambda evs: emulator.files()["a.txt"]["version"] == 2, timeout=20, what="a v2")
    (share / "c.txt").unlink()
    d.wait_event("file.trashed", path="c.txt", timeout=20)
    assert d.stop() == 0
    assert "c.txt" not in emulator.files()


def test_status_of_a_running_daemon_for_people_and_for_scripts(tmp_path, emulator, share, daemons):
    """`syncd status` beside a running daemon: its pid and liveness, human sizes, ISO-8601
    UTC times (also in --json), one block per mapping; `status | head` leaves quietly."""
    (share / "a.txt").write_bytes(b"x" * 3000)
    (share / "bad|name.txt").write_bytes(b"refused")
    cfg = cfg_for(tmp_path, emulator, share)
    d = start(daemons, cfg)
    d.wait_event("upload.completed", path="a.txt")
    d.wait_event("scan.finished")
    text = run_cli("status", "-c", str(cfg), check=True).stdout
    assert f"running, pid {d.proc.pid}" in text
    assert "2.9 KiB" in text and "bad|name.txt" in text and "((" not in text
    data = json.loads(run_cli("status", "--json", "-c", str(cfg), check=True).stdout)
    assert data["daemon"]["running"] is True and data["daemon"]["pid"] == d.proc.pid
    [m] = data["mappings"]
    assert m["local"] == str(share)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["last_upload"]), m
    reader_gone = subprocess.Popen(
        [sys.executable, "-m", "syncd", "status", "-c", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader_gone.stdout.close()  # like `| head -0`: nobody reads what status prints
    err = reader_gone.communicate(timeout=30)[1]
    assert reader_gone.returncode == 0 and "Traceback" not in err, err
    assert d.stop() == 0
    assert "not running" in run_cli("status", "-c", str(cfg), check=True).stdout


def test_run_starts_before_the_share_is_mounted(tmp_path, emulator, share, daemons):
    """A mapped folder missing at start (a share mounted late) is not a config error: `run`
    starts, reports mapping.failed (local folder missing) and syncs it once it appears."""
    cfg = cfg_for(tmp_path, emulator, share)
    os.rename(share, tmp_path / "share.later")
    d = start(daemons, cfg)
    failed = d.wait_event("mapping.failed", timeout=20)
    assert failed["reason"] == "local folder missing"
    d.wait_event("daemon.started")
    (tmp_path / "share.later" / "a.txt").write_bytes(b"a, on the share")
    os.rename(tmp_path / "share.later", share)
    d.wait_event("mapping.recovered", timeout=20)
    d.wait_event("upload.completed", path="a.txt", timeout=20)
    (share / "b.txt").write_bytes(b"b")  # and it is watched
    d.wait_event("upload.completed", path="b.txt", timeout=20)
    assert d.stop() == 0
    assert sorted(emulator.files()) == ["a.txt", "b.txt"]
