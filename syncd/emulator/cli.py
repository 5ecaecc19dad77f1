"""``syncd emulator``: run the DingTalk emulator until SIGINT/SIGTERM.

Prints the base URL and a ready-to-paste syncd config snippet, then serves.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from syncd.emulator.faults import ENDPOINTS, KINDS
from syncd.emulator.server import Emulator


def parse_fault(value: str) -> tuple[str, str, float]:
    """``ENDPOINT:KIND[:RATE]`` -> (endpoint, kind, rate); rate defaults to 1.0."""
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"expected ENDPOINT:KIND:RATE, got {value!r}")
    endpoint, kind = parts[0], parts[1]
    if endpoint not in ENDPOINTS:
        raise argparse.ArgumentTypeError(f"unknown endpoint {endpoint!r} (one of {ENDPOINTS})")
    if kind not in KINDS:
        raise argparse.ArgumentTypeError(f"unknown fault kind {kind!r} (one of {KINDS})")
    try:
        rate = float(parts[2]) if len(parts) == 3 else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"rate must be a number, got {parts[2]!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"rate must be within [0, 1], got {rate}")
    return endpoint, kind, rate


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {number}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``syncd emulator`` options to ``parser``."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="API port (default: OS-assigned)")
    parser.add_argument("--oss-port", type=int, default=0, help="OSS port (default: OS-assigned)")
    parser.add_argument(
        "--folder",
        action="append",
        dest="folders",
        metavar="UUID",
        help="root folder dentryUuid to create (repeatable; default: one random)",
    )
    parser.add_argument("--app-key", default="emulator-app-key")
    parser.add_argument("--app-secret", default="emulator-app-secret")
    parser.add_argument(
        "--union-id",
        action="append",
        dest="union_ids",
        metavar="UNION_ID",
        help="operator unionId allowed (repeatable; default: emulator-union-id)",
    )
    parser.add_argument(
        "--qps",
        type=_positive_int,
        default=None,
        help="per-API calls/second limit (default: unlimited)",
    )
    parser.add_argument(
        "--expiration-seconds",
        type=_positive_int,
        default=900,
        help="upload-info expiry (default: %(default)s)",
    )
    parser.add_argument(
        "--token-ttl",
        type=_positive_int,
        default=7200,
        help="access token lifetime in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        type=parse_fault,
        dest="faults",
        default=[],
        metavar="ENDPOINT:KIND:RATE",
        help=f"inject faults (repeatable); endpoints {', '.join(ENDPOINTS)}; "
        f"kinds {', '.join(KINDS)}",
    )
    parser.add_argument(
        "--store-content",
        action="store_true",
        help="keep uploaded bytes in memory (default: hashes only)",
    )
    parser.add_argument("--seed", type=int, default=0, help="fault RNG seed (default: 0)")


def config_snippet(emu: Emulator) -> str:
    """A syncd YAML config pointing at ``emu`` (JSON strings are valid YAML scalars)."""
    q = json.dumps
    lines = [
        "dingtalk:",
        f"  app_key: {q(emu.app_key)}",
        f"  app_secret: {q(emu.app_secret)}",
        f"  union_id: {q(emu.union_ids[0])}",
        f"  api_base: {q(emu.base_url)}",
        "mappings:",
    ]
    for uuid in emu.root_uuids:
        lines += ["  - local: /path/to/local/folder", f"    parent_dentry_uuid: {q(uuid)}"]
    return "\n".join(lines)


def run(args: Any) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 1 if the servers cannot start."""
    emu = Emulator(
        host=args.host,
        port=args.port,
        oss_port=args.oss_port,
        app_key=args.app_key,
        app_secret=args.app_secret,
        union_ids=args.union_ids or ("emulator-union-id",),
        folders=args.folders,
        expiration_seconds=args.expiration_seconds,
        token_ttl=args.token_ttl,
        qps=args.qps,
        store_content=args.store_content,
        seed=args.seed,
    )
    for endpoint, kind, rate in args.faults or ():
        emu.set_fault(endpoint, kind, rate)
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        try:
            emu.start()
        except OSError as exc:
            print(f"syncd emulator: cannot listen on {args.host}: {exc}", file=sys.stderr)
            return 1
        print(f"DingTalk emulator API: {emu.base_url}  OSS: {emu.oss_url}", flush=True)
        print(f"root folders: {' '.join(emu.root_uuids)}", flush=True)
        print("# syncd config for this emulator:", flush=True)
        print(config_snippet(emu), flush=True)
        print("# serving; stop with Ctrl-C", flush=True)
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        emu.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
