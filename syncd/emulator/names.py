"""Identifiers, DingTalk's name rules (§4.1) and the four conflict strategies (§6.1, §8.3)."""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Container
from typing import Any

from syncd.emulator.common import ApiError

STRATEGIES = ("AUTO_RENAME", "OVERWRITE", "RETURN_DENTRY_IF_EXISTS", "RETURN_ERROR_IF_EXISTS")
ILLEGAL_CHARS = frozenset('\t*"<>|/')  # "/" is the emulator's own addition (path separator)

_ALNUM = string.ascii_letters + string.digits


def random_id(length: int = 32) -> str:
    """A random alphanumeric identifier (dentryUuid-like when 32 long)."""
    return "".join([_ALNUM[b % 62] for b in secrets.token_bytes(length)])


def check_name(name: Any, field: str = "name") -> str:
    """The name after DingTalk's rules (§4.1): trimmed, or ApiError 400."""
    if not isinstance(name, str):
        raise ApiError(400, "paramError.name", f"{field} is required")
    trimmed = name.strip(" ")
    if not trimmed:
        raise ApiError(400, "paramError.name", f"{field} must not be empty")
    bad = sorted(ILLEGAL_CHARS.intersection(trimmed))
    if bad:
        raise ApiError(400, "dentryNameIllegal", f"name contains illegal characters: {bad!r}")
    if trimmed.endswith("."):
        raise ApiError(400, "dentryNameIllegal", "name must not end with '.'")
    return trimmed


def check_strategy(option: dict[str, Any]) -> str:
    """``option.conflictStrategy`` (default AUTO_RENAME), or 400 paramError.conflictStrategy."""
    strategy = option.get("conflictStrategy") or "AUTO_RENAME"
    if strategy not in STRATEGIES:
        raise ApiError(
            400, "paramError.conflictStrategy", f"unsupported conflictStrategy: {strategy}"
        )
    return str(strategy)


def free_name(taken: Container[str], name: str, split_ext: bool) -> str:
    """AUTO_RENAME's choice: ``name(1).ext``, ``name(2).ext``… (folders: ``name(1)``)."""
    stem, ext = os.path.splitext(name) if split_ext else (name, "")
    n = 1
    while f"{stem}({n}){ext}" in taken:
        n += 1
    return f"{stem}({n}){ext}"
