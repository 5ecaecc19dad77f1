"""Read-only inspection of the remote tree for tests: files, folders, content, nested tree."""

from __future__ import annotations

from typing import Any

from syncd.emulator import props, views
from syncd.emulator.tree import FILE, FOLDER, Node, Tree


class Inspection:
    """Mixed into :class:`~syncd.emulator.server.Emulator`; every call takes ``Tree.lock``."""

    dentries: Tree
    store_content: bool
    root_uuids: list[str]

    def _folder(self, uuid: str | None) -> Node:
        node = self.dentries.by_uuid.get(uuid or self.root_uuids[0])
        if node is None or node.type != FOLDER:
            raise KeyError(f"no such folder: {uuid or self.root_uuids[0]}")
        return node

    def files(self, root_uuid: str | None = None) -> dict[str, dict[str, Any]]:
        """Every file under a root (default: the first), keyed by its "/"-separated path.

        Each entry: size, version, sha256, md5, uuid, id, modifier (the unionId that last
        changed it), app_properties (``{app_id: [{name, value, visibility}]}``, raw, every
        app) and path (the dentry path in its space, e.g. ``/docs/a.txt``).
        """
        with self.dentries.lock:
            return {
                rel: {
                    "size": n.size,
                    "version": n.version,
                    "sha256": n.sha256,
                    "md5": n.md5,
                    "uuid": n.uuid,
                    "id": n.id,
                    "modifier": n.modifier,
                    "app_properties": props.copy(n.app_props),
                    "path": n.path,
                }
                for rel, n in self.dentries.walk(self._folder(root_uuid))
                if n.type == FILE
            }

    def folders(self, root_uuid: str | None = None) -> dict[str, dict[str, Any]]:
        """Every folder under a root (default: the first), keyed by its path."""
        with self.dentries.lock:
            return {
                rel: {
                    "uuid": n.uuid,
                    "id": n.id,
                    "modifier": n.modifier,
                    "app_properties": props.copy(n.app_props),
                    "path": n.path,
                }
                for rel, n in self.dentries.walk(self._folder(root_uuid))
                if n.type == FOLDER
            }

    def content(self, uuid: str) -> bytes:
        """The bytes of file ``uuid`` (only with ``store_content=True``)."""
        if not self.store_content:
            raise RuntimeError("content is kept only with Emulator(store_content=True)")
        with self.dentries.lock:
            node = self.dentries.by_uuid.get(uuid)
            if node is None or node.type != FILE:
                raise KeyError(f"no such file: {uuid}")
            return node.content or b""

    def versions(self, uuid: str) -> list[dict[str, Any]]:
        """File ``uuid``'s version history, oldest first: version, size, sha256, modifier."""
        with self.dentries.lock:
            node = self.dentries.by_uuid.get(uuid)
            if node is None or node.type != FILE:
                raise KeyError(f"no such file: {uuid}")
            return [
                {"version": v.version, "size": v.size, "sha256": v.sha256, "modifier": v.modifier}
                for v in node.versions
            ]

    def tree(self) -> dict[str, Any]:
        """Everything, nested: ``{"roots": [{name, type, uuid, id, path, children…}]}``."""
        with self.dentries.lock:
            roots = [
                ws.root
                for ws in self.dentries.spaces.values()
                if ws.root.uuid in self.dentries.by_uuid
            ]
            return {"roots": [views.tree_json(root) for root in roots]}
