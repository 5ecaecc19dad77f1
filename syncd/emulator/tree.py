"""In-memory spaces and dentries: name rules, conflict strategies, the Dentry JSON.

Each root folder is the root of its own space (a knowledge base). Folders index their
children by name, so every API call is O(depth), never a scan over all files. One lock
(:attr:`Tree.lock`) guards the tree and the upload keys; callers hold it across a whole
check-then-change sequence.
"""

from __future__ import annotations

import os
import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import Any

from syncd.emulator.common import ApiError, iso_now

FILE = "FILE"
FOLDER = "FOLDER"
STRATEGIES = ("AUTO_RENAME", "OVERWRITE", "RETURN_DENTRY_IF_EXISTS", "RETURN_ERROR_IF_EXISTS")
ILLEGAL_CHARS = frozenset('\t*"<>|/')  # "/" is the emulator's own addition (path separator)

_ALNUM = string.ascii_letters + string.digits
_CATEGORIES = {
    "IMAGE": "jpg jpeg png gif bmp webp svg tif tiff heic ico",
    "VIDEO": "mp4 mov avi mkv wmv flv webm m4v",
    "AUDIO": "mp3 wav flac aac ogg m4a wma amr",
    "ARCHIVE": "zip rar 7z tar gz tgz bz2 xz",
    "DOCUMENT": "txt md pdf doc docx xls xlsx ppt pptx csv rtf odt ods odp xsl json xml html",
}
_CATEGORY_BY_EXT = {ext: cat for cat, exts in _CATEGORIES.items() for ext in exts.split()}


def random_id(length: int = 32) -> str:
    """A random alphanumeric identifier (dentryUuid-like when 32 long)."""
    return "".join([_ALNUM[b % 62] for b in secrets.token_bytes(length)])


def check_name(name: Any) -> str:
    """The name after DingTalk's rules (§4.1): trimmed, or ApiError 400."""
    if not isinstance(name, str):
        raise ApiError(400, "paramError.name", "name is required")
    trimmed = name.strip(" ")
    if not trimmed:
        raise ApiError(400, "paramError.name", "name must not be empty")
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


@dataclass(eq=False, slots=True)
class Node:
    """One dentry. Folders have ``children``; files have size, version and hashes."""

    uuid: str
    id: str
    space_id: str
    type: str
    name: str
    parent: Node | None
    creator: str
    created: str
    modifier: str = ""
    modified: str = ""
    size: int = 0
    version: int = 0
    md5: str = ""
    sha256: str = ""
    content: bytes | None = None
    children: dict[str, Node] = field(default_factory=dict)

    @property
    def path(self) -> str:
        parts: list[str] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/" + "/".join(reversed(parts))


@dataclass(slots=True)
class Upload:
    """An issued uploadKey: its parent folder, OSS object path and issue time (monotonic)."""

    parent_uuid: str
    object_path: str
    issued: float
    used: bool = False


class Tree:
    """Spaces, dentries and upload keys, all under :attr:`lock`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_uuid: dict[str, Node] = {}
        self.by_id: dict[str, Node] = {}
        self.spaces: dict[str, Node] = {}  # spaceId -> root folder
        self.uploads: dict[str, Upload] = {}
        self._next_id = 222892787485
        self._next_space = 2256226585

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _new_uuid(self) -> str:
        while True:
            uuid = random_id()
            if uuid not in self.by_uuid:
                return uuid

    def add_root(self, uuid: str | None, creator: str) -> Node:
        """Create a new space whose root folder has ``uuid`` (generated when None)."""
        uuid = uuid or self._new_uuid()
        if uuid in self.by_uuid:
            raise ValueError(f"duplicate root folder uuid: {uuid}")
        self._next_space += 1
        space_id = str(self._next_space)
        now = iso_now()
        root = Node(uuid, self._new_id(), space_id, FOLDER, "", None, creator, now, creator, now)
        self.spaces[space_id] = root
        self._index(root)
        return root

    def _index(self, node: Node) -> None:
        self.by_uuid[node.uuid] = node
        self.by_id[node.id] = node
        if node.parent is not None:
            node.parent.children[node.name] = node

    def folder(self, uuid: str) -> Node | None:
        node = self.by_uuid.get(uuid)
        return node if node is not None and node.type == FOLDER else None

    def folder_by_id(self, space_id: str, parent_id: str) -> Node:
        """The folder ``parent_id`` of space ``space_id`` (``"0"`` = the space's root)."""
        root = self.spaces.get(space_id)
        if root is None or root.uuid not in self.by_uuid:
            raise ApiError(404, "spaceNotExist", f"space {space_id} does not exist")
        node = root if parent_id == "0" else self.by_id.get(parent_id)
        if node is None or node.type != FOLDER or node.space_id != space_id:
            raise ApiError(404, "dentryNotExist", "父目录不存在")
        return node

    @staticmethod
    def _free_name(parent: Node, name: str, split_ext: bool) -> str:
        stem, ext = os.path.splitext(name) if split_ext else (name, "")
        n = 1
        while f"{stem}({n}){ext}" in parent.children:
            n += 1
        return f"{stem}({n}){ext}"

    def commit_file(self, parent: Node, name: str, strategy: str, obj: Any, operator: str) -> Node:
        """Store ``obj`` (size, md5, sha256, content) as file ``name`` in ``parent``."""
        now = iso_now()
        existing = parent.children.get(name)
        if existing is not None:
            if strategy == "AUTO_RENAME":
                name = self._free_name(parent, name, split_ext=True)
            elif existing.type == FOLDER or strategy == "RETURN_ERROR_IF_EXISTS":
                raise ApiError(400, "dentryNameConflict", f"a dentry named {name} exists")
            elif strategy == "RETURN_DENTRY_IF_EXISTS":
                return existing
            else:  # OVERWRITE: same dentry, next version
                existing.version += 1
                self._fill(existing, obj, operator, now)
                return existing
        node = Node(
            self._new_uuid(),
            self._new_id(),
            parent.space_id,
            FILE,
            name,
            parent,
            operator,
            now,
            version=1,
        )
        self._fill(node, obj, operator, now)
        self._index(node)
        return node

    @staticmethod
    def _fill(node: Node, obj: Any, operator: str, now: str) -> None:
        node.size, node.md5, node.sha256, node.content = obj.size, obj.md5, obj.sha256, obj.data
        node.modifier, node.modified = operator, now

    def add_folder(self, parent: Node, name: str, strategy: str, operator: str) -> Node:
        """Create folder ``name`` in ``parent`` per ``strategy`` (§8.3)."""
        existing = parent.children.get(name)
        if existing is not None:
            if strategy == "AUTO_RENAME":
                name = self._free_name(parent, name, split_ext=False)
            elif existing.type == FOLDER and strategy in ("RETURN_DENTRY_IF_EXISTS", "OVERWRITE"):
                return existing
            else:
                raise ApiError(400, "dentryAlreadyExist", f"a dentry named {name} exists")
        now = iso_now()
        node = Node(
            self._new_uuid(),
            self._new_id(),
            parent.space_id,
            FOLDER,
            name,
            parent,
            operator,
            now,
            operator,
            now,
        )
        self._index(node)
        return node

    def remove(self, uuid: str) -> None:
        """Delete a dentry and its subtree (as if deleted remotely); KeyError if unknown."""
        node = self.by_uuid[uuid]
        if node.parent is not None:
            node.parent.children.pop(node.name, None)
        stack = [node]
        while stack:
            cur = stack.pop()
            self.by_uuid.pop(cur.uuid, None)
            self.by_id.pop(cur.id, None)
            stack.extend(cur.children.values())

    @staticmethod
    def dentry_json(node: Node) -> dict[str, Any]:
        """The Dentry object (§7); folders lack size, version, extension and category."""
        is_file = node.type == FILE
        ext = os.path.splitext(node.name)[1][1:]
        out: dict[str, Any] = {
            "id": node.id,
            "spaceId": node.space_id,
            "parentId": node.parent.id if node.parent is not None else "0",
            "type": node.type,
            "name": node.name,
            "size": node.size,
            "path": node.path,
            "version": node.version,
            "status": "NORMAL",
            "extension": ext,
            "creatorId": node.creator,
            "modifierId": node.modifier,
            "createTime": node.created,
            "modifiedTime": node.modified,
            "properties": {"readOnly": False},
            "uuid": node.uuid,
            "partitionType": "PUBLIC_OSS_PARTITION",
            "storageDriver": "DINGTALK",
            "category": _CATEGORY_BY_EXT.get(ext.lower(), "OTHER"),
        }
        if not is_file:
            for key in ("size", "version", "extension", "category"):
                del out[key]
        return out

    def walk(self, root: Node) -> list[tuple[str, Node]]:
        """Every dentry under ``root`` as (path relative to root, node), parents first."""
        out: list[tuple[str, Node]] = []
        stack = [("", child) for child in root.children.values()]
        while stack:
            prefix, node = stack.pop()
            rel = f"{prefix}{node.name}"
            out.append((rel, node))
            stack.extend((rel + "/", child) for child in node.children.values())
        return out

    def tree_json(self, node: Node) -> dict[str, Any]:
        """A nested JSON-able view of ``node`` and everything under it."""
        out: dict[str, Any] = {
            "name": node.name,
            "type": node.type,
            "uuid": node.uuid,
            "id": node.id,
            "spaceId": node.space_id,
            "path": node.path,
        }
        if node.type == FILE:
            out.update(size=node.size, version=node.version, sha256=node.sha256, md5=node.md5)
        else:
            out["children"] = [self.tree_json(node.children[k]) for k in sorted(node.children)]
        return out
