"""Metrics and health: a running daemon scraped over HTTP, parsed by prometheus_client."""

from __future__ import annotations

import socket

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT_UUID, run_cli, wait_until, write_config
from tests.integration.daemon_proc import DaemonProc

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[s.name + (f"{{{label}}}" if label else "")] = s.value
    return out


def test_a_running_daemon_serves_metrics_and_health(tmp_path, emulator):
    """/metrics parses with prometheus_client and agrees with what happened; /healthz is 200."""
    share = tmp_path / "share"
    share.mkdir()
    for i in range(3):
        (share / f"f{i}.txt").write_bytes(b"x" * (i + 1))
    port = free_port()
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}],
        sync={"settle_seconds": 0.2},
    )
    text = cfg.read_text() + f"metrics:\n  listen: 127.0.0.1:{port}\n"
    cfg.write_text(text)
    d = DaemonProc(cfg)
    try:
        d.wait_event("metrics.listening")
        wait_until(lambda: len(emulator.files()) == 3, timeout=20)
        url = f"http://127.0.0.1:{port}"
        got = samples(requests.get(f"{url}/metrics", timeout=5).text)
        assert got["syncd_uploaded_total"] == 3
        assert got["syncd_bytes_total"] == 6
        assert got["syncd_upload_duration_seconds_count"] == 3
        assert "syncd_queued" in got and "syncd_in_flight" in got and "syncd_watches" in got
        health = requests.get(f"{url}/healthz", timeout=5)
        assert health.status_code == 200 and health.text == "ok\n"
        assert requests.get(f"{url}/nope", timeout=5).status_code == 404
        (share / "f0.txt").rename(share / "g0.txt")  # a move: one rename call
        (share / "bad|name.txt").write_bytes(b"refused")  # a name DingTalk refuses

        def scraped() -> dict[str, float] | None:
            got = samples(requests.get(f"{url}/metrics", timeout=5).text)
            done = got["syncd_moved_total"] == 1 and got["syncd_refused_total"] == 1
            return got if done else None

        got = wait_until(scraped, timeout=20, interval=0.2)
        assert got["syncd_uploaded_total"] == 3  # nothing sent again for the move
        assert got["syncd_refused_files"] == 1 and got["syncd_failing"] == 0
        assert got["syncd_remote_reachable"] == 1 and got["syncd_last_upload_time"] > 0
        assert sorted(emulator.files()) == ["f1.txt", "f2.txt", "g0.txt"]
    finally:
        assert d.stop() == 0


def test_textfile_metrics_are_written_atomically(tmp_path, emulator):
    """metrics.textfile: a sync leaves the same metrics in a file for node_exporter."""
    share = tmp_path / "share"
    share.mkdir()
    (share / "a.txt").write_bytes(b"abc")
    prom = tmp_path / "syncd.prom"
    cfg = write_config(tmp_path, emulator, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
    cfg.write_text(cfg.read_text() + f"metrics:\n  textfile: {prom}\n")
    run_cli("sync", "-c", str(cfg), check=True)
    got = samples(prom.read_text())
    assert got["syncd_uploaded_total"] == 1 and got["syncd_bytes_total"] == 3
    assert not list(tmp_path.glob(".syncd-*.tmp"))


def test_health_says_why_it_is_unhealthy():
    """503 reasons: a silent main loop, or a remote that has not answered for minutes."""
    from syncd.obs.metrics import HealthState

    now = [0.0]
    h = HealthState(clock=lambda: now[0])
    assert h.reason() is None
    h.remote_failed()
    now[0] = 301.0
    h.tick()
    assert "has not answered for 301 s" in (h.reason() or "")
    h.remote_ok()
    assert h.reason() is None
    now[0] = 500.0
    assert "main loop silent" in (h.reason() or "")


def test_an_issue_is_in_the_store_before_its_counter_moves(tmp_path, emulator):
    """A scrape reads the counters from memory and the issue gauges from the store, so the
    store is written first: a scrape that sees `refused_total` (or `held`, `failed`) go up
    finds the file in `refused_files` (`held_files`, `failing`) too, never a moment behind."""
    from syncd.config import load
    from syncd.core.actions import Hold
    from syncd.core.errors import PermanentError
    from syncd.core.model import LocalFile, Refusal
    from syncd.execute import issues
    from syncd.execute.context import Context
    from syncd.execute.files import FileActions
    from syncd.obs.stats import Stats
    from syncd.plan.decide import refuse
    from syncd.state.store import StateStore

    share = tmp_path / "share"
    share.mkdir()
    cfg = load(
        write_config(tmp_path, emulator, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
    )
    state = StateStore(cfg.state_dir)
    seen: list[tuple[str, dict[str, int]]] = []

    class Watched(Stats):
        def add(self, **amounts: int) -> None:
            for name in ("refused", "held"):
                if amounts.get(name):
                    seen.append((name, state.issue_counts()))
            super().add(**amounts)

        def failed(self, code: str) -> None:
            seen.append(("failed", state.issue_counts()))
            super().failed(code)

    ctx = Context(cfg, state, stats=Watched())
    m = cfg.mappings[0]
    issues.refuse(ctx, refuse(m, Refusal("bad|name.txt", "invalid name", "|", 3, 1), None))
    issues.hold(ctx, Hold(m, LocalFile("big.bin", 9, 1, 7), "too big"))
    f = LocalFile("f.txt", 1, 1, 8)
    FileActions(ctx).failure(m, f, PermanentError("no", code="forbidden.noPermission"))
    assert seen == [
        ("refused", {"refused": 1}),
        ("held", {"refused": 1, "held": 1}),
        ("failed", {"refused": 1, "held": 1, "failed": 1}),
    ]
    state.close()


def test_idle_connections_cannot_starve_the_metrics_server():
    """A flood of idle connections: those past the bound are closed at once, the others are
    dropped when they stay silent, threads stay bounded, and /healthz still answers."""
    import threading

    from syncd.obs.metrics import MetricsServer
    from syncd.obs.stats import Stats

    server = MetricsServer(
        "127.0.0.1:0", Stats(), lambda: None, max_connections=4, request_seconds=0.5
    ).start()
    idle: list[socket.socket] = []
    try:
        before = threading.active_count()
        for _ in range(40):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        for s in idle[:4]:  # make sure the first four were taken by handler threads
            s.sendall(b"GET ")
        closed = 0
        for s in idle:
            try:
                closed += s.recv(1) == b""  # closed by the server: at once, or when idle
            except TimeoutError:
                pass
        assert closed == 40
        wait_until(lambda: threading.active_count() <= before, timeout=10, message="threads")
        answer = requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert answer.status_code == 200
    finally:
        for s in idle:
            s.close()
        server.stop()


def test_the_months_calls_and_a_spent_quota_show_in_metrics_and_health(tmp_path):
    """§4.11: `syncd_api_calls_total{api}` (metered only), `syncd_api_calls_month`,
    `syncd_api_budget_remaining` (-1: no budget) and `syncd_quota_exhausted`; once the org's
    quota is spent, /healthz is 503 and says why, and `run` keeps watching."""
    from syncd.emulator import Emulator

    share = tmp_path / "share"
    share.mkdir()
    for i in range(3):
        (share / f"f{i}.txt").write_bytes(b"x" * (i + 1))
    port = free_port()
    with Emulator(folders=[ROOT_UUID], monthly_quota=10**9) as emu:
        cfg = write_config(tmp_path, emu, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
        cfg.write_text(cfg.read_text() + f"metrics:\n  listen: 127.0.0.1:{port}\n")
        d = DaemonProc(cfg)
        try:
            d.wait_event("metrics.listening")
            wait_until(lambda: len(emu.files()) == 3, timeout=20)
            url = f"http://127.0.0.1:{port}"

            def scraped(want: float) -> dict[str, float] | None:
                got = samples(requests.get(f"{url}/metrics", timeout=5).text)
                return got if got.get("syncd_api_calls_month") == want else None

            got = wait_until(lambda: scraped(emu.metered()), timeout=20, interval=0.2)
            assert got["syncd_api_calls_total{api=storage.commit}"] == 3
            assert got["syncd_api_calls_total{api=storage.uploadInfos}"] == 3
            assert not [k for k in got if "oauth2" in k]  # the token call is exempt
            assert got["syncd_api_budget_remaining"] == -1 and got["syncd_quota_exhausted"] == 0
            assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
            emu.set_monthly_quota(emu.metered())  # the org's quota is spent from now on
            (share / "new.txt").write_bytes(b"after the quota")
            d.wait_event("quota.exhausted", timeout=20)
            got = wait_until(
                lambda: (
                    (s := samples(requests.get(f"{url}/metrics", timeout=5).text)).get(
                        "syncd_quota_exhausted"
                    )
                    == 1
                    and s
                ),
                timeout=20,
                interval=0.2,
            )
            health = requests.get(f"{url}/healthz", timeout=5)
            assert health.status_code == 503 and "quota" in health.text
            got = wait_until(
                lambda: (
                    (s := samples(requests.get(f"{url}/metrics", timeout=5).text)).get(
                        "syncd_pending_files"
                    )
                    == 1
                    and s
                ),
                timeout=20,
                interval=0.2,
            )
            # `run` keeps watching; within the hour no further call is sent (not even a probe)
            refused = emu.stats()["metered"]["refused"]
            for i in range(3):
                (share / f"later{i}.txt").write_bytes(b"waits for the quota")
            wait_until(
                lambda: (
                    samples(requests.get(f"{url}/metrics", timeout=5).text).get(
                        "syncd_pending_files"
                    )
                    == 4
                ),
                timeout=20,
                interval=0.2,
            )
            assert emu.stats()["metered"]["refused"] == refused
            assert d.count("upload.failed") == 0 and d.count("quota.exhausted") == 1
        finally:
            assert d.stop() == 0
