"""`syncd run` against the emulator: real watchdog observers on temp dirs, real HTTP.

Every wait has a timeout; sleeps appear only where slow writing is the behaviour under test.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import socket
import threading
import time

import pytest
from structlog.testing import capture_logs
from watchdog.observers import Observer

from syncd.config import load
from syncd.daemon.loop import Daemon
from syncd.state.store import StateStore
from tests.conftest import ROOT_UUID, wait_until, write_config
from tests.integration.daemon_proc import cfg_for, start

pytestmark = pytest.mark.integration


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def remote(emulator, rel):
    return emulator.files().get(rel)


def test_reconcile_then_new_file_then_restart_uploads_nothing(tmp_path, emulator, share, daemons):
    """Files present at start are uploaded; a new file once after it settles; a restart over
    synced files makes no request; a file changed while down is uploaded at start."""
    (share / "pre.txt").write_bytes(b"before start")
    cfg = cfg_for(tmp_path, emulator, share)
    d = start(daemons, cfg)
    d.wait_event("upload.completed", path="pre.txt")
    (share / "new.txt").write_bytes(b"new file")
    d.wait_event("upload.completed", path="new.txt")
    assert d.stop() == 0
    assert emulator.stats()["requests"]["commit"] == 2

    emulator.reset_stats()
    d = start(daemons, cfg)
    d.wait_event("scan.finished")
    assert d.stop() == 0
    assert emulator.stats()["requests"] == {"token": 1}  # the fail-fast check at start

    (share / "new.txt").write_bytes(b"changed while the daemon was down")
    d = start(daemons, cfg)
    d.wait_event("upload.completed", path="new.txt")
    assert remote(emulator, "new.txt")["version"] == 2
    assert remote(emulator, "new.txt")["sha256"] == sha(b"changed while the daemon was down")
    assert d.stop() == 0


def test_atomic_save_and_temp_files(tmp_path, emulator, share, daemons):
    """A temp file renamed over the target uploads the final content; temp and lock files
    of office suites and editors are never uploaded."""
    (share / "report.docx").write_bytes(b"v1")
    d = start(daemons, cfg_for(tmp_path, emulator, share))
    d.wait_event("upload.completed", path="report.docx")
    (share / ".~lock.report.docx#").write_bytes(b"lock")
    (share / "~$report.docx").write_bytes(b"owner")
    (share / ".report.docx.swp").write_bytes(b"swap")
    tmp = share / "report.docx.tmp"
    tmp.write_bytes(b"version two, saved atomically")
    os.replace(tmp, share / "report.docx")
    d.wait_for(lambda evs: remote(emulator, "report.docx")["version"] == 2, what="version 2")
    assert remote(emulator, "report.docx")["sha256"] == sha(b"version two, saved atomically")
    assert set(emulator.files()) == {"report.docx"}
    assert d.stop() == 0
    assert d.count("upload.completed", path="report.docx") == 2


def test_slow_writer_is_committed_once_with_final_bytes(tmp_path, emulator, share, daemons):
    """A file written slowly over about 3 s is uploaded once, after it stopped changing."""
    d = start(daemons, cfg_for(tmp_path, emulator, share, settle_seconds=1.0))
    d.wait_event("daemon.started")
    chunks = [os.urandom(50_000) for _ in range(10)]
    with open(share / "slow.bin", "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
            fh.flush()
            time.sleep(0.3)  # the slow copy is the behaviour under test
    d.wait_event("upload.completed", path="slow.bin", timeout=20)
    assert remote(emulator, "slow.bin")["sha256"] == sha(b"".join(chunks))
    assert d.stop() == 0
    assert d.count("upload.completed", path="slow.bin") == 1
    assert emulator.stats()["requests"]["commit"] == 1


def test_tree_moved_in_is_uploaded_completely(tmp_path, emulator, share, daemons):
    """A folder tree moved into the mapping (no per-file events) is uploaded whole."""
    d = start(daemons, cfg_for(tmp_path, emulator, share))
    d.wait_event("daemon.started")
    outside = tmp_path / "outside" / "project"
    expected = {}
    for i in range(30):
        rel = f"project/part{i % 3}/sub{i % 2}/file{i}.txt"
        p = tmp_path / "outside" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f"content {i}".encode())
        expected[rel] = sha(f"content {i}".encode())
    shutil.move(str(outside), str(share / "project"))
    d.wait_for(lambda evs: len(emulator.files()) == 30, timeout=20, what="30 files")
    assert {p: f["sha256"] for p, f in emulator.files().items()} == expected
    assert d.stop() == 0


def test_burst_gives_exactly_one_commit_each(tmp_path, emulator, share, daemons):
    """Hundreds of files dropped at once: every file committed exactly once."""
    d = start(daemons, cfg_for(tmp_path, emulator, share, workers=4))
    d.wait_event("daemon.started")
    for i in range(300):
        (share / f"burst{i:03}.txt").write_bytes(f"burst {i}".encode())
    d.wait_for(lambda evs: len(emulator.files()) == 300, timeout=60, what="300 files")
    # let any duplicate work show itself: wait until the daemon is idle again
    d.wait_for(lambda evs: d.count("upload.completed") >= 300, timeout=30, what="300 lines")
    assert d.stop() == 0
    assert emulator.stats()["requests"]["commit"] == 300
    assert all(f["version"] == 1 for f in emulator.files().values())


def test_sigterm_during_uploads_exits_0_in_time_and_next_start_finishes(
    tmp_path, emulator, share, daemons
):
    """SIGTERM while PUTs hang: exit 0 within shutdown_timeout; the next start uploads the rest."""
    for i in range(8):
        (share / f"f{i}.bin").write_bytes(os.urandom(1000) + bytes([i]))
    os.utime(share, None)
    emulator.set_fault("oss", "slow", delay=5.0)
    cfg = cfg_for(tmp_path, emulator, share, workers=2, shutdown_timeout_seconds=1)
    d = start(daemons, cfg)
    wait_until(
        lambda: emulator.stats()["requests"].get("oss", 0) >= 1,
        timeout=15,
        message="a PUT in flight",
    )
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.proc.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 5
    d.stop()
    d.wait_event("daemon.stopping")
    emulator.clear_faults()
    d = start(daemons, cfg)
    d.wait_for(lambda evs: len(emulator.files()) == 8, timeout=30, what="8 files")
    assert d.stop() == 0
    assert all(f["version"] == 1 for f in emulator.files().values())


def test_sighup_adds_a_mapping_and_bad_config_keeps_the_old(tmp_path, emulator, share, daemons):
    """SIGHUP applies an added mapping without re-uploading; a broken config is rejected."""
    (share / "a.txt").write_bytes(b"a")
    second = tmp_path / "second"
    second.mkdir()
    (second / "b.txt").write_bytes(b"b")
    cfg = cfg_for(tmp_path, emulator, share)
    d = start(daemons, cfg)
    d.wait_event("upload.completed", path="a.txt")
    cfg.write_text(cfg.read_text().replace("sync:", "syncc:"))
    d.signal(signal.SIGHUP)
    failed = d.wait_event("config.reload_failed")
    assert any("syncc" in p for p in failed["problems"])
    other = emulator.mkdir(ROOT_UUID, "second")  # a remote folder of its own
    write_config(
        tmp_path,
        emulator,
        [
            {"local": str(share), "parent_dentry_uuid": ROOT_UUID},
            {"local": str(second), "parent_dentry_uuid": other},
        ],
        sync={"settle_seconds": 0.3},
    )
    d.signal(signal.SIGHUP)
    d.wait_event("config.reloaded")
    d.wait_event("upload.completed", path="b.txt")
    (second / "c.txt").write_bytes(b"c")
    d.wait_event("upload.completed", path="c.txt")
    assert d.stop() == 0
    assert d.count("upload.completed", path="a.txt") == 1


def test_notify_protocol(tmp_path, emulator, share, daemons):
    """READY=1, STATUS=, WATCHDOG=1 (with WATCHDOG_USEC) and STOPPING=1 reach the socket."""
    sock_path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(sock_path)
    server.settimeout(10)
    try:
        d = start(
            daemons,
            cfg_for(tmp_path, emulator, share),
            env={"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "400000"},
        )
        seen: list[str] = []

        def receive_until(pred):
            deadline = time.monotonic() + 10
            while not pred() and time.monotonic() < deadline:
                seen.extend(server.recv(4096).decode().split("\n"))
            return pred()

        assert receive_until(lambda: "READY=1" in seen)
        assert receive_until(lambda: seen.count("WATCHDOG=1") >= 2)
        assert any(s.startswith("STATUS=") for s in seen)
        d.signal(signal.SIGTERM)
        assert receive_until(lambda: "STOPPING=1" in seen)
        assert d.stop() == 0
    finally:
        server.close()


def test_dry_run_daemon_plans_without_requests_or_state(tmp_path, emulator, share, daemons):
    """run --dry-run logs plan.upload for existing and new files, sends nothing, writes nothing."""
    (share / "old.txt").write_bytes(b"old")
    d = start(daemons, cfg_for(tmp_path, emulator, share), "--dry-run")
    d.wait_event("plan.upload", path="old.txt")
    (share / "fresh.txt").write_bytes(b"fresh")
    d.wait_event("plan.upload", path="fresh.txt")
    assert d.stop() == 0
    assert emulator.stats()["total"] == 0
    assert not (tmp_path / "state").exists()


class RefusingObserver(Observer):
    """A real watchdog Observer whose kernel has no inotify watches left.

    This sandbox's kernel does not enforce a lowered fs.inotify.max_user_watches, so the
    refusal watchdog raises in that case (inotify_c.py) is raised here instead.
    """

    def schedule(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


def test_watch_limit_is_reported_once_and_rescans_keep_working(tmp_path, emulator, share):
    """No watches left: one actionable error with the numbers, no crash, no busy loop, and
    the rescan interval still uploads new files."""
    for i in range(5):
        (share / f"d{i}").mkdir()
    cfg = load(cfg_for(tmp_path, emulator, share, rescan_interval_seconds=0.5))
    state = StateStore(cfg.state_dir)
    daemon = Daemon(cfg, state, observer_factory=RefusingObserver)
    with capture_logs() as logs:
        runner = threading.Thread(target=daemon.run)
        runner.start()
        try:
            (share / "d3" / "late.txt").write_bytes(b"found by the rescan")
            wait_until(
                lambda: "d3/late.txt" in emulator.files(),
                timeout=15,
                message="the rescan to upload d3/late.txt",
            )
            cpu = time.process_time()
            scans = sum(1 for e in logs if e["event"] == "scan.finished")
            wait_until(
                lambda: sum(1 for e in logs if e["event"] == "scan.finished") >= scans + 2,
                timeout=10,
                message="two more rescans",
            )
        finally:
            daemon.request_stop()
            runner.join(timeout=30)
            state.close()
    assert not runner.is_alive()
    failures = [e for e in logs if e["event"] == "watch.failed"]
    assert len(failures) == 1
    assert failures[0]["directories"] == 6
    assert failures[0]["max_user_watches"].isdigit()
    assert "sysctl fs.inotify.max_user_watches=" in failures[0]["hint"]
    assert time.process_time() - cpu < 1.0  # idle between rescans, not spinning


def test_touch_is_verified_off_the_main_loop_without_upload(tmp_path, emulator, share, daemons):
    """A new mtime with the same content is hashed by an upload thread, not uploaded."""
    (share / "same.txt").write_bytes(b"same content")
    d = start(daemons, cfg_for(tmp_path, emulator, share))
    d.wait_event("upload.completed", path="same.txt")
    later = time.time() + 50
    os.utime(share / "same.txt", (later, later))
    (share / "other.txt").write_bytes(b"other")  # a marker that the touch was processed before
    d.wait_event("upload.completed", path="other.txt")
    assert d.stop() == 0
    assert d.count("upload.completed", path="same.txt") == 1
    assert emulator.stats()["requests"]["commit"] == 2


def test_failed_files_are_retried_as_soon_as_uploads_work_again(tmp_path, emulator, share, daemons):
    """After an outage (several files failing), quarantined files do not wait out their
    back-off: the first successful upload brings them forward."""
    emulator.set_fault("commit", "5xx")
    d = start(daemons, cfg_for(tmp_path, emulator, share))
    d.wait_event("daemon.started")
    for name in ("during-1.txt", "during-2.txt"):
        (share / name).write_bytes(name.encode())
        failed = d.wait_event("upload.failed", path=name, timeout=30)
        assert failed["attempts"] == 1
    emulator.clear_faults()
    (share / "after-outage.txt").write_bytes(b"y")
    d.wait_event("upload.completed", path="after-outage.txt")
    d.wait_event("upload.completed", path="during-1.txt", timeout=10)
    d.wait_event("upload.completed", path="during-2.txt", timeout=10)
    assert d.stop() == 0


def test_excluded_folder_moved_in_is_not_uploaded(tmp_path, emulator, share, daemons):
    """A folder moved in is scanned whole, but not when `exclude` names it."""
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(share), "parent_dentry_uuid": ROOT_UUID, "exclude": ["drafts/"]}],
        sync={"settle_seconds": 0.3},
    )
    d = start(daemons, cfg)
    d.wait_event("daemon.started")
    for name in ("drafts", "final"):
        src = tmp_path / "outside" / name
        src.mkdir(parents=True)
        (src / "doc.txt").write_bytes(name.encode())
        shutil.move(str(src), str(share / name))
    d.wait_event("upload.completed", path="final/doc.txt")
    (share / "marker.txt").write_bytes(b"m")  # processed after the drafts event
    d.wait_event("upload.completed", path="marker.txt")
    assert d.stop() == 0
    assert "drafts/doc.txt" not in emulator.files()


def test_queue_overflow_falls_back_to_a_rescan(tmp_path, emulator, share, daemons):
    """Past sync.max_queue the daemon stops queueing events and rescans the mapping;
    every file still lands, once."""
    d = start(daemons, cfg_for(tmp_path, emulator, share, max_queue=5, workers=2))
    d.wait_event("daemon.started")
    for i in range(60):
        (share / f"q{i:02}.txt").write_bytes(f"queued {i}".encode())
    d.wait_event("queue.overflowed")
    d.wait_for(lambda evs: len(emulator.files()) == 60, timeout=60, what="60 files")
    assert d.stop() == 0
    assert emulator.stats()["requests"]["commit"] == 60


def test_kill_9_during_uploads_then_restart_finishes_consistently(
    tmp_path, emulator, share, daemons
):
    """After kill -9 mid-upload the state is intact and the next start uploads the rest;
    no file is recorded without being committed."""
    import sqlite3

    for i in range(10):
        (share / f"k{i}.bin").write_bytes(os.urandom(2000))
    emulator.set_fault("oss", "slow", rate=0.5, delay=1.0)
    cfg = cfg_for(tmp_path, emulator, share, workers=2)
    d = start(daemons, cfg)
    wait_until(lambda: emulator.stats()["requests"].get("commit", 0) >= 2, timeout=20)
    d.proc.kill()
    d.proc.wait(timeout=10)
    db = sqlite3.connect(tmp_path / "state" / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    recorded = {row[0] for row in db.execute("SELECT name FROM files")}
    db.close()
    assert recorded <= set(emulator.files())  # nothing claimed that was not committed
    emulator.clear_faults()
    d = start(daemons, cfg)
    d.wait_for(lambda evs: len(emulator.files()) == 10, timeout=30, what="10 files")
    d.wait_event("scan.finished")
    assert d.stop() == 0
    names = list(emulator.files())
    assert len(names) == 10
    assert not [n for n in names if "(" in n]
