"""The transport and the storage calls in one object, as the contract tests drive them."""

from __future__ import annotations

from typing import Any

from syncd.remote.storage import StorageApi
from syncd.remote.transport import Transport


class ApiClient(Transport):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = StorageApi(self)
        self.upload_info = self.storage.upload_info
        self.put = self.storage.put
        self.commit = self.storage.commit
        self.query_dentry_id = self.storage.query_dentry_id
        self.add_folder = self.storage.add_folder
