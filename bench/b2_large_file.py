"""B2: one 1 GiB file: `syncd sync` vs a minimal client and `curl -T`; syncd's peak RSS.

Targets (product.md section 6): >= 0.95 x a minimal client that streams the same bytes to the
same kind of signed URL computing the same MD5 (for the ETag) and SHA-256 (for the state and
stamp); >= 0.9 x `curl -T` where a core is free for hashing; peak RSS <= 80 MiB.

All three run as processes, reading the file from the page cache (written and fsynced just
before), each round in turn; the ratios use the medians. The minimal-client target is judged
on the upload itself (upload info -> PUT -> commit: syncd's `upload.completed` duration_ms,
and the same span timed inside the minimal client), the curl ratio on process wall times
(start-up included; curl's is a few ms). The whole-process ratio to the minimal client is
printed too.
- syncd: `python -m syncd sync` (start-up, token, folder lookup, upload info, streamed PUT
  with MD5+SHA-256, commit, state write, exit), fresh state and a fresh remote folder each
  round (a twin left by an earlier round would be adopted, not uploaded).
- minimal client: `_minimal_put.py` (requests; token, upload info, PUT, ETag check, commit).
- curl: `curl -sS -T FILE -H "Authorization: ..." -H "x-oss-date: ..." URL` with the URL and
  headers from an uploadInfos/query call made by this script (untimed); curl -T sends no
  Content-Type, which the OSS V1 signature needs, so its 200 is itself the check (the `-v`
  header trace is also checked). `-H "Expect:"` avoids curl's 1 s expect timeout.

Note: the emulator hashes every received byte with MD5 and SHA-256 (in Python, on one core),
which bounds every contender; on a 2-core machine the client's own hashing takes the other
core, so the curl target is only judged with 3 or more cores.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

MINIMAL_TARGET = 0.95
CURL_TARGET = 0.9
RSS_TARGET_MIB = 80


def write_file(path: Path, size: int) -> None:
    chunk = 8 * c.MiB
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(chunk, left)
            f.write(os.urandom(n))
            left -= n
        f.flush()
        os.fsync(f.fileno())  # no writeback of the fresh GiB during the measurements


def signed_put(emu: c.EmulatorProc, uuid: str, name: str, size: int) -> tuple[str, dict]:
    tok = c.api_json(
        "POST",
        emu.base_url + "/v1.0/oauth2/accessToken",
        {"appKey": c.APP_KEY, "appSecret": c.APP_SECRET},
    )["accessToken"]
    info = c.api_json(
        "POST",
        f"{emu.base_url}/v2.0/storage/spaces/files/{uuid}/uploadInfos/query?unionId={c.UNION_ID}",
        {
            "protocol": "HEADER_SIGNATURE",
            "option": {"storageDriver": "DINGTALK", "preCheckParam": {"size": size, "name": name}},
        },
        {"x-acs-dingtalk-access-token": tok},
    )
    sig = info["headerSignatureInfo"]
    return sig["resourceUrls"][0], sig["headers"]


def run_curl(path: Path, url: str, headers: dict, work: Path) -> tuple[float, int, int, list[str]]:
    """(wall seconds, HTTP status, curl's peak RSS KiB, the request header lines curl sent).

    ``-H "Expect:"``: without it curl sends ``Expect: 100-continue`` and, because the emulator
    buffers its ``100 Continue`` instead of flushing it, waits its 1 s expect timeout before
    sending the body (a real OSS endpoint answers 100 at once). ``-v`` only adds the header
    trace to stderr, used to show that no Content-Type was sent.
    """
    args = [
        "curl",
        "-sS",
        "-v",
        "-T",
        str(path),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Expect:",
    ]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    args.append(url)
    out_path, err_path = work / "curl.out", work / "curl.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        p = c.spawn_measured(args, stdout=out, stderr=err)
        code, rss, own = c.wait_measured(p, 600)
        wall = own if own is not None else time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"curl failed ({code}): {err_path.read_text()}")
    sent = [
        line[2:]
        for line in err_path.read_text(errors="replace").splitlines()
        if line.startswith("> ") and line[2:].strip()
    ]
    return wall, int(out_path.read_text().strip() or 0), rss, sent


def run_minimal(emu: c.EmulatorProc, uuid: str, path: Path, work: Path) -> tuple[float, float, int]:
    """The minimal client (``_minimal_put.py``) as a process: (wall seconds, seconds from
    upload info to commit, peak RSS KiB)."""
    args = [c.PY, str(Path(__file__).with_name("_minimal_put.py")), emu.base_url, uuid, str(path)]
    out, err = work / "minimal.out", work / "minimal.err"
    with open(out, "w") as out_f, open(err, "w") as err_f:
        t0 = time.perf_counter()
        p = c.spawn_measured(args, stdout=out_f, stderr=err_f, cwd=c.REPO)
        code, rss, own = c.wait_measured(p, 600)
        wall = own if own is not None else time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"minimal client failed ({code}): {err.read_text()}")
    return wall, float(out.read_text().split()[0]), rss


def round_syncd(emu: c.EmulatorProc, uuid: str, local: Path, work: Path, r: int) -> c.SyncRun:
    state = c.tempdir("b2-state")
    cfg = c.write_config(
        work / "syncd.json",
        api_base=emu.base_url,
        state_dir=state,
        mappings=[(local, uuid)],
    )
    try:
        return c.run_syncd_sync(cfg, work / f"syncd-{r}.log")
    finally:
        c.remove_tempdir(state)


def main() -> int:
    args = c.parse_args(__doc__)
    size = 256 * c.MiB if args.quick else 1024 * c.MiB
    rounds = 1 if args.quick else 3
    if shutil.which("curl") is None:
        raise RuntimeError("curl is not installed")
    rep = c.Report("B2", f"one {size // c.MiB} MiB file: syncd sync vs a minimal client, curl -T")
    rep.note(
        "the emulator hashes MD5+SHA-256 of every received byte (Python, one core): "
        "this bounds every contender"
    )
    work = c.tempdir("b2")
    local = work / "tree"
    local.mkdir()
    big = local / "big.bin"
    t0 = time.perf_counter()
    write_file(big, size)
    rep.figure("test file written", f"{size // c.MiB} MiB in {time.perf_counter() - t0:.1f} s")
    # a fresh remote folder for every upload: a twin left by an earlier round is adopted
    folders = [(c.new_uuid(), c.new_uuid()) for _ in range(rounds)]
    rates: dict[str, list[float]] = {"curl": [], "minimal": [], "syncd": []}
    transfer: dict[str, list[float]] = {"minimal": [], "syncd": []}  # info -> PUT -> commit
    rss: list[int] = []
    ok = True
    mib = size / c.MiB
    with c.EmulatorProc([u for pair in folders for u in pair], log_dir=work) as emu:
        for r, (min_uuid, syncd_uuid) in enumerate(folders):
            url, headers = signed_put(emu, min_uuid, "curl.bin", size)
            assert not any(k.lower() == "content-type" for k in headers)
            wall, status, curl_rss, sent = run_curl(big, url, headers, work)
            no_ctype = not any(h.lower().startswith("content-type:") for h in sent)
            if r == 0:
                rep.note("curl request headers: " + " | ".join(_shown(h) for h in sent[1:]))
            ok = ok and status == 200 and no_ctype
            rates["curl"].append(mib / wall)
            rep.figure(
                f"round {r + 1} curl -T",
                f"{mib / wall:7.1f} MiB/s  (wall {wall:.2f} s, "
                f"HTTP {status}, peak RSS {c.fmt_kib(curl_rss)})",
            )
            wall, steps, min_rss = run_minimal(emu, min_uuid, big, work)
            rates["minimal"].append(mib / wall)
            transfer["minimal"].append(mib / steps)
            rep.figure(
                f"round {r + 1} minimal client",
                f"{mib / wall:7.1f} MiB/s  (wall {wall:.2f} s, upload {steps * 1000:.0f} ms, "
                f"peak RSS {c.fmt_kib(min_rss)})",
            )
            run = round_syncd(emu, syncd_uuid, local, work, r)
            fin = run.event("sync.finished") or {}
            comp = run.event("upload.completed") or {}
            s_ok = run.returncode == 0 and fin.get("uploaded") == 1 and fin.get("bytes") == size
            ok = ok and s_ok
            rates["syncd"].append(mib / run.wall)
            transfer["syncd"].append(mib / (comp.get("duration_ms") or 1e9) * 1000)
            rss.append(run.maxrss_kib)
            rep.figure(
                f"round {r + 1} syncd sync",
                f"{mib / run.wall:7.1f} MiB/s  (wall "
                f"{run.wall:.2f} s, upload {comp.get('duration_ms')} ms, exit "
                f"{run.returncode}, peak RSS {c.fmt_kib(run.maxrss_kib)})",
            )
            if not s_ok:
                rep.note(f"syncd log: {run.log_path}")
        oss = emu.stats()["status"].get("oss", {})
        rep.figure("emulator OSS PUT statuses", str(dict(oss)))
    med = {k: c.median(v) for k, v in rates.items()}
    up = {k: c.median(v) for k, v in transfer.items()}
    vs_min, vs_curl = up["syncd"] / up["minimal"], med["syncd"] / med["curl"]
    peak = max(rss) / 1024
    for k in ("curl", "minimal", "syncd"):
        rep.figure(f"{k} (median)", f"{med[k]:.1f} MiB/s")
    for k in ("minimal", "syncd"):
        rep.figure(f"{k} upload info -> commit (median)", f"{up[k]:.1f} MiB/s")
    rep.figure(
        "ratio syncd/minimal, whole process",
        f"{med['syncd'] / med['minimal']:.3f}  "
        "(start-up and exit included: syncd imports more, ~0.2 s)",
    )
    rep.figure("ratio syncd/minimal client, upload", f"{vs_min:.3f}  (target >= {MINIMAL_TARGET})")
    rep.figure(
        "ratio syncd/curl",
        f"{vs_curl:.3f}  (target >= {CURL_TARGET} where a core is free for hashing)",
    )
    rep.figure("syncd peak RSS (max of rounds)", f"{peak:.1f} MiB  (target <= {RSS_TARGET_MIB})")
    rep.check(
        "curl PUT 200 (no Content-Type sent) and syncd exit 0, 1 file committed",
        ok,
        "all rounds" if ok else "see the round lines above",
    )
    rep.check(
        "throughput vs the minimal client",
        vs_min >= MINIMAL_TARGET,
        f"{vs_min:.3f} >= {MINIMAL_TARGET}",
    )
    free_core = (os.cpu_count() or 1) >= 3
    if free_core:
        rep.check("throughput vs curl", vs_curl >= CURL_TARGET, f"{vs_curl:.3f} >= {CURL_TARGET}")
    else:
        rep.note(
            f"(vs curl not judged: {os.cpu_count()} cores, and the emulator's hashing takes "
            "one; product.md: MD5 + SHA-256 then cap near 0.85 x curl)"
        )
    rep.check("peak RSS", peak <= RSS_TARGET_MIB, f"{peak:.1f} MiB <= {RSS_TARGET_MIB} MiB")
    return rep.finish()


def _shown(header: str) -> str:
    return "Authorization: OSS <..>" if header.lower().startswith("authorization") else header


if __name__ == "__main__":
    c.main_guard(main)
