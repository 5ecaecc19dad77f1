"""Storage 2.0 upload calls (dingtalk-api.md §4-§6) and the folder calls subfolders need
(uuid -> ids, §8.1; add-folder, §8.3), on the transport's `call()`.

Upload info, the signed OSS PUT (exactly the signed headers, an empty Content-Type) and the
commit, whose lost answer raises `UncertainError` (never replayed: the caller looks first).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests
import structlog

from syncd.core.errors import RemoteError, TransientError, UncertainError
from syncd.core.model import STAMP_NAME, Dentry
from syncd.remote.errors import oss_error
from syncd.remote.http import not_sent, transport_text
from syncd.remote.transport import Transport
from syncd.remote.wire import as_int, dentry_from_json

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class UploadInfo:
    upload_key: str
    urls: tuple[str, ...] = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    expires_at: float  # time.monotonic() deadline
    expiration: float  # seconds the signed URLs stay valid


class Body(Protocol):
    """A re-readable upload body: iterating yields the bytes, `len()` is their number."""

    def __iter__(self) -> Iterator[bytes | memoryview]: ...
    def __len__(self) -> int: ...
    @property
    def md5_hex(self) -> str: ...


class StorageApi:
    """The upload and folder endpoints of one app, for one operator (`union_id`)."""

    def __init__(self, transport: Transport) -> None:
        self.t = transport

    # -- the upload calls ----------------------------------------------------------------
    def upload_info(self, parent_uuid: str, name: str, size: int) -> UploadInfo:
        """Step 1. `name` "" leaves the name out of the pre-check (it is optional, §4.1): for
        a space whose upload info refuses a name that exists (§15.3.2), an overwrite's."""
        started = self.t.clock()
        pre: dict[str, Any] = {"size": size, **({"name": name} if name else {})}
        data = self.t.call(
            "storage.uploadInfos",
            "POST",
            f"/v2.0/storage/spaces/files/{quote(parent_uuid, safe='')}/uploadInfos/query",
            params={"unionId": self.t.settings.union_id},
            body={
                "protocol": "HEADER_SIGNATURE",
                "option": {
                    "storageDriver": "DINGTALK",
                    "preCheckParam": pre,
                    "preferIntranet": False,  # the intranet URLs only work on Alibaba's network
                },
            },
        )
        info = data.get("headerSignatureInfo") or {}
        urls = tuple(str(u) for u in (info.get("resourceUrls") or []) if u)
        if not data.get("uploadKey") or not urls:
            raise TransientError(
                "upload info without uploadKey or resourceUrls", api="storage.uploadInfos"
            )
        # the OSS Authorization value is redacted by shape in logconfig; it is never logged
        headers = {str(k): str(v) for k, v in (info.get("headers") or {}).items()}
        expires = float(as_int(info.get("expirationSeconds", 900), "expirationSeconds", "upload"))
        return UploadInfo(str(data["uploadKey"]), urls, headers, started + expires, expires)

    def put(self, info: UploadInfo, body: Body) -> str | None:
        """PUT `body` to the signed URL (the next one when a URL cannot be reached).

        Exactly the signed headers, an empty Content-Type (anything else breaks the OSS V1
        signature) and Content-Length; the body is streamed, never read whole. Returns the
        answer's ETag (None: there was none).
        """
        headers = {
            k: v
            for k, v in info.headers.items()
            if k.lower() not in ("content-type", "content-length")
        }
        headers["Content-Type"] = ""
        headers["Content-Length"] = str(len(body))
        data: Any = body if len(body) else b""  # an empty iterable would go chunked
        for i, url in enumerate(info.urls):
            try:
                resp = self.t.session.put(url, data=data, headers=headers, timeout=self.t.timeout)
                break
            except requests.Timeout:
                raise TransientError("timed out", code="timeout", api="oss.put") from None
            except requests.RequestException as exc:
                if i + 1 < len(info.urls) and not_sent(exc):
                    log.debug("oss.next_url", tried=i + 1, of=len(info.urls))
                    continue
                raise TransientError(
                    transport_text(exc), code="connectionError", api="oss.put"
                ) from None
        with resp:
            if not 200 <= resp.status_code < 300:
                raise oss_error(resp.status_code, resp.content, resp.headers)
            etag = resp.headers.get("ETag")
        self.t.etags.check(urlsplit(url).netloc, etag, body.md5_hex)
        return etag

    def commit(
        self, parent_uuid: str, upload_key: str, name: str, size: int, strategy: str, stamp: str
    ) -> Dentry:
        """Commit an uploaded object. A lost answer raises `UncertainError`: the caller
        must look the file up before trying again (a replay adds a version or a copy)."""
        option: dict[str, Any] = {"size": size, "conflictStrategy": strategy}
        if stamp:
            option["appProperties"] = [
                {"name": STAMP_NAME, "value": stamp, "visibility": "PRIVATE"}
            ]
        data = self.t.call(
            "storage.commit",
            "POST",
            f"/v2.0/storage/spaces/files/{quote(parent_uuid, safe='')}/commit",
            params={"unionId": self.t.settings.union_id},
            body={"uploadKey": upload_key, "name": name, "option": option},
            idempotent=False,
        )
        self.t.learn_app_id(data.get("dentry"))
        try:
            return dentry_from_json(data.get("dentry"), "storage.commit")
        except RemoteError as err:  # it was applied: an unreadable answer is a lost one
            raise UncertainError(
                f"{err.message} (the commit was applied)", code=err.code, api=err.api
            ) from None

    def query_dentry_id(self, dentry_uuid: str) -> tuple[str, str]:
        """`(spaceId, dentryId)` of a dentryUuid (needs Document.WorkspaceDocument.Read)."""
        data = self.t.call(
            "doc.queryDentryId",
            "GET",
            f"/v2.0/doc/dentries/{quote(dentry_uuid, safe='')}/queryDentryId",
            params={"operatorId": self.t.settings.union_id},
        )
        space_id, dentry_id = str(data.get("spaceId") or ""), str(data.get("dentryId") or "")
        if not space_id or not dentry_id:
            raise TransientError(
                "queryDentryId answer without spaceId/dentryId", api="doc.queryDentryId"
            )
        return space_id, dentry_id

    def add_folder(
        self, space_id: str, parent_id: str, name: str, *, only_new: bool = False
    ) -> Dentry:
        """Create folder `name` under `parent_id`, or return it if it exists (mkdir -p).

        `only_new`: fail with `dentryAlreadyExist` when the name is taken instead, so that a
        folder returned is known to have been made by this call (and so to be empty)."""
        strategy = "RETURN_ERROR_IF_EXISTS" if only_new else "RETURN_DENTRY_IF_EXISTS"
        data = self.t.call(
            "storage.addFolder",
            "POST",
            f"/v1.0/storage/spaces/{quote(space_id, safe='')}/dentries/"
            f"{quote(parent_id, safe='')}/folders",
            params={"unionId": self.t.settings.union_id},
            body={"name": name, "option": {"conflictStrategy": strategy}},
        )
        return dentry_from_json(data.get("dentry"), "storage.addFolder")
