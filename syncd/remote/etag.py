"""Checking the OSS `ETag` of a PUT against the MD5 of the bytes sent.

A simple PutObject's ETag is the MD5 of the object (dingtalk-api.md §5.3), but whether
DingTalk's OSS proxy passes it through unchanged is not confirmed (§13). So the check is
learnt per host: an ETag that matches proves the host sends MD5s, and from then on a
mismatch is a corrupt transfer; a host whose ETags have never matched after a few uploads
is taken not to send MD5s (one warning), and syncd relies on the size check of the commit
(`option.size`) instead of failing every file.
"""

from __future__ import annotations

import re
import threading

import structlog

from syncd.core.errors import CorruptTransferError

log = structlog.get_logger(__name__)

MISMATCHES_BEFORE_FALLBACK = 2
_HEX32 = re.compile(r"^[0-9A-Fa-f]{32}$")


class EtagCheck:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._matched: set[str] = set()
        self._misses: dict[str, int] = {}
        self._unverifiable: set[str] = set()

    def check(self, host: str, etag: str | None, md5_hex: str) -> None:
        """Raise `CorruptTransferError` when the ETag shows the bytes arrived damaged."""
        value = (etag or "").strip().strip('"')
        if not _HEX32.match(value):
            return  # none, or not a plain MD5 (e.g. a multipart "…-2"): nothing to compare
        if value.lower() == md5_hex.lower():
            with self._lock:
                self._matched.add(host)
            return
        with self._lock:
            if host in self._unverifiable:
                return
            if host not in self._matched:
                misses = self._misses[host] = self._misses.get(host, 0) + 1
                if misses >= MISMATCHES_BEFORE_FALLBACK:
                    self._unverifiable.add(host)
                    log.warning(
                        "etag.unverifiable",
                        host=host,
                        hint="this upload host's ETag is not the MD5 of the content; "
                        "uploads are verified by size (the commit's option.size) instead",
                    )
                    return
        raise CorruptTransferError(
            "ETag does not match the MD5 of the bytes sent", code="corruptTransfer", api="oss.put"
        )
