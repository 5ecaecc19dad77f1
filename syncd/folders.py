"""Remote subfolders: local folder `a/b` under a mapping becomes remote folder `a/b` under
the mapping's `parent_dentry_uuid`.

There is no uuid-based folder API, so the root uuid is resolved once to `(spaceId,
dentryId)` and each level is created with add-folder in `RETURN_DENTRY_IF_EXISTS` mode
(idempotent mkdir -p). Every folder's `(id, uuid)` is cached in memory and in the state
store; when the remote folder turns out to be gone, the entry is forgotten and created again.
"""

from __future__ import annotations

import threading
from typing import Protocol

import structlog

from syncd.errors import ParentMissingError
from syncd.model import Dentry

log = structlog.get_logger(__name__)

Folder = tuple[str, str, str]  # (space_id, dentry_id, dentry_uuid)


class FolderApi(Protocol):
    def query_dentry_id(self, dentry_uuid: str) -> tuple[str, str]: ...
    def add_folder(self, space_id: str, parent_id: str, name: str) -> Dentry: ...


class FolderStore(Protocol):
    def folders(self, root: str) -> dict[str, Folder]: ...
    def put_folder(
        self, root: str, path: str, space_id: str, dentry_id: str, dentry_uuid: str
    ) -> None: ...
    def forget_folder(self, root: str, path: str) -> None: ...


class RootMissingError(ParentMissingError):
    """The mapping's own `parent_dentry_uuid` does not exist or is not visible to the app."""


class _StaleParent(Exception):
    """The cached folder `path` (under which a level was being created) is gone remotely."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class FolderResolver:
    """Thread-safe `(root uuid, relative folder) -> dentry uuid`, creating folders on demand."""

    def __init__(self, api: FolderApi, store: FolderStore) -> None:
        self._api = api
        self._store = store
        self._cache: dict[str, dict[str, Folder]] = {}
        self._lock = threading.Lock()  # held while creating: folders are few, calls are cheap

    def _folders(self, root: str) -> dict[str, Folder]:
        cache = self._cache.get(root)
        if cache is None:  # two threads may both load it: the same rows, harmless
            cache = self._cache.setdefault(root, dict(self._store.folders(root)))
        return cache

    def ensure(self, root: str, path: str) -> str:
        """The dentry uuid of folder `path` under `root` ("" is the root itself)."""
        if not path:
            return root
        hit = self._folders(root).get(path)  # cache hits never wait for a creation in flight
        if hit is not None:
            return hit[2]
        with self._lock:
            hit = self._folders(root).get(path)
            if hit is not None:
                return hit[2]
            for _ in range(path.count("/") + 2):
                try:
                    return self._create(root, path)
                except _StaleParent as stale:  # a cached level is gone: forget it, retry
                    self._forget_locked(root, stale.path)
            raise ParentMissingError(f"folder {path!r} keeps disappearing", api="storage.addFolder")

    def forget(self, root: str, path: str) -> None:
        """The remote folder `path` (and so everything below it) is gone: drop the cache."""
        with self._lock:
            self._forget_locked(root, path)

    def _forget_locked(self, root: str, path: str) -> None:
        cache = self._folders(root)
        for key in [k for k in cache if k == path or k.startswith(path + "/") or not path]:
            del cache[key]
        self._store.forget_folder(root, path)
        log.debug("folder.forgotten", root=root, path=path)

    def _root(self, root: str) -> Folder:
        cache = self._folders(root)
        hit = cache.get("")
        if hit is None:
            try:
                space_id, dentry_id = self._api.query_dentry_id(root)
            except ParentMissingError as err:
                raise RootMissingError(
                    f"parent_dentry_uuid {root} not found or not visible to this app ({err.code})",
                    code=err.code,
                    status=err.status,
                    api=err.api,
                ) from None
            hit = cache[""] = (space_id, dentry_id, root)
            self._store.put_folder(root, "", space_id, dentry_id, root)
        return hit

    def _create(self, root: str, path: str) -> str:
        cache = self._folders(root)
        space_id, parent_id, uuid = self._root(root)
        done = ""
        for name in path.split("/"):
            current = f"{done}/{name}" if done else name
            hit = cache.get(current)
            if hit is None:
                try:
                    dentry = self._api.add_folder(space_id, parent_id, name)
                except ParentMissingError:
                    raise _StaleParent(done) from None  # "" = the mapping's root itself
                hit = cache[current] = (space_id, dentry.id, dentry.uuid)
                self._store.put_folder(root, current, space_id, dentry.id, dentry.uuid)
                log.info("folder.created", root=root, path=current, dentry_uuid=dentry.uuid)
            _, parent_id, uuid = hit
            done = current
        return uuid
