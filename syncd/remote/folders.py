"""Remote subfolders: local folder `a/b` under a mapping becomes remote folder `a/b` under
the mapping's `parent_dentry_uuid`.

There is no uuid-based folder API, so the root uuid is resolved once to `(spaceId,
dentryId)` and each level is created with add-folder in `RETURN_DENTRY_IF_EXISTS` mode
(idempotent mkdir -p). Every folder's `(id, uuid)` is cached in memory and in the state
store (per mapping); when the remote folder turns out to be gone, the entry is forgotten and
created again. Folders found by listing (adoption) are remembered the same way.
"""

from __future__ import annotations

import threading
from typing import NamedTuple, Protocol

import structlog

from syncd.core.errors import ParentMissingError, RootMissingError
from syncd.core.model import Dentry

log = structlog.get_logger(__name__)


class Folder(NamedTuple):
    space_id: str
    dentry_id: str
    uuid: str


class Target(NamedTuple):
    """A mapping, as the remote side knows it: its state key and its root folder's uuid."""

    key: str
    root_uuid: str


class FolderApi(Protocol):
    def query_dentry_id(self, dentry_uuid: str) -> tuple[str, str]: ...
    def add_folder(
        self, space_id: str, parent_id: str, name: str, *, only_new: bool = False
    ) -> Dentry: ...


class FolderStore(Protocol):
    def folders(self, key: str) -> dict[str, tuple[str, str, str]]: ...
    def put_folder(self, key: str, path: str, space_id: str, dentry_id: str, uuid: str) -> None: ...
    def forget_folder(self, key: str, path: str) -> None: ...


class _StaleParent(Exception):
    """The cached folder `path` (under which a level was being created) is gone remotely."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class FolderResolver:
    """Thread-safe `(mapping, relative folder) -> Folder`, creating folders on demand."""

    def __init__(self, api: FolderApi, store: FolderStore) -> None:
        self._api = api
        self._store = store
        self._cache: dict[str, dict[str, Folder]] = {}
        self._lock = threading.Lock()  # guards the lock table and forgetting
        self._levels: dict[tuple[str, str], threading.Lock] = {}  # one creation per folder
        self._fresh: set[tuple[str, str]] = set()  # (key, path) made by `create_new`: empty

    def _folders(self, key: str) -> dict[str, Folder]:
        cache = self._cache.get(key)
        if cache is None:  # two threads may both load it: the same rows, harmless
            rows = self._store.folders(key)
            cache = self._cache.setdefault(key, {p: Folder(*v) for p, v in rows.items()})
        return cache

    def known(self, t: Target, path: str) -> Folder | None:
        return self._folders(t.key).get(path)

    def root(self, t: Target) -> Folder:
        """The mapping's root folder, resolved once (RootMissingError when it is unknown)."""
        cache = self._folders(t.key)
        hit = cache.get("")
        if hit is not None:
            return hit
        with self._level_lock(t, ""):  # resolved once, however many threads ask at once
            hit = cache.get("")
            return hit if hit is not None else self._resolve_root(t, cache)

    def _resolve_root(self, t: Target, cache: dict[str, Folder]) -> Folder:
        try:
            space_id, dentry_id = self._api.query_dentry_id(t.root_uuid)
        except ParentMissingError as err:
            raise RootMissingError(
                f"parent_dentry_uuid {t.root_uuid} not found or not visible to this app",
                code=err.code,
                status=err.status,
                api=err.api,
            ) from None
        hit = cache[""] = Folder(space_id, dentry_id, t.root_uuid)
        self._store.put_folder(t.key, "", space_id, dentry_id, t.root_uuid)
        return hit

    def remember(self, t: Target, path: str, dentry: Dentry, space_id: str) -> Folder:
        """A folder found by listing its parent."""
        folder = Folder(space_id, dentry.id, dentry.uuid)
        if self._folders(t.key).get(path) != folder:
            self._folders(t.key)[path] = folder
            self._store.put_folder(t.key, path, space_id, dentry.id, dentry.uuid)
        return folder

    def ensure(self, t: Target, path: str) -> Folder:
        """Folder `path` under the mapping's root ("" is the root), created when missing.

        Each folder is created once (a lock per folder), and folders in different places
        are created at the same time: far from DingTalk each add-folder is a round trip.
        """
        if not path:
            return self.root(t)
        hit = self._folders(t.key).get(path)  # cache hits never wait for a creation in flight
        if hit is not None:
            return hit
        for _ in range(path.count("/") + 2):
            try:
                return self._create(t, path)
            except _StaleParent as stale:  # a cached level is gone: forget it, retry
                self.forget(t, stale.path)
        raise ParentMissingError(f"folder {path!r} keeps disappearing", api="storage.addFolder")

    def create_new(self, t: Target, path: str) -> None:
        """Make folder `path` ahead of its first upload, but only where nothing is there yet
        (RETURN_ERROR_IF_EXISTS), so a folder made here is known to be empty and needs no
        adoption listing (`fresh`). A name that is taken raises `dentryAlreadyExist`: that
        folder is left to the parent's listing and to `ensure`, as it was before."""
        cache = self._folders(t.key)
        root = self.root(t)
        parent_id, done = root.dentry_id, ""
        for name in path.split("/"):
            current = f"{done}/{name}" if done else name
            with self._level_lock(t, current):
                hit = cache.get(current)
                if hit is None:
                    try:
                        hit = self._add(t, root, parent_id, done, current, name, only_new=True)
                    except _StaleParent:
                        return  # a cached level is gone: the upload's `ensure` sorts it out
                    self._fresh.add((t.key, current))
            parent_id, done = hit.dentry_id, current

    def fresh(self, t: Target, path: str) -> bool:
        """True for a folder `create_new` made (after waiting for one it is making)."""
        with self._level_lock(t, path):
            return (t.key, path) in self._fresh

    def _level_lock(self, t: Target, path: str) -> threading.Lock:
        with self._lock:
            return self._levels.setdefault((t.key, path), threading.Lock())

    def forget(self, t: Target, path: str) -> None:
        """The remote folder `path` (and so everything below it) is gone: drop the cache."""
        with self._lock:
            self._forget_locked(t, path)

    def moved(self, t: Target, old: str, new: str) -> None:
        """Folder `old` now is `new` remotely (same ids): move the cached entries."""
        with self._lock:
            cache = self._folders(t.key)
            for key in [k for k in cache if k == old or k.startswith(old + "/")]:
                cache[new + key[len(old) :]] = cache.pop(key)

    def _forget_locked(self, t: Target, path: str) -> None:
        cache = self._folders(t.key)
        for key in [k for k in cache if k == path or k.startswith(path + "/") or not path]:
            del cache[key]
            self._fresh.discard((t.key, key))
        self._store.forget_folder(t.key, path)
        log.debug("folder.forgotten", root=t.root_uuid, path=path)

    def _create(self, t: Target, path: str) -> Folder:
        cache = self._folders(t.key)
        root = self.root(t)
        parent_id, folder = root.dentry_id, root
        done = ""
        for name in path.split("/"):
            current = f"{done}/{name}" if done else name
            hit = cache.get(current)
            if hit is None:
                with self._level_lock(t, current):
                    hit = cache.get(current) or self._add(t, root, parent_id, done, current, name)
            parent_id, folder = hit.dentry_id, hit
            done = current
        return folder

    def _add(
        self,
        t: Target,
        root: Folder,
        parent_id: str,
        done: str,
        current: str,
        name: str,
        *,
        only_new: bool = False,
    ) -> Folder:
        try:
            dentry = self._api.add_folder(root.space_id, parent_id, name, only_new=only_new)
        except ParentMissingError:
            raise _StaleParent(done) from None  # "" = the mapping's root itself
        hit = self._folders(t.key)[current] = Folder(root.space_id, dentry.id, dentry.uuid)
        self._store.put_folder(t.key, current, root.space_id, dentry.id, dentry.uuid)
        log.info("folder.created", root=t.root_uuid, path=current, dentry_uuid=dentry.uuid)
        return hit
