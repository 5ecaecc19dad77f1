"""The `plan.*` lines of a dry-run, written directly.

A first dry-run over a million new files prints a million lines; through structlog and the
stdlib logging record each cost ~100 µs (70 % of the run's CPU, measured). In JSON mode
these lines are rendered here — the same keys, level and UTC timestamp as structlog's — and
written in batches; the logging chain calls `flush()` before it writes any other line
(`logconfig.before_write`), so the order of lines is kept. On a console they go through
structlog.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

import structlog

from syncd.obs.logconfig import before_write, current_format

log = structlog.get_logger(__name__)
BATCH = 512

_lock = threading.Lock()
_pending: list[str] = []
_quote = json.encoder.encode_basestring  # C, and no ASCII escaping (ensure_ascii=False)
_second: list[Any] = [-1, ""]
# the fixed parts of the last folder's `plan.upload` lines: (key, before path, after path)
_parts: tuple[tuple[str, str, str], str, str] = (("", "", ""), "", "")


def _direct() -> bool:
    """True when lines are written here (JSON at level info or below)."""
    return current_format() == "json" and logging.root.isEnabledFor(logging.INFO)


def emit(event: str, **fields: Any) -> None:
    if not _direct():
        log.info(event, **fields)
        return
    body = ", ".join(f"{_quote(k)}: {_value(v)}" for k, v in fields.items())
    _add(f'{{{body}, "event": {_quote(event)}, "level": "info", "timestamp": "{_stamp()}"}}')


def emit_upload(mapping: str, path: str, remote_folder: str, reason: str, size: int) -> None:
    """`emit("plan.upload", ...)` with its fields spelled out: the one line per new file."""
    if not _direct():
        log.info(
            "plan.upload",
            mapping=mapping,
            path=path,
            remote_folder=remote_folder,
            reason=reason,
            size=size,
        )
        return
    key = (mapping, remote_folder, reason)
    parts = _parts
    if parts[0] != key:  # once per folder: the files of a folder come one after another
        parts = _upload_parts(key)
    _add(
        f'{parts[1]}{_quote(path)}{parts[2]}{size}, "event": "plan.upload", "level": "info", '
        f'"timestamp": "{_stamp()}"}}'
    )


def _upload_parts(key: tuple[str, str, str]) -> tuple[tuple[str, str, str], str, str]:
    global _parts
    mapping, remote_folder, reason = key
    _parts = (
        key,
        f'{{"mapping": {_quote(mapping)}, "path": ',
        f', "remote_folder": {_quote(remote_folder)}, "reason": {_quote(reason)}, "size": ',
    )
    return _parts


def _add(line: str) -> None:
    with _lock:
        _pending.append(line)
        if len(_pending) >= BATCH:
            _write()


def _value(v: Any) -> str:
    if isinstance(v, str):
        return str(_quote(v))
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


def _stamp() -> str:
    """structlog's ISO UTC timestamp (microseconds, `Z`), the date part made once a second."""
    us = time.time_ns() // 1000
    sec = us // 1_000_000
    if sec != _second[0]:
        _second[0], _second[1] = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{_second[1]}.{us % 1_000_000:06d}Z"


def flush() -> None:
    with _lock:
        if _pending:
            _write()


before_write(flush)


def _write() -> None:
    text = "\n".join(_pending) + "\n"
    _pending.clear()
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
