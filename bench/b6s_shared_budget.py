"""B6s: three hosts on one app share its budget through Redis (`dingtalk.rate_limit`).

Target (issue "Performance at scale", item 5): three `syncd sync` processes, each with its
own mapping and state, all with `dingtalk.qps: 20` and `rate_limit: redis://...`, on one
emulator enforcing 20 calls/s per API: >= 18 files/s together and zero throttled calls.

A `redis-server` is started by the script on a free 127.0.0.1 port (no persistence).
files/s together = all files / (first start to last exit), start-up included.
Baseline (same run): one `syncd sync` with the local limiter uploading the same number of
files to a fresh emulator — what a single host reaches; ratio = together / single. The
theoretical ceiling is 20 files/s either way (one uploadInfos and one commit per file).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

QPS = 20
HOSTS = 3
TARGET_FPS = 18.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = _free_port()
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--dir", str(work)]
    proc = c.spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("redis-server did not answer within 10 s")
        time.sleep(0.05)


def host_config(work: Path, tag: str, emu: c.EmulatorProc, uuid: str, rate_limit: str) -> Path:
    cfg = c.write_config(
        work / f"{tag}.json",
        api_base=emu.base_url,
        state_dir=work / f"{tag}-state",
        mappings=[(work / tag, uuid)],
        workers=None,
        qps=QPS,
    )
    data = json.loads(cfg.read_text())
    data["dingtalk"]["rate_limit"] = rate_limit
    cfg.write_text(json.dumps(data, indent=2) + "\n")
    return cfg


def run_hosts(work: Path, n_files: int, rate_limit: str, hosts: int) -> tuple[float, dict, list]:
    """`hosts` syncd processes at once on a fresh emulator: wall, emulator stats, exits."""
    uuids = [c.new_uuid() for _ in range(hosts)]
    per_host = n_files // hosts
    tags = []
    for i in range(hosts):
        tag = f"{'shared' if rate_limit != 'local' else 'single'}{i}"
        c.make_tree(work / tag, per_host, 2, lambda k: os.urandom(4096))
        tags.append(tag)
    with c.EmulatorProc(uuids, qps=QPS, log_dir=work) as emu, contextlib.ExitStack() as logs:
        cfgs = [host_config(work, t, emu, u, rate_limit) for t, u in zip(tags, uuids, strict=True)]
        t0 = time.perf_counter()
        procs = [
            c.spawn(
                c.syncd_cmd("sync", cfg),
                stdout=subprocess.DEVNULL,
                stderr=logs.enter_context(open(work / f"{t}.log", "w")),
                cwd=c.REPO,
            )
            for t, cfg in zip(tags, cfgs, strict=True)
        ]
        codes = [c.wait_rusage(p, 600)[0] for p in procs]
        wall = time.perf_counter() - t0
        stats = emu.stats()
    return wall, stats, codes


def main() -> int:
    args = c.parse_args(__doc__)
    n_files = 150 if args.quick else 600
    rep = c.Report("B6s", f"{HOSTS} hosts, one app, emulator --qps {QPS}, {n_files} x 4 KiB files")
    work = c.tempdir("b6s")
    redis_proc, url = start_redis(work)
    try:
        wall_s, stats_s, codes_s = run_hosts(work, n_files, url, HOSTS)
        wall_1, stats_1, codes_1 = run_hosts(work, n_files, "local", 1)
    finally:
        c.stop_process(redis_proc)
    fps_s, fps_1 = n_files / wall_s, n_files / wall_1
    commits = stats_s["status"].get("commit", {}).get("200", 0)
    rep.figure(
        f"{HOSTS} hosts, shared through Redis",
        f"{fps_s:.2f} files/s (wall {wall_s:.2f} s, "
        f"exits {codes_s}, throttled {stats_s['throttled']})",
    )
    rep.figure(
        "1 host, local limit (baseline)",
        f"{fps_1:.2f} files/s (wall {wall_1:.2f} s, "
        f"exits {codes_1}, throttled {stats_1['throttled']})",
    )
    rep.figure("ratio together/single", f"{fps_s / fps_1:.3f}")
    rep.figure("ratio together/ceiling", f"{fps_s / QPS:.3f}  (target >= {TARGET_FPS / QPS:.2f})")
    rep.figure("emulator requests (shared run)", f"{stats_s['requests']}")
    rep.check(
        "every file committed once, exits 0",
        codes_s == [0] * HOSTS and commits == n_files // HOSTS * HOSTS,
        f"{commits} commits, exits {codes_s}",
    )
    rep.check("zero throttled calls", stats_s["throttled"] == 0, f"{stats_s['throttled']} == 0")
    rep.check("files/s together", fps_s >= TARGET_FPS, f"{fps_s:.2f} >= {TARGET_FPS}")
    return rep.finish()


if __name__ == "__main__":
    c.main_guard(main)
