"""Reading DingTalk's JSON answers into syncd's values, strictly.

A malformed value in an answer (`"expireIn": "abc"`, `"version": "1.0"`) is a `RemoteError`
naming the field, never a `ValueError` from deep inside the client.
"""

from __future__ import annotations

from typing import Any

from syncd.core.errors import TransientError
from syncd.core.model import STAMP_NAME, Dentry


def as_int(value: Any, name: str, api: str) -> int:
    """An integer field (JSON number or numeric string); anything else is a bad answer."""
    if isinstance(value, bool):
        raise _bad(name, value, api)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise _bad(name, value, api)


def _bad(name: str, value: Any, api: str) -> TransientError:
    shown = repr(value) if len(repr(value)) < 40 else type(value).__name__
    return TransientError(f"malformed {name} in the answer: {shown}", code="badResponse", api=api)


def stamp_of(app_properties: Any) -> str:
    """syncd's `syncd.sha256` stamp among a dentry's app properties ("" when absent).

    The documented shape is a map of app id -> list of {name, value, visibility}; the doc's
    own example shows a plain list (dingtalk-api.md §6.2), so both are read.
    """
    groups: list[Any]
    if isinstance(app_properties, dict):
        groups = list(app_properties.values())
    elif isinstance(app_properties, list):
        groups = [app_properties]
    else:
        return ""
    for group in groups:
        for prop in group if isinstance(group, list) else []:
            if isinstance(prop, dict) and prop.get("name") == STAMP_NAME:
                value = str(prop.get("value") or "").lower()
                if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
                    return value
    return ""


def stamp_app_id(app_properties: Any) -> str:
    """The app id under which our stamp is kept (a PRIVATE property is shown to its own app
    only, so that is this app's id); "" when the answer does not say."""
    if not isinstance(app_properties, dict):
        return ""
    for app_id, group in app_properties.items():
        if stamp_of({app_id: group}):
            return str(app_id)
    return ""


def dentry_from_json(d: Any, api: str) -> Dentry:
    if not isinstance(d, dict) or not d.get("uuid") or not d.get("id"):
        raise TransientError("answer without dentry uuid/id", code="badResponse", api=api)
    kind = str(d.get("type") or "").upper()
    return Dentry(
        uuid=str(d["uuid"]),
        id=str(d["id"]),
        name=str(d.get("name") or ""),
        version=as_int(d.get("version") or 0, "version", api),
        size=as_int(d.get("size") or 0, "size", api),
        space_id=str(d.get("spaceId") or ""),
        parent_id=str(d.get("parentId") or ""),
        is_folder=kind == "FOLDER",
        modifier=str(d.get("modifierId") or ""),
        modified=str(d.get("modifiedTime") or ""),
        stamp=stamp_of(d.get("appProperties")),
    )
