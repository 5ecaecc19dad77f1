"""The remote side in one object, built on first need: transport, storage and dentry
calls, folders, transfer, listings. A pass over recorded files builds nothing here and so
makes no request at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from syncd.core.settings import Config
from syncd.remote.capabilities import Capabilities, CapabilityStore
from syncd.remote.dentries import DentryApi
from syncd.remote.folders import FolderResolver, FolderStore
from syncd.remote.listings import RemoteIndex
from syncd.remote.storage import StorageApi
from syncd.remote.transfer import Transfer
from syncd.remote.transport import Transport


@dataclass
class Remote:
    transport: Transport
    storage: StorageApi
    dentries: DentryApi
    folders: FolderResolver
    transfer: Transfer
    index: RemoteIndex
    caps: Capabilities

    def close(self) -> None:
        self.transport.close()


class Store(FolderStore, CapabilityStore, Protocol):
    """What the remote side keeps in the state store: folders, and what spaces do."""


def build_remote(config: Config, store: Store, stats: Any = None) -> Remote:
    transport = Transport(config.dingtalk, pool_size=max(16, config.sync.workers * 2), stats=stats)
    caps = Capabilities(store)
    transport.app_id = caps.app_id()  # our stamp can be read by get-dentry before a commit
    storage = StorageApi(transport)
    dentries = DentryApi(transport)
    folders = FolderResolver(storage, store)
    transfer = Transfer(storage, dentries, folders, bwlimit=config.sync.bwlimit, caps=caps)
    index = RemoteIndex(dentries, folders, caps)
    return Remote(transport, storage, dentries, folders, transfer, index, caps)
