"""App properties (§6.1, §7, §14): up to 3 ``{name, value, visibility}`` per app per dentry.

A dentry stores them per app id. The JSON shape is an object keyed by app id whose values
are lists of ``{name, value, visibility}`` (§6.2 caution note); an app sees its own
properties and every other app's ``PUBLIC`` ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from syncd.emulator.common import ApiError

MAX_PER_APP = 3
VISIBILITIES = ("PUBLIC", "PRIVATE")
Props = dict[str, list[dict[str, str]]]


def _too_many(count: int) -> ApiError:
    return ApiError(
        400,
        "dentryAppPropertiesNumberExceedsLimit",
        f"at most {MAX_PER_APP} app properties per app, got {count}",
    )


def _item(raw: Any, field: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ApiError(400, "paramError", f"{field} must be an object")
    name, value = raw.get("name"), raw.get("value")
    visibility = raw.get("visibility") or "PRIVATE"  # §14: PRIVATE by default (inferred)
    if not isinstance(name, str) or not name:
        raise ApiError(400, "paramError", f"{field}.name is required")
    if not isinstance(value, str):
        raise ApiError(400, "paramError", f"{field}.value must be a string")
    if visibility not in VISIBILITIES:
        raise ApiError(400, "paramError", f"{field}.visibility must be PUBLIC or PRIVATE")
    return {"name": name, "value": value, "visibility": visibility}


def parse(raw: Any, field: str = "option.appProperties") -> list[dict[str, str]]:
    """The validated list (``[]`` when absent: the SDK always sends ``[]``).

    Names must be unique within one request (inferred: a duplicate is 400 paramError).
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, "paramError", f"{field} must be an array")
    items = [_item(entry, f"{field}[{i}]") for i, entry in enumerate(raw)]
    if len({item["name"] for item in items}) != len(items):
        raise ApiError(400, "paramError", f"{field} names must be unique")
    if len(items) > MAX_PER_APP:
        raise _too_many(len(items))
    return items


def parse_raw(raw: Mapping[str, Iterable[Mapping[str, str]]] | None) -> Props:
    """A test-side ``{app_id: [{name, value, visibility}]}``, validated like a request."""
    out: Props = {}
    for app, items in (raw or {}).items():
        parsed = parse([dict(item) for item in items], f"app_properties[{app!r}]")
        if parsed:
            out[str(app)] = parsed
    return out


def replace(props: Props, app: str, items: list[dict[str, str]]) -> None:
    """Commit/add-folder: a request that carries properties replaces the app's own."""
    if items:
        props[app] = [dict(item) for item in items]


def merge(props: Props, app: str, items: list[dict[str, str]]) -> None:
    """PUT appProperties (§14): update by name, add new names; more than 3 -> 400."""
    merged = {item["name"]: dict(item) for item in props.get(app, [])}
    merged.update((item["name"], dict(item)) for item in items)
    if len(merged) > MAX_PER_APP:
        raise _too_many(len(merged))
    if merged:
        props[app] = list(merged.values())


def visible(props: Props, caller: str, apps: Iterable[str] | None = None) -> Props:
    """What ``caller`` sees: its own properties and other apps' PUBLIC ones.

    ``apps`` limits the answer to those app ids (GetDentry's ``appIdsForAppProperties``).
    """
    wanted = None if apps is None else set(apps)
    out: Props = {}
    for app, items in props.items():
        if wanted is not None and app not in wanted:
            continue
        shown = [dict(i) for i in items if app == caller or i["visibility"] == "PUBLIC"]
        if shown:
            out[app] = shown
    return out


def copy(props: Props) -> Props:
    return {app: [dict(item) for item in items] for app, items in props.items()}
