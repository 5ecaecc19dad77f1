"""`syncd status`: what the state store knows, per mapping. Works while the daemon runs.

Times are ISO-8601 in UTC (as in the logs), sizes are human; `--json` has the same data
with the same ISO times, exact, where the text escapes control characters and escape
sequences (a remote name or message is never obeyed by the terminal). Whether a daemon is
running is read from the state lock, not guessed from its last snapshot.

The first line is the verdict (`ok` / `degraded: …` / `failing: …`), computed by
`obs.verdict` from the same facts as the daemon's `/healthz`: the running daemon's snapshot
(failing mappings with since when, the remote, its main loop) and the state store's issues;
without a daemon, a mapping whose local folder is missing is failing.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from typing import Any

from syncd.core.errors import StateError
from syncd.core.model import IssueKind
from syncd.core.settings import Config, Mapping
from syncd.core.text import terminal_safe
from syncd.core.units import human
from syncd.obs.verdict import LOOP_STALE, Facts, verdict
from syncd.state.lock import LOCK_FILE
from syncd.state.store import STATE_FILE, StateStore


def iso(ts: float | None) -> str | None:
    if not ts:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _holder(config: Config) -> int | None:
    """The pid of the syncd holding the state lock, or None when none does."""
    path = config.state_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else -1
    finally:
        os.close(fd)


def _daemon(config: Config, snapshot: Any) -> dict[str, Any]:
    pid = _holder(config)
    out: dict[str, Any] = {"running": pid is not None}
    if pid is not None and pid > 0:
        out["pid"] = pid
    if isinstance(snapshot, dict):
        out["last_seen"] = iso(snapshot.get("updated"))
        out["last_seen_seconds"] = int(time.time() - float(snapshot.get("updated") or 0))
        out["counters"] = snapshot.get("counters") or {}
        if pid is not None:  # what a stopped daemon was doing is not news
            out["activity"] = snapshot.get("activity") or "idle"
            out["pending"] = snapshot.get("pending") or {}
    return out


def _live(snapshot: Any, running: bool) -> dict[str, Any]:
    """The running daemon's snapshot (empty without one)."""
    return snapshot if running and isinstance(snapshot, dict) else {}


def _failure(m: Mapping, live: dict[str, Any]) -> dict[str, Any] | None:
    """Why mapping `m` cannot be synced, and since when: the running daemon's word, else
    what can be seen from here (its local folder missing)."""
    if live:
        found = (live.get("failed_mappings") or {}).get(m.key)
        if not found:
            return None
        return {
            "reason": found.get("reason", ""),
            "error_code": found.get("code") or None,
            "since": iso(found.get("since")),
        }
    try:
        if m.local.is_dir():
            return None
        reason = "local folder missing" if not m.local.exists() else "not a directory"
    except OSError as exc:
        reason = f"cannot access the local folder: {exc.strerror}"
    return {"reason": reason, "error_code": None, "since": None}


def _mapping(state: StateStore | None, m: Mapping, live: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "local": str(m.local),
        "parent_dentry_uuid": m.parent_dentry_uuid,
        "failure": _failure(m, live),
        "files": 0,
        "bytes": 0,
        "last_upload": None,
        "remote_checked": None,
        "failing": [],
        "held": [],
        "refused": [],
        "tallies": {},
        "notices": [],
    }
    if state is None:
        return entry
    summary = state.summary(m.key)
    entry.update(
        files=summary["files"], bytes=summary["bytes"], last_upload=iso(summary["last_upload"])
    )
    entry["remote_checked"] = iso(state.mapping_info(m.key).remote_checked)
    entry["tallies"] = state.tallies(m.key)
    for issue in sorted(state.issues(m.key).values(), key=lambda i: i.rel_path):
        item: dict[str, Any] = {"path": issue.rel_path, "reason": issue.reason}
        if issue.code or issue.message:
            item["error"] = ": ".join(p for p in (issue.code, issue.message) if p)
        if issue.kind is IssueKind.FAILED:
            item.update(attempts=issue.attempts, next_retry=iso(issue.next_retry))
            entry["failing"].append(item)
        else:
            entry[issue.kind.value].append(item)
    entry["notices"] = [
        {"path": n.rel_path, "what": n.kind.value, "detail": n.detail, "at": iso(n.at)}
        for n in state.notices(m.key, limit=10)
    ]
    return entry


def collect(config: Config) -> dict[str, Any]:
    path = config.state_dir / STATE_FILE
    out: dict[str, Any] = {"state": str(path), "mappings": []}
    state = None
    if path.exists():
        state = StateStore(config.state_dir, readonly=True)
    else:
        out["note"] = "no state yet: nothing has been synced with this state_dir"
    try:
        snapshot = state.meta("daemon.status") if state else None
        out["daemon"] = daemon = _daemon(config, snapshot)
        live = _live(snapshot, daemon["running"])
        out["mappings"] = [_mapping(state, m, live) for m in config.mappings]
    finally:
        if state is not None:
            state.close()
    judged = verdict(_facts(out["mappings"], live))
    out = {"verdict": judged.line, "level": judged.level.value, **out}
    return out


def _facts(mappings: list[dict[str, Any]], live: dict[str, Any]) -> Facts:
    """The verdict's facts: the daemon's (when one runs) and the store's issues."""
    silent = time.time() - float(live.get("updated") or 0) if live else 0.0
    return Facts(
        failed_mappings=tuple(
            f"{m['local']}: {m['failure']['reason']}" for m in mappings if m["failure"]
        ),
        state_broken=str(live.get("state_broken") or ""),
        # the daemon writes its snapshot every few seconds: one this old means a stuck loop
        loop_silent_seconds=silent if silent > LOOP_STALE else 0.0,
        remote_down_seconds=float(live.get("remote_down_seconds") or 0.0),
        failing_files=sum(len(m["failing"]) for m in mappings),
        held_files=sum(len(m["held"]) for m in mappings),
        refused_files=sum(len(m["refused"]) for m in mappings),
    )


def _daemon_line(d: dict[str, Any]) -> str:
    if d.get("running"):
        head = f"running, pid {d['pid']}" if "pid" in d else "running"
        if "last_seen_seconds" in d:
            head += f", last seen {d['last_seen_seconds']} s ago"
    else:
        head = "not running" + (f", last seen {d['last_seen']}" if d.get("last_seen") else "")
    counters = d.get("counters") or {}
    if counters:
        head += " (" + ", ".join(f"{k} {v}" for k, v in counters.items()) + ")"
    return head


def _activity_lines(d: dict[str, Any]) -> list[str]:
    if "activity" not in d:
        return []
    lines = [f"  now: {d['activity']}"]
    p = d.get("pending") or {}
    lines.append(
        f"  pending: {p.get('settling', 0)} settling, {p.get('queued', 0)} queued, "
        f"{p.get('in_flight', 0)} in flight, {p.get('retrying', 0)} waiting to retry"
    )
    return lines


def render(data: dict[str, Any]) -> list[str]:
    lines = [data["verdict"], f"state: {data['state']}"]
    if data.get("note"):
        lines.append(data["note"])
    lines.append(f"daemon: {_daemon_line(data.get('daemon') or {})}")
    lines += _activity_lines(data.get("daemon") or {})
    for m in data["mappings"]:
        lines += ["", f"{m['local']} -> {m['parent_dentry_uuid']}", *_mapping_lines(m)]
    return lines


def _mapping_lines(m: dict[str, Any]) -> list[str]:
    last = m["last_upload"] or "never"
    lines = []
    if (f := m["failure"]) is not None:
        code = f" ({f['error_code']})" if f.get("error_code") else ""
        since = f"; since {f['since']}" if f.get("since") else ""
        lines.append(f"  FAILED: {f['reason']}{code}{since}")
    lines += [f"  synced: {m['files']} files, {human(m['bytes'])}; last upload {last}"]
    remote = f"  remote: last checked {m['remote_checked'] or 'never'}"
    if m["tallies"]:
        remote += "; " + ", ".join(f"{k} {v}" for k, v in sorted(m["tallies"].items()))
    lines.append(remote)
    for item in m["failing"]:
        why = item.get("error", item["reason"])
        retry = f"attempt {item['attempts']}, next retry {item['next_retry']}"
        lines.append(f"  failing: {item['path']}: {why}; {retry}")
    for kind in ("held", "refused"):
        for item in m[kind]:
            error = item.get("error", "")
            extra = f" ({error})" if error and error not in item["reason"] else ""
            lines.append(f"  {kind}: {item['path']}: {item['reason']}{extra}")
    for n in m["notices"]:
        detail = f": {n['detail']}" if n["detail"] else ""
        lines.append(f"  {n['at']} {n['what']}: {n['path']}{detail}")
    return lines


def show_status(config: Config, *, as_json: bool = False) -> int:
    try:
        data = collect(config)
    except StateError as exc:
        print(f"syncd: {exc}", file=sys.stderr)
        return 1
    if as_json:  # exact: a script gets the names as they are
        text = json.dumps(data, ensure_ascii=False, indent=2)
    else:  # paths, errors and notices may come from the remote: escape what a terminal obeys
        text = "\n".join(terminal_safe(line) for line in render(data))
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `syncd status | head`: the reader went away, that is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0
