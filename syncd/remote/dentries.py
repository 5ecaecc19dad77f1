"""Storage v1.0 dentry calls: list a folder, get, rename, move, delete (dingtalk-api.md §8).

Each is rate-limited per API by the client (its own budget, so listings never eat into the
upload-info and commit budgets) and answers typed errors. A rename or move whose answer
is lost is looked up, not replayed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from syncd.core.errors import ParentMissingError, UncertainError
from syncd.core.model import Dentry
from syncd.remote.paging import pages
from syncd.remote.transport import Transport
from syncd.remote.wire import dentry_from_json

PAGE = 50  # maxResults is at most 50 (§8.4)
BATCH = 30  # dentryIds per BatchGetDentries (§8.4)


class DentryApi:
    def __init__(self, transport: Transport) -> None:
        self.t = transport
        self.union = transport.settings.union_id

    def _path(self, space_id: str, dentry_id: str = "") -> str:
        base = f"/v1.0/storage/spaces/{quote(space_id, safe='')}/dentries"
        return f"{base}/{quote(dentry_id, safe='')}" if dentry_id else base

    def list(self, space_id: str, parent_id: str) -> Iterator[Dentry]:
        """Every dentry in folder `parent_id` (`"0"` = the space root), page by page."""

        def fetch(token: str) -> dict[str, Any]:
            params = {"parentId": parent_id, "unionId": self.union, "maxResults": str(PAGE)}
            if token:
                params["nextToken"] = token
            return self.t.call("storage.listDentries", "GET", self._path(space_id), params=params)

        for data in pages(fetch, "storage.listDentries"):
            for item in data.get("dentries") or []:
                self.t.learn_app_id(item)
                yield dentry_from_json(item, "storage.listDentries")

    def get_many(self, space_id: str, dentry_ids: Sequence[str]) -> dict[str, Dentry | None]:
        """Many dentries of one space, 30 a call (§8.4 BatchGetDentries): id -> dentry, or
        None when it no longer exists; an id the answer does not settle is left out (its
        caller asks on its own)."""
        out: dict[str, Dentry | None] = {}
        for start in range(0, len(dentry_ids), BATCH):
            chunk = dentry_ids[start : start + BATCH]
            data = self.t.call(
                "storage.batchGetDentries",
                "POST",
                self._path(space_id) + "/query",
                params={"unionId": self.union},
                body={"dentryIds": chunk, "option": self._get_option()},
            )
            for item in data.get("resultItems") or []:
                if not isinstance(item, dict):
                    continue
                dentry_id = str(item.get("dentryId") or "")
                if item.get("success") and isinstance(item.get("dentry"), dict):
                    self.t.learn_app_id(item["dentry"])
                    out[dentry_id] = dentry_from_json(item["dentry"], "storage.batchGetDentries")
                elif item.get("errorCode") == "dentryNotExist":
                    out[dentry_id] = None
        return out

    def recent(self, space_id: str, parent_id: str) -> tuple[Dentry, ...]:
        """The most recently modified dentries of folder `parent_id`: one page (one call),
        newest first (§8.4 orderBy MODIFIED_TIME, DESC)."""
        params = {
            "parentId": parent_id,
            "unionId": self.union,
            "maxResults": str(PAGE),
            "orderBy": "MODIFIED_TIME",
            "order": "DESC",
        }
        data = self.t.call("storage.listDentries", "GET", self._path(space_id), params=params)
        items = data.get("dentries") or []
        for item in items:
            self.t.learn_app_id(item)
        return tuple(dentry_from_json(item, "storage.listDentries") for item in items)

    def get(self, space_id: str, dentry_id: str) -> Dentry | None:
        """One dentry; None when it no longer exists."""
        try:
            data = self.t.call(
                "storage.getDentry",
                "POST",
                self._path(space_id, dentry_id) + "/query",
                params={"unionId": self.union},
                body={"option": self._get_option()},
            )
        except ParentMissingError:  # 404 dentryNotExist
            return None
        return dentry_from_json(data.get("dentry"), "storage.getDentry")

    def modifier_of(self, space_id: str, dentry_id: str, version: int) -> str:
        """Who made `version` of a file (one call, §14 version history; "" when not shown).
        Asked only after a commit found someone else's edit (§4.11: no get before it)."""
        data = self.t.call(
            "storage.listVersions",
            "GET",
            self._path(space_id, dentry_id) + "/versions",
            params={"unionId": self.union, "maxResults": "100"},
        )
        for item in data.get("dentries") or []:
            if isinstance(item, dict) and str(item.get("version")) == str(version):
                return str(item.get("modifierId") or "")
        return ""

    def _get_option(self) -> dict[str, Any]:
        """GetDentry shows app properties only for the apps it is asked for: ours, once
        known, so the answer carries our stamp."""
        app = self.t.app_id
        return {"withThumbnail": False, **({"appIdsForAppProperties": [app]} if app else {})}

    def rename(self, space_id: str, dentry_id: str, new_name: str) -> Dentry:
        try:
            data = self.t.call(
                "storage.renameDentry",
                "POST",
                self._path(space_id, dentry_id) + "/rename",
                params={"unionId": self.union},
                body={"newName": new_name},
                idempotent=False,
            )
        except UncertainError:
            found = self.get(space_id, dentry_id)
            if found is not None and found.name == new_name:
                return found
            raise
        return dentry_from_json(data.get("dentry"), "storage.renameDentry")

    def move(
        self,
        space_id: str,
        dentry_id: str,
        target_space: str,
        target_folder: str,
        strategy: str = "RETURN_ERROR_IF_EXISTS",
    ) -> Dentry:
        """Move into `target_folder`; by default a name taken there is `dentryAlreadyExist`
        (never a copy); the trash moves with AUTO_RENAME."""
        try:
            data = self.t.call(
                "storage.moveDentry",
                "POST",
                self._path(space_id, dentry_id) + "/move",
                params={"unionId": self.union},
                body={
                    "targetSpaceId": target_space,
                    "targetFolderId": target_folder,
                    "option": {"conflictStrategy": strategy},
                },
                idempotent=False,
            )
        except UncertainError:
            found = self.get(target_space, dentry_id)
            if found is not None and found.parent_id in (target_folder, ""):
                return found
            raise
        return dentry_from_json(data.get("dentry"), "storage.moveDentry")

    def delete(self, space_id: str, dentry_id: str) -> None:
        """A permanent delete (only the trash's retention uses it)."""
        try:
            self.t.call(
                "storage.deleteDentry",
                "DELETE",
                self._path(space_id, dentry_id),
                params={"unionId": self.union, "toRecycleBin": "false"},
            )
        except ParentMissingError:
            return  # already gone
