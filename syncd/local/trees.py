"""Each mapping's `LocalTree`, by mapping key: where it is and which entries belong to it."""

from __future__ import annotations

from syncd.core.filters import ExcludeRules
from syncd.core.model import MARKER
from syncd.core.settings import Config, Mapping
from syncd.local.fs import LocalTree


def tree_of(m: Mapping, config: Config) -> LocalTree:
    """Mapping `m`'s tree; the marker and the trash folder at its root are syncd's own."""
    reserved = frozenset({MARKER, config.sync.trash_folder})
    excludes = ExcludeRules(m.exclude)
    return LocalTree(m.local, excludes, m.subfolders, config.sync.follow_symlinks, reserved)


class Trees:
    """The trees of the configured mappings; `reconfigure` after a reload."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._trees = {m.key: tree_of(m, config) for m in config.mappings}

    def reconfigure(self, config: Config) -> None:
        self.config = config
        self._trees = {m.key: tree_of(m, config) for m in config.mappings}

    def of(self, m: Mapping) -> LocalTree:
        return self._trees.get(m.key) or tree_of(m, self.config)

    def get(self, key: str) -> LocalTree | None:
        """The tree of the mapping whose key is `key`; None for one no longer configured."""
        return self._trees.get(key)
