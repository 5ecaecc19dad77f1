"""``syncd emulator``: run the DingTalk emulator until SIGINT/SIGTERM.

Prints the base URL, a ready-to-paste syncd config snippet and the monthly quota, tenant
variants and address book in force, then serves.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from syncd.emulator.faults import ENDPOINTS, KINDS, validate
from syncd.emulator.routes_common import ROLES
from syncd.emulator.server import ORG_NAME, Emulator
from syncd.emulator.variants import VARIANTS


def parse_fault(value: str) -> tuple[str, str, float, int | None]:
    """``ENDPOINT:KIND[:RATE[:STATUS]]`` -> (endpoint, kind, rate, status); rate defaults to
    1.0, status (for ban, banhtml and 5xx) to the kind's own."""
    parts = value.split(":")
    if len(parts) not in (2, 3, 4):
        raise argparse.ArgumentTypeError(f"expected ENDPOINT:KIND[:RATE[:STATUS]], got {value!r}")
    endpoint, kind = parts[0], parts[1]
    try:
        rate = float(parts[2]) if len(parts) >= 3 and parts[2] else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"rate must be a number, got {parts[2]!r}") from None
    try:
        status = int(parts[3]) if len(parts) == 4 else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"status must be an integer, got {parts[3]!r}") from None
    try:
        validate(endpoint, kind, rate, None, status)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return endpoint, kind, rate, status


def _pair(value: str, what: str) -> tuple[str, str]:
    left, sep, right = value.rpartition("=")
    if not sep or not left or not right:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
    return left, right


def parse_workspace(value: str) -> tuple[str, str]:
    """``NAME=UUID`` -> (uuid, name): a knowledge base named NAME whose root is UUID."""
    name, uuid = _pair(value, "NAME=UUID")
    return uuid, name


def parse_role(value: str) -> tuple[str, str]:
    """``UNION_ID=ROLE`` -> (union id, role)."""
    union, role = _pair(value, "UNION_ID=ROLE")
    if role not in ROLES:
        raise argparse.ArgumentTypeError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    return union, role


def parse_variant(value: str) -> tuple[str, str | None]:
    """``NAME[:ROOT_UUID]`` -> (variant, root uuid or None for every space)."""
    name, _, root = value.partition(":")
    if name not in VARIANTS:
        raise argparse.ArgumentTypeError(f"unknown variant {name!r} (one of {', '.join(VARIANTS)})")
    return name, root or None


def parse_user(value: str) -> dict[str, str]:
    """``MOBILE:NAME:UNIONID[:USERID]`` -> a user of the address book (userid defaults to
    ``user-N``, N its place among the users)."""
    parts = value.split(":")
    if len(parts) not in (3, 4) or not all(parts):
        raise argparse.ArgumentTypeError(f"expected MOBILE:NAME:UNIONID[:USERID], got {value!r}")
    user = {"mobile": parts[0], "name": parts[1], "unionid": parts[2]}
    if len(parts) == 4:
        user["userid"] = parts[3]
    return user


def _latency_ms(value: str) -> float:
    try:
        ms = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected milliseconds, got {value!r}") from None
    if ms < 0:
        raise argparse.ArgumentTypeError(f"latency must be >= 0, got {ms}")
    return ms / 1000.0


def _positive_int(value: str) -> int:
    number = _count(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {number}")
    return number


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {number}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``syncd emulator`` options to ``parser``."""
    _add_remote_arguments(parser)
    _add_behaviour_arguments(parser)
    _add_tenant_arguments(parser)


def _add_tenant_arguments(parser: argparse.ArgumentParser) -> None:
    """What kind of tenant it is: monthly quota, variants, address book (§15)."""
    parser.add_argument(
        "--monthly-quota",
        type=_count,
        default=None,
        metavar="N",
        help="metered API calls a month, org-wide (token and contact calls exempt); over it "
        "every metered call is 403 Forbidden.AccessDenied.ApiCountLimitForOrg; "
        "POST /_emulator/reset-month starts a new month (default: unlimited)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        type=parse_variant,
        dest="variants",
        default=[],
        metavar="NAME[:ROOT_UUID]",
        help="tenant variant, in every space or the one of ROOT_UUID (repeatable): "
        f"{', '.join(VARIANTS)}",
    )
    parser.add_argument(
        "--user",
        action="append",
        type=parse_user,
        dest="users",
        default=[],
        metavar="MOBILE:NAME:UNIONID[:USERID]",
        help="a user of the address book (repeatable; default: user-1 'Emulator Operator' "
        "13800000000 per --union-id); without --union-id their unionIds are the operators",
    )
    parser.add_argument(
        "--org-name", default=ORG_NAME, help="the org, root department 1 (default: %(default)s)"
    )


def _add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    """Where it listens and what it holds: ports, roots, app, operators and their roles."""
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
    parser.add_argument(
        "--workspace",
        action="append",
        type=parse_workspace,
        dest="workspaces",
        default=[],
        metavar="NAME=UUID",
        help="a knowledge base NAME with root folder UUID (repeatable)",
    )
    parser.add_argument("--app-key", default="emulator-app-key")
    parser.add_argument(
        "--app-id", default="1000001", help="the app's id (appProperties owner; %(default)s)"
    )
    parser.add_argument("--app-secret", default="emulator-app-secret")
    parser.add_argument(
        "--union-id",
        action="append",
        dest="union_ids",
        metavar="UNION_ID",
        help="operator unionId allowed (repeatable; default: emulator-union-id)",
    )
    parser.add_argument(
        "--role",
        action="append",
        type=parse_role,
        dest="roles",
        default=[],
        metavar="UNION_ID=ROLE",
        help=f"an operator's role in the knowledge bases (repeatable; {', '.join(ROLES)})",
    )
    parser.add_argument(
        "--default-role",
        choices=ROLES,
        default="EDITOR",
        help="role of operators without --role (default: %(default)s)",
    )


def _add_behaviour_arguments(parser: argparse.ArgumentParser) -> None:
    """How it behaves: latency, limits, expiries, faults, content and the fault seed."""
    parser.add_argument(
        "--latency-ms",
        type=_latency_ms,
        default=0.0,
        dest="latency",
        metavar="N",
        help="added latency per API call and OSS PUT, in milliseconds (default: 0)",
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
        metavar="ENDPOINT:KIND[:RATE[:STATUS]]",
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


def workspace_names(emu: Emulator) -> list[tuple[str, str]]:
    """(name, root uuid) of every knowledge base, in root order."""
    with emu.dentries.lock:
        by_root = {ws.root.uuid: ws.name for ws in emu.dentries.spaces.values()}
    return [(by_root[uuid], uuid) for uuid in emu.root_uuids]


def _users(args: Any) -> list[dict[str, str]] | None:
    """The --user entries with their default userids, or None (the default address book)."""
    raw: list[dict[str, str]] = getattr(args, "users", None) or []
    return [{"userid": f"user-{n}", **user} for n, user in enumerate(raw, 1)] or None


def build(args: Any) -> Emulator:
    """The emulator the parsed ``args`` describe, faults set (ValueError if inconsistent)."""
    users = _users(args)
    operators = args.union_ids or [u["unionid"] for u in users or ()] or ("emulator-union-id",)
    emu = Emulator(
        host=args.host,
        port=args.port,
        oss_port=args.oss_port,
        app_key=args.app_key,
        app_secret=args.app_secret,
        union_ids=operators,
        folders=args.folders,
        expiration_seconds=args.expiration_seconds,
        token_ttl=args.token_ttl,
        qps=args.qps,
        store_content=args.store_content,
        seed=args.seed,
        app_id=args.app_id,
        workspace_names=dict(args.workspaces or ()),
        roles=dict(args.roles or ()),
        default_role=args.default_role,
        latency=args.latency,
        monthly_quota=getattr(args, "monthly_quota", None),
        variants=getattr(args, "variants", None) or (),
        users=users,
        org_name=getattr(args, "org_name", ORG_NAME),
    )
    for endpoint, kind, rate, status in args.faults or ():
        emu.set_fault(endpoint, kind, rate, status=status)
    return emu


def _announce(emu: Emulator) -> None:
    print(f"DingTalk emulator API: {emu.base_url}  OSS: {emu.oss_url}", flush=True)
    print(f"root folders: {' '.join(emu.root_uuids)}", flush=True)
    for name, uuid in workspace_names(emu):
        print(f"knowledge base {name!r}: rootNodeId {uuid}", flush=True)
    print("# syncd config for this emulator:", flush=True)
    print(config_snippet(emu), flush=True)
    for line in tenant_lines(emu):
        print(line, flush=True)
    print("# serving; stop with Ctrl-C", flush=True)


def tenant_lines(emu: Emulator) -> list[str]:
    """Comment lines on the monthly quota, the tenant variants and the address book."""
    quota = emu.meter.quota
    if quota is None:
        lines = ["# monthly API quota: unlimited (--monthly-quota N)"]
    else:
        lines = [
            f"# monthly API quota: {quota} metered calls (token and contacts exempt); "
            f"new month: POST {emu.base_url}/_emulator/reset-month"
        ]
    on = [
        f"{name} ({'every space' if where == '*' else ' '.join(where)})"
        for name, where in emu.variants.snapshot().items()
    ]
    lines.append("# tenant variants: " + (", ".join(on) or "none (--variant NAME[:ROOT_UUID])"))
    lines += [
        f"# contact: {u.name!r} mobile {u.mobile} userid {u.userid} unionId {u.unionid}"
        for u in emu.directory.users()
    ]
    return lines


def run(args: Any) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 1 if the servers cannot start, 2 for
    inconsistent options (e.g. a uuid given twice)."""
    try:
        emu = build(args)
    except ValueError as exc:
        print(f"syncd emulator: {exc}", file=sys.stderr)
        return 2
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
        _announce(emu)
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        emu.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
