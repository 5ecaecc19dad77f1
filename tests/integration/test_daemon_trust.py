"""`syncd run` and what a remote change must prove (issue "Trust", product §4.8): the delete
guards over a window, supervised helpers."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from syncd.config import load
from syncd.core.actions import Outcome
from syncd.core.model import Issue, IssueKind
from syncd.execute.world import open_world
from syncd.plan.decide import quarantine_delay
from syncd.reconcile.loop import Reconciler
from syncd.state.store import StateStore
from tests.conftest import events, run_cli
from tests.integration.daemon_proc import cfg_for, start

pytestmark = pytest.mark.integration


def test_a_rm_rf_folder_by_folder_under_run_is_held_by_the_window(
    tmp_path, emulator, share, daemons
):
    """Finding 2: 80 % of a 120-file mapping removed folder by folder under `run`
    (max_delete 50, 10 %): each folder alone is under the limits, but the window counts
    them together; at most the limit is trashed, and one `deletes.blocked` says so."""
    for i in range(24):
        (share / f"d{i:02d}").mkdir()
        for j in range(5):
            (share / f"d{i:02d}" / f"f{j}.txt").write_bytes(b"%d-%d" % (i, j))
    cfg = cfg_for(tmp_path, emulator, share, deletes="trash", max_delete=50)
    run_cli("sync", "-c", str(cfg), check=True)
    d = start(daemons, cfg, "--log-level", "debug")
    d.wait_event("scan.finished", timeout=60)

    def said() -> int:
        return d.count("deletes.blocked") + d.count("deletes.still_held")

    for i in range(19):  # 95 of 120 files, one folder at a time
        before = said()
        shutil.rmtree(share / f"d{i:02d}")
        d.wait_for(
            lambda evs, i=i, before=before: (
                said() > before
                or any(
                    e.get("event") == "file.trashed" and e["path"].startswith(f"d{i:02d}/")
                    for e in evs
                )
            ),
            timeout=60,
            what=f"d{i:02d}'s delete trashed or held",
        )
    assert d.stop() == 0
    trashed = [p for p in emulator.files() if p.startswith(".syncd-trash/")]
    assert len(trashed) <= 12, f"{len(trashed)} files trashed"
    assert d.count("deletes.blocked") == 1


def test_a_file_that_keeps_growing_fails_a_sync_instead_of_waiting_for_ever(
    tmp_path, emulator, share
):
    """A log still being written changes during each of its uploads: after the deferred
    rounds it is a failed file (`status` lists it) and `sync` exits 1, not 0."""
    log = share / "growing.log"
    log.write_bytes(b"line\n")
    (share / "still.txt").write_bytes(b"still")

    def grow(path, obj) -> None:  # the writer appends while each of its PUTs is on the wire
        if obj.data is not None and obj.data.startswith(b"line"):
            with log.open("ab") as fh:
                fh.write(b"line\n")

    emulator.on_put = grow
    cfg = cfg_for(tmp_path, emulator, share, settle_seconds=0)
    done = run_cli("sync", "-c", str(cfg), "--log-format", "json")
    emulator.on_put = None
    assert done.returncode == 1, done.stderr[-2000:]
    failed = [e for e in events(done.stderr) if e["event"] == "upload.failed"]
    assert [(e["path"], e["error_code"]) for e in failed] == [("growing.log", "fileStillChanging")]
    assert "growing.log" not in emulator.files() and "still.txt" in emulator.files()
    status = run_cli("status", "-c", str(cfg))
    assert "growing.log" in status.stdout


def test_a_forced_retry_keeps_the_escalating_back_off(tmp_path, emulator, share):
    """A quarantined file whose retry timer fired is tried despite its quarantine, and when
    it fails again its back-off escalates (attempt 3: 750 s), never back to the first 30 s."""
    (share / "f.txt").write_bytes(b"fails")
    config = load(cfg_for(tmp_path, emulator, share))
    m = config.mappings[0]
    state = StateStore.open(config.state_dir)
    st = os.stat(share / "f.txt")
    now = time.time()
    issue = Issue(
        "f.txt", IssueKind.FAILED, "upload failed", st.st_size, st.st_mtime_ns, "x", "x", 2, now
    )
    state.put_issue(m.key, issue)  # attempt 2 failed; its retry is due now
    world = open_world(config, state, dry_run=False, daemon=True)
    recon = Reconciler(
        config, state, world.ctx.trees, world.listings, world.executor.execute, world.scan_options()
    )
    try:
        state.put_issue(m.key, issue._replace(next_retry=now + 3600))
        assert list(recon.path(m, "f.txt")) == []  # quarantined: not tried on an event
        state.put_issue(m.key, issue)
        emulator.set_fault("commit", "5xx")
        outcomes = [world.executor.execute(a) for a in recon.path(m, "f.txt", force=True)]
        assert outcomes == [Outcome.FAILED]
        again = state.issue(m.key, "f.txt")
        assert again is not None and again.attempts == 3
        assert again.next_retry >= now + quarantine_delay(3) - 1
    finally:
        world.ctx.close()
        state.close()


def test_healthz_reports_a_scan_that_overruns_its_interval(tmp_path, emulator, share, daemons):
    """Finding 8: a scan that has not finished within its expected time (the rescan
    interval) makes /healthz 503 with the reason; once it ends, /healthz is 200 again.
    The scan is held by a slow remote listing (its new file's adoption look-up)."""
    import requests

    from tests.conftest import wait_until
    from tests.integration.test_metrics import free_port

    (share / "a.txt").write_bytes(b"a")
    emulator.set_fault("listDentries", "slow", count=1, delay=8)
    port = free_port()
    cfg = cfg_for(
        tmp_path, emulator, share, {"read_timeout_seconds": 30}, rescan_interval_seconds=1
    )
    cfg.write_text(cfg.read_text() + f"metrics:\n  listen: 127.0.0.1:{port}\n")
    d = start(daemons, cfg)
    d.wait_event("metrics.listening")
    url = f"http://127.0.0.1:{port}/healthz"

    def answer(status: int) -> str | None:
        got = requests.get(url, timeout=5)
        return got.text if got.status_code == status else None

    why = wait_until(lambda: answer(503), timeout=30, interval=0.05, message="a 503")
    assert "a scan has been running for" in why and "expected within 1 s" in why
    d.wait_event("upload.completed", path="a.txt", timeout=30)
    assert wait_until(lambda: answer(200), timeout=30, interval=0.05, message="a 200")
    assert d.stop() == 0


def test_the_ids_our_commits_were_answered_with_are_ours_in_the_next_process(
    tmp_path, emulator, share
):
    """Adoption's identity: the configured union_id, and every modifier id the remote
    answered our own commits with (kept in the state store for the next process)."""
    from syncd.execute.identity import OwnIds

    config = load(cfg_for(tmp_path, emulator, share))
    state = StateStore.open(config.state_dir)
    try:
        world = open_world(config, state, dry_run=False)
        own = OwnIds(world.ctx)
        assert own.ids() == {config.dingtalk.union_id}
        own.learn("staff-0042")  # a tenant that answers with another id form
        own.learn("")
        world.ctx.close()
        again = open_world(config, state, dry_run=False)
        assert OwnIds(again.ctx).ids() == {config.dingtalk.union_id, "staff-0042"}
        again.ctx.close()
    finally:
        state.close()
