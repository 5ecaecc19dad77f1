"""In-memory spaces (knowledge bases), dentries, versions and upload keys.

Each root folder is the root of its own space and wiki workspace. Folders index their
children by name, so every API call is O(depth) plus the folder being listed, never a scan
over all files. One lock (:attr:`Tree.lock`) guards the tree and the upload keys; callers
hold it across a whole check-then-change sequence. Times are epoch seconds (``time.time()``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from syncd.emulator import props
from syncd.emulator.common import ApiError
from syncd.emulator.names import free_name, random_id

FILE = "FILE"
FOLDER = "FOLDER"


@dataclass(eq=False, slots=True)
class Version:
    """One stored version of a file (§14 version history)."""

    version: int
    size: int
    md5: str
    sha256: str
    modifier: str
    modified: float
    content: bytes | None


@dataclass(eq=False, slots=True)
class Node:
    """One dentry. Folders have ``children``; files have size, version, hashes, versions."""

    uuid: str
    id: str
    space_id: str
    type: str
    name: str
    parent: Node | None
    creator: str
    created: float
    modifier: str = ""
    modified: float = 0.0
    size: int = 0
    version: int = 0
    md5: str = ""
    sha256: str = ""
    content: bytes | None = None
    children: dict[str, Node] = field(default_factory=dict)
    app_props: props.Props = field(default_factory=dict)
    versions: list[Version] = field(default_factory=list)

    @property
    def path(self) -> str:
        parts: list[str] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/" + "/".join(reversed(parts))

    def within(self, other: Node) -> bool:
        """True when ``self`` is ``other`` or lies somewhere below it."""
        node: Node | None = self
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False


@dataclass(eq=False, slots=True)
class Workspace:
    """A wiki workspace (§8.2): one per root folder; ``owner`` only for PERSONAL ones."""

    workspace_id: str
    name: str
    type: str
    root: Node
    owner: str = ""


@dataclass(slots=True)
class Upload:
    """An issued uploadKey: its parent folder, OSS object path, issue time (monotonic) and
    the root folder of the parent's space then (whose tenant variants its PUT follows)."""

    parent_uuid: str
    object_path: str
    issued: float
    used: bool = False
    root_uuid: str = ""


class Tree:
    """Spaces, workspaces, dentries and upload keys, all under :attr:`lock`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_uuid: dict[str, Node] = {}
        self.by_id: dict[str, Node] = {}
        self.spaces: dict[str, Workspace] = {}  # spaceId -> workspace (and its root folder)
        self.personal: dict[str, Workspace] = {}  # unionId -> that user's PERSONAL workspace
        self.uploads: dict[str, Upload] = {}
        self.uploads_by_object: dict[str, Upload] = {}  # OSS object path -> its upload
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

    def _node(self, parent: Node, kind: str, name: str, operator: str) -> Node:
        now = time.time()
        uuid, dentry_id = self._new_uuid(), self._new_id()
        node = Node(uuid, dentry_id, parent.space_id, kind, name, parent, operator, now)
        node.modifier, node.modified = operator, now
        self._index(node)
        return node

    def add_root(
        self, uuid: str | None, creator: str, name: str, kind: str = "TEAM", owner: str = ""
    ) -> Workspace:
        """Create a new space and workspace whose root folder has ``uuid`` (random when None)."""
        uuid = uuid or self._new_uuid()
        if uuid in self.by_uuid:
            raise ValueError(f"duplicate root folder uuid: {uuid}")
        self._next_space += 1
        now = time.time()
        root = Node(uuid, self._new_id(), str(self._next_space), FOLDER, "", None, creator, now)
        root.modifier, root.modified = creator, now
        ws = Workspace(random_id(16), name, kind, root, owner)
        self.spaces[root.space_id] = ws
        if kind == "PERSONAL":
            self.personal[owner] = ws
        self._index(root)
        return ws

    def _index(self, node: Node) -> None:
        self.by_uuid[node.uuid] = node
        self.by_id[node.id] = node
        if node.parent is not None:
            node.parent.children[node.name] = node

    def workspace(self, node: Node) -> Workspace:
        return self.spaces[node.space_id]

    def root_uuid(self, node: Node) -> str:
        """The uuid of the root folder of ``node``'s space (which names its variants)."""
        return self.spaces[node.space_id].root.uuid

    def add_upload(self, key: str, upload: Upload) -> None:
        self.uploads[key] = upload
        self.uploads_by_object[upload.object_path] = upload

    def object_root(self, object_path: str) -> str | None:
        """The space root uuid of the upload that issued ``object_path`` (takes the lock)."""
        with self.lock:
            upload = self.uploads_by_object.get(object_path)
            return upload.root_uuid if upload is not None else None

    def folder(self, uuid: str) -> Node | None:
        node = self.by_uuid.get(uuid)
        return node if node is not None and node.type == FOLDER else None

    def space(self, space_id: str) -> Workspace:
        ws = self.spaces.get(space_id)
        if ws is None or ws.root.uuid not in self.by_uuid:
            raise ApiError(404, "spaceNotExist", f"space {space_id} does not exist")
        return ws

    def dentry(self, space_id: str, dentry_id: str, message: str = "文件不存在") -> Node:
        """Dentry ``dentry_id`` of space ``space_id`` (``"0"`` = the root), or 404."""
        root = self.space(space_id).root
        node = root if dentry_id == "0" else self.by_id.get(dentry_id)
        if node is None or node.space_id != space_id:
            raise ApiError(404, "dentryNotExist", message)
        return node

    def folder_by_id(self, space_id: str, parent_id: str) -> Node:
        """The folder ``parent_id`` of space ``space_id`` (``"0"`` = the space's root)."""
        node = self.dentry(space_id, parent_id, "父目录不存在")
        if node.type != FOLDER:
            raise ApiError(404, "dentryNotExist", "父目录不存在")
        return node

    def commit_file(self, parent: Node, name: str, strategy: str, obj: Any, operator: str) -> Node:
        """Store ``obj`` (size, md5, sha256, data) as file ``name`` in ``parent``."""
        existing = parent.children.get(name)
        if existing is not None:
            if strategy == "AUTO_RENAME":
                name = free_name(parent.children, name, split_ext=True)
            elif existing.type == FOLDER or strategy == "RETURN_ERROR_IF_EXISTS":
                raise ApiError(400, "dentryNameConflict", f"a dentry named {name} exists")
            elif strategy == "RETURN_DENTRY_IF_EXISTS":
                return existing
            else:  # OVERWRITE: same dentry, next version
                self.set_content(existing, obj, operator)
                return existing
        node = self._node(parent, FILE, name, operator)
        self.set_content(node, obj, operator)
        return node

    @staticmethod
    def set_content(node: Node, obj: Any, operator: str) -> None:
        """A new version of file ``node`` with ``obj``'s bytes, by ``operator``."""
        node.version += 1
        node.size, node.md5, node.sha256, node.content = obj.size, obj.md5, obj.sha256, obj.data
        node.modifier, node.modified = operator, time.time()
        node.versions.append(
            Version(node.version, obj.size, obj.md5, obj.sha256, operator, node.modified, obj.data)
        )

    def add_folder(self, parent: Node, name: str, strategy: str, operator: str) -> Node:
        """Create folder ``name`` in ``parent`` per ``strategy`` (§8.3)."""
        existing = parent.children.get(name)
        if existing is not None:
            if strategy == "AUTO_RENAME":
                name = free_name(parent.children, name, split_ext=False)
            elif existing.type == FOLDER and strategy in ("RETURN_DENTRY_IF_EXISTS", "OVERWRITE"):
                return existing
            else:
                raise ApiError(400, "dentryAlreadyExist", f"a dentry named {name} exists")
        return self._node(parent, FOLDER, name, operator)

    def rename(self, node: Node, new_name: str, operator: str) -> None:
        """Rename in place (§8.6); a clash with another dentry -> 400 dentryAlreadyExist."""
        if node.parent is None:
            raise ApiError(400, "paramError", "the root folder cannot be renamed")
        if new_name == node.name:
            return  # inferred: renaming to the current name is a successful no-op
        if new_name in node.parent.children:
            raise ApiError(400, "dentryAlreadyExist", f"a dentry named {new_name} exists")
        del node.parent.children[node.name]
        node.name = new_name
        node.parent.children[new_name] = node
        node.modifier, node.modified = operator, time.time()

    def move(self, node: Node, target: Node, strategy: str, operator: str) -> Node:
        """Move ``node`` into folder ``target`` per ``strategy``; uuid and id never change.

        Inferred where §8.6 is silent: OVERWRITE replaces a same-name *file* with a moved
        file (folders are never merged: 400 dentryAlreadyExist); RETURN_DENTRY_IF_EXISTS
        returns the same-type dentry already there and moves nothing.
        """
        if node.parent is None:
            raise ApiError(400, "paramError", "the root folder cannot be moved")
        if target.within(node):
            raise ApiError(400, "paramError", "a folder cannot be moved into its own subtree")
        name, existing = node.name, target.children.get(node.name)
        if existing is node:
            return node
        if existing is not None:
            same_type = existing.type == node.type
            if strategy == "AUTO_RENAME":
                name = free_name(target.children, name, split_ext=node.type == FILE)
            elif strategy == "RETURN_DENTRY_IF_EXISTS" and same_type:
                return existing
            elif strategy == "OVERWRITE" and same_type and node.type == FILE:
                self.remove(existing)
            else:
                raise ApiError(400, "dentryAlreadyExist", f"a dentry named {name} exists")
        del node.parent.children[node.name]
        node.name, node.parent = name, target
        target.children[name] = node
        node.modifier, node.modified = operator, time.time()
        for _, moved in [("", node), *self.walk(node)]:
            moved.space_id = target.space_id
        return node

    def remove(self, node: Node) -> None:
        """Delete a dentry and its subtree for good."""
        if node.parent is not None:
            node.parent.children.pop(node.name, None)
        stack = [node]
        while stack:
            cur = stack.pop()
            self.by_uuid.pop(cur.uuid, None)
            self.by_id.pop(cur.id, None)
            stack.extend(cur.children.values())

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
