"""`syncd demo [DIR]`: the zero-setup trial.

Starts the emulator in-process, creates DIR with a sample file, runs the daemon on it with
console logs, and prints each file as it lands in the emulated DingTalk folder (read back
from the emulator, so what is shown is what the remote holds). Ctrl-C stops cleanly.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from syncd.config import parse
from syncd.daemon.loop import run_daemon
from syncd.emulator import Emulator

SAMPLE = """Hello from syncd!

Everything you save in this folder is uploaded to the (emulated) DingTalk folder,
subfolders included, a moment after the file stops changing. Try:

    echo hi > note.txt
    mkdir -p reports/2026 && cp some.pdf reports/2026/

Office lock files, editor swap files and partial downloads are ignored.
Press Ctrl-C in the terminal running `syncd demo` to stop.
"""


def _landed(emu: Emulator, root: str, stop: threading.Event, out: Any) -> None:
    """Print every file that appears or changes remotely."""
    seen: dict[str, int] = {}
    while not stop.wait(0.2):
        try:
            files = emu.files(root)
        except KeyError:
            continue
        for path, f in sorted(files.items()):
            if seen.get(path) != f["version"]:
                seen[path] = f["version"]
                print(
                    f"  landed: {path}  ({f['size']} bytes, version {f['version']})",
                    file=out,
                    flush=True,
                )


def run_demo(directory: Path, *, settle_seconds: float = 1.0) -> int:
    directory = directory.expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    sample = directory / "hello-syncd.txt"
    if not sample.exists():
        sample.write_text(SAMPLE, encoding="utf-8")
    state_dir = Path(tempfile.mkdtemp(prefix="syncd-demo-state-"))
    stop = threading.Event()
    with Emulator() as emu:
        root = emu.root_uuids[0]
        config = parse(
            {
                "dingtalk": {
                    "app_key": emu.app_key,
                    "app_secret": emu.app_secret,
                    "union_id": emu.union_ids[0],
                    "api_base": emu.base_url,
                },
                "state_dir": str(state_dir),
                "mappings": [{"local": str(directory), "parent_dentry_uuid": root}],
                "sync": {"settle_seconds": settle_seconds, "rescan_interval_seconds": 600},
            },
            source="syncd demo",
            environ=dict(os.environ),
        )
        print(
            f"syncd demo: watching {directory}\n"
            f"  emulated DingTalk API at {emu.base_url} (folder {root});\n"
            f"  remote tree: {emu.base_url}/_emulator/tree\n"
            f"  drop files into the folder and watch them land; Ctrl-C stops.",
            file=sys.stdout,
            flush=True,
        )
        printer = threading.Thread(
            target=_landed, args=(emu, root, stop, sys.stdout), name="demo-landed", daemon=True
        )
        printer.start()
        try:
            return run_daemon(config)
        finally:
            stop.set()
            printer.join(timeout=2)
            shutil.rmtree(state_dir, ignore_errors=True)
            print("syncd demo: stopped", flush=True)
