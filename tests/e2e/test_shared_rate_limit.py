"""Three `syncd sync` processes (three hosts) on one app: one shared budget through Redis."""

from __future__ import annotations

import subprocess
import sys

import pytest

from syncd.emulator import Emulator
from tests.conftest import ROOT_UUID, UNION_ID, events, run_cli, write_config

pytestmark = pytest.mark.e2e

ROOTS = [f"hostRootFolderUuid00000000000000{i}" for i in range(3)]
FILES_PER_HOST = 40


def _host_config(tmp_path, emu: Emulator, i: int, rate_limit: str):
    home = tmp_path / f"host{i}"
    share = home / "share"
    share.mkdir(parents=True)
    for n in range(FILES_PER_HOST):
        (share / f"h{i}-{n:03}.txt").write_bytes(f"host {i} file {n}\n".encode())
    return write_config(
        home,
        emu,
        [{"local": str(share), "parent_dentry_uuid": ROOTS[i]}],
        dingtalk={"qps": 20, "rate_limit": rate_limit},
    )


def _sync_all(configs) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "syncd", "sync", "-c", str(cfg)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cfg in configs
    ]
    done = []
    for p, cfg in zip(procs, configs, strict=True):
        out, err = p.communicate(timeout=120)
        done.append(subprocess.CompletedProcess([str(cfg)], p.returncode, out, err))
    return done


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "local-control"])
def test_three_hosts_share_one_budget(tmp_path, redis_server, shared):
    """With the Redis limit nothing is throttled; the control (each host at 20/s on its
    own) shows the test can tell: together the hosts are throttled."""
    rate_limit = redis_server.url if shared else "local"
    with Emulator(folders=ROOTS, union_ids=[UNION_ID], qps=20) as emu:
        configs = [_host_config(tmp_path, emu, i, rate_limit) for i in range(3)]
        results = _sync_all(configs)
        throttled = emu.stats()["throttled"]
        landed = [len(emu.files(root)) for root in ROOTS]
    if not shared:  # each host at 20/s on its own: throttled, and files retried or failed
        assert throttled >= 10, throttled
        return
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    assert landed == [FILES_PER_HOST] * 3
    assert throttled == 0
    logs = [e for r in results for e in events(r.stderr)]
    assert not [e for e in logs if e["event"].startswith("rate_limit.")]


def test_unreachable_redis_warns_once_and_syncs_with_the_local_limit(tmp_path, redis_server):
    """Redis down: one warning naming it (never its password), and every file uploaded."""
    port = redis_server.port
    redis_server.stop()
    url = f"redis://:hunter2-secret-pw@127.0.0.1:{port}/0"
    with Emulator(folders=ROOTS, union_ids=[UNION_ID], qps=20) as emu:
        cfg = _host_config(tmp_path, emu, 0, url)
        proc = run_cli("sync", "-c", str(cfg), timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert len(emu.files(ROOTS[0])) == FILES_PER_HOST
        assert emu.stats()["throttled"] == 0  # the local limit (without any: 20 throttled)
    warnings = [e for e in events(proc.stderr) if e["event"] == "rate_limit.shared_unreachable"]
    assert len(warnings) == 1
    assert warnings[0]["redis"] == f"redis://127.0.0.1:{port}/0"
    assert "hunter2" not in proc.stderr + proc.stdout


def test_check_reports_the_shared_limit(tmp_path, emulator, redis_server):
    share = tmp_path / "share"
    share.mkdir()
    cfg = write_config(
        tmp_path,
        emulator,
        [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}],
        dingtalk={"rate_limit": redis_server.url},
    )
    ok = run_cli("check", "-c", str(cfg))
    assert f"dingtalk.rate_limit: OK (calls/s shared through {redis_server.url})" in ok.stdout
    redis_server.stop()
    down = run_cli("check", "-c", str(cfg))
    assert down.returncode == 1
    assert f"dingtalk.rate_limit: cannot reach {redis_server.url}" in down.stdout
