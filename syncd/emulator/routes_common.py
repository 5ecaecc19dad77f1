"""What every route handler shares: the :class:`Call`, body/query readers, access checks.

Roles (inferred; the docs list them for wiki workspaces, §8.2, but say nothing of what each
may do through the storage API): OWNER, MANAGER and EDITOR may write; DOWNLOADER and READER
may only read; NONE may do nothing. A PERSONAL workspace is its owner's alone (OWNER for
the owner, NONE for everyone else).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from syncd.emulator import props, views
from syncd.emulator.common import ApiError
from syncd.emulator.tree import Node
from syncd.emulator.variants import NOT_SUPPORTED

if TYPE_CHECKING:
    from syncd.emulator.server import Emulator

WRITERS = ("OWNER", "MANAGER", "EDITOR")
READERS = (*WRITERS, "DOWNLOADER", "READER")
ROLES = (*READERS, "NONE")
NO_PERMISSION = "The operator has no permission."


@dataclass(frozen=True, slots=True)
class Call:
    """One API request as a handler sees it: path groups, JSON body, query, operator."""

    emu: Emulator
    args: tuple[str, ...]
    body: dict[str, Any]
    query: dict[str, list[str]]
    operator: str

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def flag(self, name: str) -> bool:
        """A boolean query parameter: absent/""/false -> False, true -> True, else 400."""
        raw = (self.param(name) or "false").lower()
        if raw not in ("true", "false"):
            raise ApiError(400, "paramError", f"{name} must be true or false")
        return raw == "true"

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        """An enum query parameter (case-insensitive), or 400 paramError."""
        raw = (self.param(name) or default).upper()
        if raw not in allowed:
            raise ApiError(400, "paramError", f"{name} must be one of {', '.join(allowed)}")
        return raw

    def role(self, node: Node) -> str:
        return self.emu.role(self.operator, self.emu.dentries.workspace(node))

    def check(self, node: Node, write: bool, code: str = "permissionDenied") -> None:
        """403 unless the operator's role in ``node``'s workspace allows the access."""
        if self.role(node) not in (WRITERS if write else READERS):
            raise ApiError(403, code, NO_PERMISSION)

    def variant(self, name: str, node: Node) -> bool:
        """Is tenant variant ``name`` (§15.3) on in ``node``'s space? (caller holds the lock)"""
        return self.emu.variants.active(name, self.emu.dentries.root_uuid(node))

    def unsupported(self, name: str, *nodes: Node) -> None:
        """400 operationNotSupported when variant ``name`` is on in any of ``nodes``' spaces."""
        if any(self.variant(name, node) for node in nodes):
            raise ApiError(400, "operationNotSupported", NOT_SUPPORTED)


Handler = Callable[[Call], Any]


def obj(body: dict[str, Any], key: str) -> dict[str, Any]:
    """``body[key]`` as an object (``{}`` when absent), or 400 paramError."""
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, "paramError", f"{key} must be an object")
    return value


def size(value: Any, field: str) -> int | None:
    """An optional non-negative integer (JSON number or numeric string), or 400 paramError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ApiError(400, "paramError", f"{field} must be an integer")
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, "paramError", f"{field} must be an integer") from None
    if number < 0:
        raise ApiError(400, "paramError", f"{field} must not be negative")
    return number


def text(body: dict[str, Any], key: str, code: str = "paramError") -> str:
    """A required non-empty string (an id) from the body, or 400 ``code``."""
    value = body.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ApiError(400, code, f"{key} is required")
    return value


def dentry(call: Call, node: Node, with_category: bool = True) -> dict[str, Any]:
    """``node`` as a Dentry with the app properties the calling app may see."""
    shown = props.visible(node.app_props, call.emu.app_id)
    return views.dentry_json(call.emu.dentries, node, shown, with_category)
