"""Listings of remote folders, for adoption and lost-commit lookups: each folder is read
once and kept for the pass in a small LRU, so a burst of new files in one folder costs one
listing, not one per file. A listing that shows our stamp on a file tells that the space's
listings carry it (dingtalk-api.md §15.3.1), so no get-dentry is spent on unstamped twins."""

from __future__ import annotations

import threading
from collections import OrderedDict

from syncd.core.capabilities import Capability
from syncd.core.errors import ParentMissingError
from syncd.core.model import Dentry
from syncd.remote.capabilities import Capabilities
from syncd.remote.dentries import DentryApi
from syncd.remote.folders import Folder, FolderResolver, Target

LISTINGS_KEPT = 256


class RemoteIndex:
    """Listings of remote folders, by mapping and relative path, cached for a pass."""

    def __init__(
        self, dentries: DentryApi, folders: FolderResolver, caps: Capabilities | None = None
    ) -> None:
        self.dentries = dentries
        self.folders = folders
        self.caps = caps if caps is not None else Capabilities()
        self._cache: OrderedDict[tuple[str, str], dict[str, Dentry] | None] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def listing(self, t: Target, path: str) -> dict[str, Dentry] | None:
        """`name -> Dentry` of remote folder `path` under the mapping; None when there is
        no such folder remotely (nothing to adopt there)."""
        key = (t.key, path)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        folder = self._folder(t, path)
        found = None
        if folder is not None and self.folders.fresh(t, path):
            found = {}  # this pass made it: nothing in it to adopt
        elif folder is not None:
            try:
                found = {d.name: d for d in self.dentries.list(folder.space_id, folder.dentry_id)}
                if any(d.stamp for d in found.values()):
                    self.caps.learn(folder.space_id, Capability.LISTING_RETURNS_STAMP, True)
            except ParentMissingError:  # a cached folder that is gone remotely
                self.folders.forget(t, path)
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > LISTINGS_KEPT:
                self._cache.popitem(last=False)
        return found

    def unseen(self, t: Target, path: str) -> bool:
        """True when nothing is known yet of remote folder `path`: neither its ids nor its
        parent's listing (finding out costs a round trip)."""
        if not path or self.folders.known(t, path) is not None:
            return False
        with self._lock:
            return (t.key, path.rpartition("/")[0]) not in self._cache

    def _folder(self, t: Target, path: str) -> Folder | None:
        """Folder `path`'s ids: cached, or found by listing its parent (never created)."""
        if not path:
            return self.folders.root(t)
        known = self.folders.known(t, path)
        if known is not None:
            return known
        parent, _, name = path.rpartition("/")
        siblings = self.listing(t, parent)
        hit = (siblings or {}).get(name)
        if hit is None or not hit.is_folder:
            return None
        root = self.folders.root(t)
        return self.folders.remember(t, path, hit, root.space_id)

    def forget(self, t: Target, path: str) -> None:
        with self._lock:
            self._cache.pop((t.key, path), None)
