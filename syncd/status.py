"""`syncd status`: what the state store knows, per mapping. Works while the daemon runs."""

from __future__ import annotations

import json
import time
from typing import Any

from syncd.config import Config
from syncd.state import STATE_FILE, StateStore


def collect(config: Config) -> dict[str, Any]:
    path = config.state_dir / STATE_FILE
    out: dict[str, Any] = {"state": str(path), "mappings": []}
    if not path.exists():
        out["note"] = "no state yet: nothing has been synced with this state_dir"
        for m in config.mappings:
            out["mappings"].append(
                {
                    "local": str(m.local),
                    "parent_dentry_uuid": m.parent_dentry_uuid,
                    "files": 0,
                    "bytes": 0,
                    "last_upload": None,
                    "failing": [],
                    "refused": [],
                    "held": [],
                }
            )
        return out
    state = StateStore(config.state_dir, readonly=True)
    try:
        out["daemon"] = state.meta("daemon.status")
        for m in config.mappings:
            summary = state.summary(m.key)
            entry: dict[str, Any] = {
                "local": str(m.local),
                "parent_dentry_uuid": m.parent_dentry_uuid,
                **summary,
                "failing": [],
                "refused": [],
                "held": [],
            }
            for issue in sorted(state.issues(m.key).values(), key=lambda i: i.rel_path):
                item: dict[str, Any] = {"path": issue.rel_path, "reason": issue.reason}
                if issue.code or issue.message:
                    item["error"] = f"{issue.code}: {issue.message}".strip(": ")
                if issue.kind.value == "failed":
                    item.update(attempts=issue.attempts, next_retry=issue.next_retry)
                    entry["failing"].append(item)
                else:
                    entry[issue.kind.value].append(item)
            out["mappings"].append(entry)
    finally:
        state.close()
    return out


def _when(ts: float | None) -> str:
    if not ts:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def show_status(config: Config, *, as_json: bool = False) -> int:
    data = collect(config)
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"state: {data['state']}")
    if data.get("note"):
        print(data["note"])
    if daemon := data.get("daemon"):
        print("daemon: " + ", ".join(f"{k} {v}" for k, v in daemon.items()))
    for m in data["mappings"]:
        print(f"\n{m['local']} -> {m['parent_dentry_uuid']}")
        print(
            f"  synced: {m['files']} files, {m['bytes']} bytes, last upload "
            f"{_when(m['last_upload'])}"
        )
        for item in m["failing"]:
            print(
                f"  failing: {item['path']}: {item.get('error', item['reason'])} "
                f"(attempts {item['attempts']}, next retry {_when(item['next_retry'])})"
            )
        for kind in ("refused", "held"):
            for item in m[kind]:
                extra = f" ({item['error']})" if item.get("error") else ""
                print(f"  {kind}: {item['path']}: {item['reason']}{extra}")
    return 0
