"""Shared raw-HTTP client and fixtures for the emulator protocol tests (no tests here).

Each test module binds the fixtures it needs with ``name = support.name`` (pytest finds a
fixture by the module attribute; its name is the one given to ``pytest.fixture``).
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from syncd.emulator import Emulator
from syncd.emulator.oss import sign, string_to_sign

UNION = "emulator-union-id"
TIMEOUT = 5.0
REQUEST_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


class Client:
    """A minimal raw-HTTP client for the API calls of dingtalk-api.md."""

    def __init__(self, emu: Emulator, session: requests.Session) -> None:
        self.emu, self.s, self._token = emu, session, ""

    @property
    def base(self) -> str:
        return self.emu.base_url

    def get_token(self, key: str = "emulator-app-key", secret: str = "emulator-app-secret"):
        return self.s.post(
            f"{self.base}/v1.0/oauth2/accessToken",
            json={"appKey": key, "appSecret": secret},
            timeout=TIMEOUT,
        )

    def headers(self) -> dict[str, str]:
        if not self._token:
            self._token = self.get_token().json()["accessToken"]
        return {"x-acs-dingtalk-access-token": self._token}

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        """``method path?params`` with the token header (and a JSON body when given)."""
        return self.s.request(
            method,
            self.base + path,
            params={k: v for k, v in params.items() if v is not None},
            json=body,
            headers=self.headers(),
            timeout=TIMEOUT,
        )

    # -- the three upload steps and the folder calls ---------------------------------------

    def upload_info(self, parent: str, body: dict[str, Any] | None = None, union: str = UNION):
        body = body if body is not None else {"protocol": "HEADER_SIGNATURE"}
        url = f"{self.base}/v2.0/storage/spaces/files/{parent}/uploadInfos/query?unionId={union}"
        return self.s.post(url, json=body, headers=self.headers(), timeout=TIMEOUT)

    def info(self, parent: str) -> dict[str, Any]:
        r = self.upload_info(parent)
        assert r.status_code == 200, r.text
        return r.json()

    def put(
        self, info: dict[str, Any], data: Any, headers: dict[str, str] | None = None, **kw: Any
    ) -> requests.Response:
        sig = info["headerSignatureInfo"]
        hdrs = dict(sig["headers"])
        hdrs["Content-Type"] = ""
        hdrs.update(headers or {})
        kw.setdefault("timeout", TIMEOUT)
        return self.s.put(sig["resourceUrls"][0], data=data, headers=hdrs, **kw)

    def commit(
        self, parent: str, key: str, name: str, union: str = UNION, **option: Any
    ) -> requests.Response:
        url = f"{self.base}/v2.0/storage/spaces/files/{parent}/commit?unionId={union}"
        body = {"uploadKey": key, "name": name, "option": {"appProperties": [], **option}}
        return self.s.post(url, json=body, headers=self.headers(), timeout=TIMEOUT)

    def upload(self, parent: str, name: str, data: bytes, **option: Any) -> requests.Response:
        info = self.info(parent)
        assert self.put(info, data).status_code == 200
        return self.commit(parent, info["uploadKey"], name, **option)

    def query(self, uuid: str, operator: str = UNION) -> requests.Response:
        url = f"{self.base}/v2.0/doc/dentries/{uuid}/queryDentryId?operatorId={operator}"
        return self.s.get(url, headers=self.headers(), timeout=TIMEOUT)

    def space(self, uuid: str) -> str:
        return str(self.query(uuid).json()["spaceId"])

    def add_folder(
        self,
        space: str,
        parent: str,
        name: str,
        strategy: str | None = None,
        app_properties: list[dict[str, str]] | None = None,
    ):
        url = f"{self.base}/v1.0/storage/spaces/{space}/dentries/{parent}/folders?unionId={UNION}"
        body: dict[str, Any] = {"name": name, "option": {}}
        if strategy:
            body["option"]["conflictStrategy"] = strategy
        if app_properties is not None:
            body["option"]["appProperties"] = app_properties
        return self.s.post(url, json=body, headers=self.headers(), timeout=TIMEOUT)

    # -- storage 1.0 dentries ---------------------------------------------------------------

    def list(self, space: str, parent: str = "0", union: str = UNION, **params: Any):
        path = f"/v1.0/storage/spaces/{space}/dentries"
        return self.call("GET", path, parentId=parent, unionId=union, **params)

    def list_all(self, space: str, parent: str = "0", **params: Any) -> list[dict[str, Any]]:
        """Every page of a listing, concatenated (fails on any error)."""
        out: list[dict[str, Any]] = []
        token = None
        for _ in range(1000):
            r = self.list(space, parent, nextToken=token, **params)
            assert r.status_code == 200, r.text
            out += r.json()["dentries"]
            token = r.json().get("nextToken")
            if not token:
                return out
        raise AssertionError("pagination never ended")

    def dentry_call(
        self, method: str, space: str, dentry: str, tail: str = "", body: Any = None, **params: Any
    ) -> requests.Response:
        path = f"/v1.0/storage/spaces/{space}/dentries/{dentry}{tail}"
        params.setdefault("unionId", UNION)
        return self.call(method, path, body, **params)

    def get(self, space: str, dentry: str, app_ids: list[str] | None = None, **kw: Any):
        option = {} if app_ids is None else {"appIdsForAppProperties": app_ids}
        return self.dentry_call("POST", space, dentry, "/query", {"option": option}, **kw)

    def rename(self, space: str, dentry: str, new_name: Any, **kw: Any):
        return self.dentry_call("POST", space, dentry, "/rename", {"newName": new_name}, **kw)

    def move(
        self, space: str, dentry: str, target_space: str, folder: str, strategy: str | None = None
    ):
        body: dict[str, Any] = {"targetSpaceId": target_space, "targetFolderId": folder}
        if strategy:
            body["option"] = {"conflictStrategy": strategy, "presevePermissions": True}
        return self.dentry_call("POST", space, dentry, "/move", body)

    def delete(self, space: str, dentry: str, **params: Any):
        return self.dentry_call("DELETE", space, dentry, **params)

    # -- wiki 2.0 ---------------------------------------------------------------------------

    def wiki(self, path: str, operator: str = UNION, **params: Any) -> requests.Response:
        return self.call("GET", f"/v2.0/wiki/{path}", operatorId=operator, **params)


def code(resp: requests.Response) -> tuple[int, str]:
    """(status, error code) of a JSON envelope or an OSS XML error."""
    if resp.headers.get("Content-Type", "").startswith("application/xml"):
        return resp.status_code, ET.fromstring(resp.content).findtext("Code") or ""
    return resp.status_code, resp.json().get("code", "")


def resigned(emu: Emulator, info: dict[str, Any], date: str, md5: str = "") -> dict[str, str]:
    """PUT headers for ``info``'s URL signed with the emulator's secret over ``date``/``md5``."""
    path = "/" + info["headerSignatureInfo"]["resourceUrls"][0].split("/", 3)[3]
    to_sign = string_to_sign("PUT", md5, "", date, {"x-oss-date": date}, path)
    auth = f"OSS {emu.oss_access_key_id}:{sign(emu.oss_access_key_secret, to_sign)}"
    headers = {"Authorization": auth, "x-oss-date": date}
    if md5:
        headers["Content-MD5"] = md5
    return headers


@pytest.fixture(name="no_leaked_threads", autouse=True)
def no_leaked_threads_fixture() -> Iterator[None]:
    """Every emulator a test starts is stopped, and stop() joins all of its threads."""
    yield
    assert not [t.name for t in threading.enumerate() if t.name.startswith("syncd-emulator")]


@pytest.fixture(name="emu")
def emu_fixture() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture(name="client")
def client_fixture(emu: Emulator) -> Iterator[Client]:
    with requests.Session() as s:
        yield Client(emu, s)


@pytest.fixture(name="root")
def root_fixture(emu: Emulator) -> str:
    return emu.root_uuids[0]


@pytest.fixture(name="space")
def space_fixture(client: Client, root: str) -> str:
    return client.space(root)
