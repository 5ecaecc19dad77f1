"""`syncd ls`: find a `parent_dentry_uuid` without hand-made API calls.

Without a uuid: the knowledge bases the operator can see, with the root uuid to paste into
the config. With a uuid: the folders and files under that folder. `--json` for scripts.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from syncd.core.errors import RemoteError
from syncd.core.text import display_width, pad, terminal_safe
from syncd.remote.transport import Transport
from syncd.remote.wiki import nodes, workspaces


def _table(rows: list[list[str]]) -> list[str]:
    """Aligned columns; every cell made terminal-safe (remote names may hold escape
    sequences) and measured in terminal columns (a CJK character takes two)."""
    cells = [[terminal_safe(c) for c in r] for r in rows]
    widths = [max(display_width(r[i]) for r in cells) for i in range(len(cells[0]))]
    return ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]


def _size(n: Any) -> str:
    if not isinstance(n, int | float):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "-"


def show(client: Transport, uuid: str | None, *, as_json: bool) -> int:
    try:
        items = nodes(client, uuid) if uuid else workspaces(client)
    except RemoteError as exc:
        line = f"syncd ls: {exc.api} {exc.code}: {exc.message}{_hint(exc.code)}"
        print(terminal_safe(line), file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return 0
    if not items:
        print("(empty)" if uuid else "no knowledge base visible to dingtalk.union_id")
        return 0
    if uuid:
        rows = [["NAME", "TYPE", "SIZE", "MODIFIED", "UUID"]]
        rows += [[n["name"], n["type"], _size(n["size"]), n["modified"], n["uuid"]] for n in items]
    else:
        rows = [["NAME", "TYPE", "ROLE", "PARENT_DENTRY_UUID"]]
        rows += [[w["name"], w["type"], w["role"], w["parent_dentry_uuid"]] for w in items]
    print("\n".join(_table(rows)))
    if not uuid:
        print(
            "\nPaste a PARENT_DENTRY_UUID into mappings[].parent_dentry_uuid, or look inside "
            "with `syncd ls UUID`."
        )
    return 0


def _hint(code: str) -> str:
    return {
        "Forbidden.AccessDenied.AccessTokenPermissionDenied": " (grant the app Wiki.Workspace.Read "
        "and Wiki.Node.Read)",
        "parentNodeNotExist": " (no folder with that uuid)",
        "nodeNotExist": " (no folder with that uuid)",
    }.get(code, "")
