"""Test-side operations: a colleague working inside DingTalk changes the remote tree.

No HTTP and no token: each method changes the tree directly under ``Tree.lock``, as the
DingTalk app would. Unknown uuids raise KeyError, a taken name FileExistsError, a bad name
or an impossible move ValueError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from syncd.emulator import props
from syncd.emulator.common import ApiError
from syncd.emulator.names import check_name
from syncd.emulator.oss import StoredObject
from syncd.emulator.tree import FILE, FOLDER, Node, Tree

COLLEAGUE = "colleague-union-id"
AppProperties = Mapping[str, Iterable[Mapping[str, str]]]


def _error(err: ApiError) -> Exception:
    if err.code in ("dentryAlreadyExist", "dentryNameConflict"):
        return FileExistsError(err.message)
    return ValueError(f"{err.code}: {err.message}")


def _name(name: str) -> str:
    try:
        return check_name(name)
    except ApiError as err:
        raise _error(err) from None


def _props(raw: AppProperties | None) -> props.Props:
    try:
        return props.parse_raw(raw)
    except ApiError as err:
        raise _error(err) from None


class Colleague:
    """Mixed into :class:`~syncd.emulator.server.Emulator`."""

    dentries: Tree
    store_content: bool

    def _node(self, uuid: str, kind: str | None = None) -> Node:
        node = self.dentries.by_uuid.get(uuid)
        if node is None or (kind is not None and node.type != kind):
            raise KeyError(f"no such {(kind or 'dentry').lower()}: {uuid}")
        return node

    def _blob(self, data: bytes) -> StoredObject:
        md5, sha = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
        return StoredObject(len(data), md5, sha, data if self.store_content else None)

    def put_file(
        self,
        parent_uuid: str,
        name: str,
        data: bytes,
        modifier: str = COLLEAGUE,
        app_properties: AppProperties | None = None,
    ) -> str:
        """A file uploaded by hand (version 1, unstamped unless ``app_properties`` are
        given as ``{app_id: [{name, value, visibility}]}``); returns its uuid."""
        name, stamped = _name(name), _props(app_properties)
        with self.dentries.lock:
            parent = self._node(parent_uuid, FOLDER)
            if name in parent.children:
                raise FileExistsError(f"{parent.path}/{name} exists; use edit()")
            node = self.dentries.commit_file(
                parent, name, "RETURN_ERROR_IF_EXISTS", self._blob(data), modifier
            )
            node.app_props = stamped
            return node.uuid

    def edit(
        self,
        uuid: str,
        data: bytes,
        modifier: str = COLLEAGUE,
        keep_app_properties: bool = True,
    ) -> int:
        """A new version of file ``uuid`` by ``modifier``; returns the new version number.

        An edit inside DingTalk may keep the app properties (product.md §4.7): kept by
        default, every app's dropped with ``keep_app_properties=False``."""
        with self.dentries.lock:
            node = self._node(uuid, FILE)
            self.dentries.set_content(node, self._blob(data), modifier)
            if not keep_app_properties:
                node.app_props = {}
            return node.version

    def set_app_properties(self, uuid: str, app_properties: AppProperties) -> None:
        """Replace a dentry's app properties (every app) with ``app_properties``."""
        stamped = _props(app_properties)
        with self.dentries.lock:
            self._node(uuid).app_props = stamped

    def delete(self, uuid: str) -> None:
        """Delete a dentry and its subtree for good (no recycle bin in knowledge bases)."""
        with self.dentries.lock:
            self.dentries.remove(self._node(uuid))

    remove = delete  # the original name

    def rename(self, uuid: str, new_name: str, modifier: str = COLLEAGUE) -> None:
        """Rename a file or folder in place (same uuid and id)."""
        new_name = _name(new_name)
        with self.dentries.lock:
            try:
                self.dentries.rename(self._node(uuid), new_name, modifier)
            except ApiError as err:
                raise _error(err) from None

    def move(self, uuid: str, new_parent_uuid: str, modifier: str = COLLEAGUE) -> None:
        """Move a file or folder into another folder (any space); its uuid never changes."""
        with self.dentries.lock:
            node, target = self._node(uuid), self._node(new_parent_uuid, FOLDER)
            try:
                self.dentries.move(node, target, "RETURN_ERROR_IF_EXISTS", modifier)
            except ApiError as err:
                raise _error(err) from None

    def mkdir(self, parent_uuid: str, name: str, modifier: str = COLLEAGUE) -> str:
        """A new folder; returns its uuid (FileExistsError if the name is taken)."""
        name = _name(name)
        with self.dentries.lock:
            parent = self._node(parent_uuid, FOLDER)
            try:
                node = self.dentries.add_folder(parent, name, "RETURN_ERROR_IF_EXISTS", modifier)
            except ApiError as err:
                raise _error(err) from None
            return node.uuid
