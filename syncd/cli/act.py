"""`syncd retry` and `syncd resolve`: act on a file without taking the state lock.

The command checks the file (failing, or held) and leaves a request in the state store;
the running daemon takes it within seconds (this waits for that and prints what was
done), or, with no daemon running, the next `syncd sync` or `syncd run` does at its start.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from syncd.cli.status import _holder
from syncd.core.actions import Resolution
from syncd.core.exit_codes import EXIT_FAILED, EXIT_OK
from syncd.core.model import IssueKind
from syncd.core.settings import Config, Mapping
from syncd.core.text import terminal_safe as safe
from syncd.execute.requests import RESOLVE, RETRY, under
from syncd.state.store import STATE_FILE, StateStore

TAKEN_SECONDS = 30.0  # the daemon looks every 5 s
DONE_SECONDS = 60.0  # and then uploads the file


def locate(config: Config, raw: str) -> tuple[Mapping, str] | str:
    """The mapping holding `raw` and the path inside it, or why there is none."""
    path = Path(os.path.abspath(os.path.expanduser(raw)))
    for m in sorted(config.mappings, key=lambda m: len(str(m.local)), reverse=True):
        for root in {m.local, Path(os.path.abspath(m.local))}:
            if path == root or path.is_relative_to(root):
                return m, path.relative_to(root).as_posix().removeprefix(".")
    where = ", ".join(str(m.local) for m in config.mappings)
    return f"{raw} is in no mapping (mapped folders: {where})"


def _open(config: Config) -> StateStore | None:
    if not (config.state_dir / STATE_FILE).exists():
        print(f"syncd: nothing synced yet with {config.state_dir}", file=sys.stderr)
        return None
    return StateStore(config.state_dir)


def _wait(state: StateStore, ids: list[int]) -> bool:
    deadline = time.monotonic() + TAKEN_SECONDS
    while time.monotonic() < deadline:
        if not {r.id for r in state.requests()} & set(ids):
            return True
        time.sleep(0.2)
    return False


def _handover(config: Config, state: StateStore, ids: list[int]) -> bool:
    """Whether a running daemon took the requests; prints who carries them out."""
    if _holder(config) is None:
        print("queued: no daemon runs; the next `syncd sync` or `syncd run` carries it out")
        return False
    if not _wait(state, ids):
        print(f"queued: the daemon has not taken it within {int(TAKEN_SECONDS)} s")
        return False
    return True


def retry(config: Config, paths: list[str], every: bool) -> int:
    targets: list[tuple[Mapping, str]] = []
    for raw in paths:
        found = locate(config, raw)
        if isinstance(found, str):
            print(f"syncd: {found}", file=sys.stderr)
            return EXIT_FAILED
        targets.append(found)
    state = _open(config)
    if state is None:
        return EXIT_FAILED
    try:
        chosen = [(m, "") for m in config.mappings] if every else targets
        files = [
            (m, rel)
            for m, path in chosen
            for rel, issue in sorted(state.issues(m.key).items())
            if issue.kind is IssueKind.FAILED and under(rel, path)
        ]
        if not files:
            print("no failing file" + ("" if every else " there"))
            return EXIT_OK if every else EXIT_FAILED
        ids = [state.add_request(RETRY, m.key, rel) for m, rel in files]
        if _handover(config, state, ids):
            for m, rel in files:
                print(safe(f"retrying now: {m.local / rel}"))
        return EXIT_OK
    finally:
        state.close()


def resolve(config: Config, raw: str, choice: Resolution) -> int:
    found = locate(config, raw)
    if isinstance(found, str):
        print(f"syncd: {found}", file=sys.stderr)
        return EXIT_FAILED
    m, rel = found
    state = _open(config)
    if state is None:
        return EXIT_FAILED
    try:
        issue = state.issues(m.key).get(rel)
        if issue is None or issue.kind is not IssueKind.HELD:
            print(
                safe(f"syncd: {raw} is not held (`syncd status` lists the held files)"),
                file=sys.stderr,
            )
            return EXIT_FAILED
        since = time.time()
        request = state.add_request(RESOLVE, m.key, rel, choice.value)
        if not _handover(config, state, [request]):
            return EXIT_OK
        deadline = time.monotonic() + DONE_SECONDS
        while time.monotonic() < deadline:
            for n in state.notices(m.key, limit=20):
                if n.rel_path == rel and n.kind.value == "hold resolved" and n.at >= since:
                    print(safe(f"resolved: {m.local / rel}: {n.detail}"))
                    return EXIT_OK
            time.sleep(0.2)
        print(f"taken by the daemon, not done within {int(DONE_SECONDS)} s: see `syncd status`")
        return EXIT_OK
    finally:
        state.close()
