"""B1: initial `syncd sync` of 2,000 x 4 KiB files in 40 folders, workers 8.

Target (product.md section 6): >= 0.85 x the files/s of a minimal 3-step client (thread pool,
keep-alive, no state) on the same emulator.

Both contenders run as their own process against a fresh emulator process (its own GIL), and
both are timed the same way: wall time from process start to exit, so interpreter start-up and
imports count for both. The baseline is this very file run with ``--baseline-client``: a
requests.Session per thread, ThreadPoolExecutor(8), token -> queryDentryId -> the 40 folders
(RETURN_DENTRY_IF_EXISTS) -> per file uploadInfos/query, PUT with the signed headers and an empty
Content-Type, commit (OVERWRITE). No state, no hashing, no logging.
Five rounds alternate baseline/syncd (both are CPU-bound on a 2-core host, so single runs
are noisy); the ratio uses the median of the rounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

TARGET = 0.85


# -- the baseline client (runs in its own process) -------------------------------------------


def baseline_client(api_base: str, root_uuid: str, local: str, workers: int) -> dict:
    import requests

    t0 = time.perf_counter()
    tls = threading.local()

    def session() -> requests.Session:
        s = getattr(tls, "s", None)
        if s is None:
            s = tls.s = requests.Session()
        return s

    def ok(resp: requests.Response) -> dict:
        if resp.status_code != 200:
            raise RuntimeError(
                f"{resp.request.method} {resp.url.split('?')[0]}: "
                f"{resp.status_code} {resp.text[:200]}"
            )
        return resp.json() if resp.content else {}

    token = ok(
        session().post(
            f"{api_base}/v1.0/oauth2/accessToken",
            json={"appKey": c.APP_KEY, "appSecret": c.APP_SECRET},
        )
    )
    auth = {"x-acs-dingtalk-access-token": token["accessToken"]}
    uid = {"unionId": c.UNION_ID}
    root = ok(
        session().get(
            f"{api_base}/v2.0/doc/dentries/{root_uuid}/queryDentryId",
            params={"operatorId": c.UNION_ID},
            headers=auth,
        )
    )
    space, root_id = root["spaceId"], root["dentryId"]

    files = []
    folder_names = set()
    for dirpath, _dirs, names in os.walk(local):
        rel_dir = os.path.relpath(dirpath, local)
        for n in names:
            files.append((rel_dir, n, os.path.join(dirpath, n)))
        if rel_dir != ".":
            folder_names.add(rel_dir)  # flat tree: one level of folders

    def mkdir(name: str) -> tuple[str, str]:
        d = ok(
            session().post(
                f"{api_base}/v1.0/storage/spaces/{space}/dentries/{root_id}/folders",
                params=uid,
                headers=auth,
                json={"name": name, "option": {"conflictStrategy": "RETURN_DENTRY_IF_EXISTS"}},
            )
        )
        return name, d["dentry"]["uuid"]

    def upload(item: tuple[str, str, str]) -> None:
        rel_dir, name, path = item
        parent = root_uuid if rel_dir == "." else folders[rel_dir]
        with open(path, "rb") as f:
            data = f.read()
        s = session()
        info = ok(
            s.post(
                f"{api_base}/v2.0/storage/spaces/files/{parent}/uploadInfos/query",
                params=uid,
                headers=auth,
                json={
                    "protocol": "HEADER_SIGNATURE",
                    "option": {
                        "storageDriver": "DINGTALK",
                        "preCheckParam": {"size": len(data), "name": name},
                    },
                },
            )
        )
        sig = info["headerSignatureInfo"]
        ok(s.put(sig["resourceUrls"][0], data=data, headers={**sig["headers"], "Content-Type": ""}))
        ok(
            s.post(
                f"{api_base}/v2.0/storage/spaces/files/{parent}/commit",
                params=uid,
                headers=auth,
                json={
                    "uploadKey": info["uploadKey"],
                    "name": name,
                    "option": {"size": len(data), "conflictStrategy": "OVERWRITE"},
                },
            )
        )

    with ThreadPoolExecutor(workers) as pool:
        folders = dict(pool.map(mkdir, sorted(folder_names)))
        for _ in pool.map(upload, files):
            pass
    return {"files": len(files), "folders": len(folders), "seconds": time.perf_counter() - t0}


# -- the benchmark ----------------------------------------------------------------------------


def run_baseline(work: Path, local: Path, workers: int) -> tuple[float, dict, dict]:
    uuid = c.new_uuid()
    with c.EmulatorProc([uuid]) as emu:
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                c.PY,
                __file__,
                "--baseline-client",
                json.dumps([emu.base_url, uuid, str(local), workers]),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            raise RuntimeError(f"baseline client failed: {out.stderr[-2000:]}")
        return wall, json.loads(out.stdout.strip().splitlines()[-1]), emu.stats()


def run_syncd(work: Path, local: Path, workers: int, n: int) -> tuple[c.SyncRun, dict]:
    uuid = c.new_uuid()
    state = Path(c.tempdir("b1-state"))
    with c.EmulatorProc([uuid]) as emu:
        cfg = c.write_config(
            work / "syncd.json",
            api_base=emu.base_url,
            state_dir=state,
            mappings=[(local, uuid)],
            workers=workers,
        )
        run = c.run_syncd_sync(cfg, work / f"syncd-{time.time_ns()}.log")
        stats = emu.stats()
    c.remove_tempdir(state)
    return run, stats


def main() -> int:
    args = c.parse_args(__doc__)
    n_files, n_folders, size, workers = (2000, 40, 4096, 8)
    rounds = 5
    if args.quick:
        n_files, n_folders, rounds = 300, 6, 1
    rep = c.Report(
        "B1",
        f"initial sync, {n_files} x {size // 1024} KiB files in {n_folders} "
        f"folders, workers {workers}",
    )
    work = c.tempdir("b1")
    local = work / "tree"
    c.make_tree(local, n_files, n_folders, lambda i: os.urandom(size))
    base_rates, syncd_rates = [], []
    all_ok = True
    for r in range(rounds):
        wall, res, bstats = run_baseline(work, local, workers)
        b_ok = (
            res["files"] == n_files
            and bstats["requests"].get("commit") == n_files
            and bstats["throttled"] == 0
        )
        base_rates.append(n_files / wall)
        rep.figure(
            f"round {r + 1} baseline",
            f"{n_files / wall:7.1f} files/s  (wall {wall:.2f} s, in-process "
            f"{res['seconds']:.2f} s, commits {bstats['requests'].get('commit')})",
        )
        run, sstats = run_syncd(work, local, workers, n_files)
        fin = run.event("sync.finished") or {}
        s_ok = (
            run.returncode == 0
            and fin.get("uploaded") == n_files
            and sstats["requests"].get("commit") == n_files
            and sstats["throttled"] == 0
        )
        syncd_rates.append(n_files / run.wall)
        rep.figure(
            f"round {r + 1} syncd",
            f"{n_files / run.wall:7.1f} files/s  (wall {run.wall:.2f} s, sync.finished "
            f"{fin.get('seconds')} s, exit {run.returncode}, uploaded "
            f"{fin.get('uploaded')}, commits {sstats['requests'].get('commit')}, "
            f"addFolder {sstats['requests'].get('addFolder')}, peak RSS "
            f"{c.fmt_kib(run.maxrss_kib)})",
        )
        if not s_ok:
            rep.note(f"syncd log: {run.log_path}")
        all_ok = all_ok and b_ok and s_ok
    b, s = c.median(base_rates), c.median(syncd_rates)
    ratio = s / b
    rep.figure("baseline (median)", f"{b:.1f} files/s")
    rep.figure("syncd (median)", f"{s:.1f} files/s")
    rep.figure("ratio syncd/baseline", f"{ratio:.3f}  (target >= {TARGET})")
    rep.check(
        "every file committed, no throttling, exit 0",
        all_ok,
        f"{n_files} commits per run" if all_ok else "see the round lines above",
    )
    rep.check("files/s ratio", ratio >= TARGET, f"{ratio:.3f} >= {TARGET}")
    return rep.finish()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline-client":
        api, uuid, local, workers = json.loads(sys.argv[2])
        print(json.dumps(baseline_client(api, uuid, local, int(workers))))
        sys.exit(0)
    c.main_guard(main)
