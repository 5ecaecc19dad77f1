"""Stable keyset pagination for list calls (``nextToken`` / ``maxResults``).

Items are sorted by a key that ends with a unique tie-breaker (the dentry id), and
``nextToken`` is an opaque cursor: the key of the last item sent plus the listing it
belongs to (``scope``). The next page starts strictly after that key, so a client sees every
entry exactly once when nothing changes, and an unchanged entry is neither repeated nor
skipped when others are added or removed between pages (inferred; §8.4 only says a
non-empty ``nextToken`` means more data).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from syncd.emulator.common import ApiError

T = TypeVar("T")
Key = list[Any]
# The ``loop`` fault's token on a first page: not a cursor, so once the fault has stopped it is
# refused like any token this pager did not issue (400 paramError).
LOOP_TOKEN = "emulator-loop"


def max_results(raw: str | None, default: int, limit: int, field: str = "maxResults") -> int:
    """``maxResults`` from the query: default when absent, 1..limit, else 400 paramError."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "paramError", f"{field} must be an integer") from None
    if not 1 <= value <= limit:
        raise ApiError(400, "paramError", f"{field} must be within [1, {limit}], got {value}")
    return value


def _encode(scope: str, key: Key) -> str:
    raw = json.dumps({"s": scope, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, scope: str) -> tuple[Any, ...]:
    invalid = ApiError(400, "paramError", "nextToken is invalid")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("s") != scope or not isinstance(data.get("k"), list):
        raise invalid
    return tuple(data["k"])


def page(
    items: Sequence[T],
    key: Callable[[T], Key],
    size: int,
    token: str | None,
    scope: str,
    descending: bool = False,
) -> tuple[list[T], str]:
    """One page of ``items`` in ``key`` order and the token for the next ("" when last)."""
    ordered = sorted(items, key=lambda item: tuple(key(item)), reverse=descending)
    if token:
        cursor = _decode(token, scope)
        try:
            if descending:
                ordered = [i for i in ordered if tuple(key(i)) < cursor]
            else:
                ordered = [i for i in ordered if tuple(key(i)) > cursor]
        except TypeError:  # a cursor of another shape: not a token we issued
            raise ApiError(400, "paramError", "nextToken is invalid") from None
    chunk = ordered[:size]
    more = len(ordered) > size
    return chunk, _encode(scope, key(chunk[-1])) if more else ""
