"""The DingTalk emulator speaks the protocol of dingtalk-api.md: raw HTTP, nothing mocked."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest
import requests

from syncd.emulator import Emulator
from syncd.emulator.cli import add_arguments, parse_fault
from syncd.emulator.oss import format_date
from tests.conftest import wait_until
from tests.contract import test_emulator_support as support
from tests.contract.test_emulator_support import (
    REQUEST_ID,
    TIMEOUT,
    UNION,
    Client,
    code,
    resigned,
)

pytestmark = pytest.mark.contract

no_leaked_threads_fixture = support.no_leaked_threads_fixture
emu_fixture = support.emu_fixture
client_fixture = support.client_fixture
root_fixture = support.root_fixture


# -- token and auth ----------------------------------------------------------------------------


def test_token_is_issued_and_reused_while_valid(client: Client) -> None:
    """A second token call returns the same token with a fresh expireIn."""
    first, second = client.get_token(), client.get_token()
    assert first.status_code == 200
    assert first.json()["expireIn"] == 7200
    assert first.json()["accessToken"] == second.json()["accessToken"]


def test_bad_secret_gets_the_error_envelope(client: Client) -> None:
    """A wrong app secret answers 400 invalidClientIdOrSecret in the §9.1 envelope."""
    r = client.get_token(secret="wrong")
    body = r.json()
    assert (r.status_code, body["code"]) == (400, "invalidClientIdOrSecret")
    assert list(body) == ["code", "requestid", "message"]
    assert REQUEST_ID.match(body["requestid"])
    assert r.headers["x-acs-request-id"] == body["requestid"]
    assert r.headers["Content-Type"] == "application/json;charset=utf-8"


def test_missing_and_invalid_tokens(client: Client, emu: Emulator, root: str) -> None:
    """No token header -> MissingParameter; unknown or expired token -> InvalidAuthentication."""
    url = f"{emu.base_url}/v2.0/doc/dentries/{root}/queryDentryId?operatorId={UNION}"
    missing = client.s.get(url, timeout=TIMEOUT)
    assert code(missing) == (400, "AuthenticationFailed.MissingParameter")
    bad = {"x-acs-dingtalk-access-token": "nope"}
    assert code(client.s.get(url, headers=bad, timeout=TIMEOUT)) == (400, "InvalidAuthentication")
    assert client.query(root).status_code == 200
    old = client.headers()["x-acs-dingtalk-access-token"]
    emu.expire_tokens()
    assert code(client.query(root)) == (400, "InvalidAuthentication")
    assert client.get_token().json()["accessToken"] != old


def test_token_expires_after_its_ttl() -> None:
    """Token expiry is real time: after token_ttl seconds the token is refused."""
    with Emulator(token_ttl=1) as emu, requests.Session() as s:
        c = Client(emu, s)
        assert c.get_token().json()["expireIn"] == 1
        wait_until(lambda: code(c.query(emu.root_uuids[0]))[1] == "InvalidAuthentication")


def test_operator_is_checked(client: Client, root: str) -> None:
    """Unknown unionId -> 403 permissionDenied; missing -> 400 paramError."""
    assert code(client.upload_info(root, union="stranger")) == (403, "permissionDenied")
    assert code(client.query(root, operator="")) == (400, "paramError")


def test_unknown_route_is_404(client: Client, emu: Emulator) -> None:
    """An unknown path answers the 404 InvalidAction.NotFound envelope."""
    r = client.s.post(f"{emu.base_url}/v1.0/drive/spaces/1/files/upload", json={}, timeout=TIMEOUT)
    assert code(r) == (404, "InvalidAction.NotFound")


# -- the three steps ---------------------------------------------------------------------------


def test_happy_path(client: Client, emu: Emulator, root: str) -> None:
    """uploadInfo -> PUT with an empty Content-Type -> commit stores the file."""
    info = client.upload_info(
        root,
        {
            "protocol": "HEADER_SIGNATURE",
            "option": {"storageDriver": "DINGTALK", "preCheckParam": {"size": 5, "name": "a.txt"}},
        },
    ).json()
    sig = info["headerSignatureInfo"]
    assert (info["protocol"], info["storageDriver"]) == ("HEADER_SIGNATURE", "DINGTALK")
    assert sig["expirationSeconds"] == 900
    assert sig["resourceUrls"][0].startswith(emu.oss_url + "/")
    assert sig["resourceUrls"][0].endswith(".file")
    assert set(sig["headers"]) == {"Authorization", "x-oss-date"}
    assert sig["headers"]["Authorization"].startswith(f"OSS {emu.oss_access_key_id}:")

    put = client.put(info, b"hello")
    assert put.request.headers["Content-Type"] == ""
    assert put.status_code == 200, put.text
    assert put.content == b""
    assert put.headers["ETag"] == '"5D41402ABC4B2A76B9719D911017C592"'
    assert put.headers["Content-MD5"] == base64.b64encode(hashlib.md5(b"hello").digest()).decode()
    assert put.headers["Server"] == "AliyunOSS"
    assert put.headers["x-oss-request-id"]

    r = client.commit(root, info["uploadKey"], "a.txt", size=5, conflictStrategy="OVERWRITE")
    assert r.status_code == 200, r.text
    d = r.json()["dentry"]
    assert (d["type"], d["name"], d["size"], d["version"], d["status"]) == (
        "FILE",
        "a.txt",
        5,
        1,
        "NORMAL",
    )
    assert (d["path"], d["extension"], d["creatorId"]) == ("/a.txt", "txt", UNION)
    assert all(isinstance(d[k], str) for k in ("id", "spaceId", "parentId", "uuid"))
    assert emu.files() == {
        "a.txt": {
            "size": 5,
            "version": 1,
            "sha256": hashlib.sha256(b"hello").hexdigest(),
            "md5": hashlib.md5(b"hello").hexdigest(),
            "uuid": d["uuid"],
            "id": d["id"],
            "modifier": UNION,
            "app_properties": {},
            "path": "/a.txt",
        }
    }


def test_upload_info_checks_protocol_parent_and_name(client: Client, root: str) -> None:
    """Bad protocol, unknown parent and an illegal preCheck name are refused."""
    assert code(client.upload_info(root, {"protocol": "URL"})) == (
        400,
        "dentryUploadProtocolNotSupport",
    )
    assert code(client.upload_info("x" * 32)) == (400, "paramError.parentDentryUuid")
    bad = {"protocol": "HEADER_SIGNATURE", "option": {"preCheckParam": {"name": "a|b"}}}
    assert code(client.upload_info(root, bad)) == (400, "dentryNameIllegal")


def test_non_empty_content_type_breaks_the_signature(client: Client, root: str) -> None:
    """A Content-Type the server did not sign -> 403 SignatureDoesNotMatch (XML)."""
    r = client.put(client.info(root), b"x", headers={"Content-Type": "text/plain"})
    assert code(r) == (403, "SignatureDoesNotMatch")
    err = ET.fromstring(r.content)
    assert "text/plain" in (err.findtext("StringToSign") or "")
    assert err.findtext("RequestId") == r.headers["x-oss-request-id"]


def test_signature_covers_the_path(client: Client, root: str) -> None:
    """The headers of one object do not authorise a PUT to another."""
    a, b = client.info(root), client.info(root)
    hdrs = dict(a["headerSignatureInfo"]["headers"], **{"Content-Type": ""})
    r = client.s.put(
        b["headerSignatureInfo"]["resourceUrls"][0], data=b"x", headers=hdrs, timeout=TIMEOUT
    )
    assert code(r) == (403, "SignatureDoesNotMatch")


def test_old_date_is_request_time_too_skewed(client: Client, emu: Emulator, root: str) -> None:
    """A correctly signed x-oss-date older than expirationSeconds -> 403 RequestTimeTooSkewed."""
    info = client.info(root)
    old = format_date(time.time() - 901)
    r = client.put(info, b"x", headers=resigned(emu, info, old))
    assert code(r) == (403, "RequestTimeTooSkewed")
    assert ET.fromstring(r.content).findtext("MaxAllowedSkewMilliseconds") == "900000"


def test_iso_basic_date_is_accepted(client: Client, emu: Emulator, root: str) -> None:
    """x-oss-date in ISO basic format (20260528T093716Z) is a valid date too."""
    info = client.info(root)
    iso = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    assert client.put(info, b"x", headers=resigned(emu, info, iso)).status_code == 200


def test_content_md5_is_verified(client: Client, emu: Emulator, root: str) -> None:
    """A signed Content-MD5 that does not match the body -> 400 InvalidDigest."""
    info = client.info(root)
    date = format_date()
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert code(client.put(info, b"x", headers=resigned(emu, info, date, wrong))) == (
        400,
        "InvalidDigest",
    )
    right = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    assert client.put(info, b"x", headers=resigned(emu, info, date, right)).status_code == 200


def test_missing_content_length_is_411(client: Client, root: str) -> None:
    """A chunked PUT without Content-Length -> 411 MissingContentLength."""
    r = client.put(client.info(root), iter([b"abc", b"def"]))
    assert code(r) == (411, "MissingContentLength")


def test_large_body_and_reput(client: Client, emu: Emulator, root: str) -> None:
    """A multi-MiB body is hashed correctly; a second PUT to the same URL replaces it."""
    big = bytes(range(256)) * (3 * 4096 + 7)
    info = client.info(root)
    r = client.put(info, big)
    assert r.headers["ETag"].strip('"') == hashlib.md5(big).hexdigest().upper()
    assert client.put(info, b"small").status_code == 200
    assert client.commit(root, info["uploadKey"], "big.bin", size=5).status_code == 200
    assert emu.files()["big.bin"]["size"] == 5


def test_empty_file(client: Client, emu: Emulator, root: str) -> None:
    """A zero-byte PUT is stored and commits with size 0."""
    r = client.upload(root, "empty.txt", b"", size=0)
    assert r.json()["dentry"]["size"] == 0
    assert emu.files()["empty.txt"]["md5"] == hashlib.md5(b"").hexdigest()


# -- commit ------------------------------------------------------------------------------------


def test_upload_key_is_single_use(client: Client, root: str) -> None:
    """Committing the same uploadKey twice -> 400 paramError.uploadKey."""
    info = client.info(root)
    assert client.put(info, b"x").status_code == 200
    assert client.commit(root, info["uploadKey"], "a.txt").status_code == 200
    assert code(client.commit(root, info["uploadKey"], "b.txt")) == (400, "paramError.uploadKey")


def test_bad_upload_keys(client: Client, emu: Emulator, root: str) -> None:
    """Unknown keys and keys issued for another parent -> 400 paramError.uploadKey."""
    assert code(client.commit(root, "nope", "a.txt")) == (400, "paramError.uploadKey")
    space = client.query(root).json()["spaceId"]
    sub = client.add_folder(space, "0", "sub").json()["dentry"]["uuid"]
    info = client.info(sub)
    assert client.put(info, b"x").status_code == 200
    assert code(client.commit(root, info["uploadKey"], "a.txt")) == (400, "paramError.uploadKey")


def test_commit_without_put_is_a_store_error(client: Client, root: str) -> None:
    """No object was PUT for the key -> 400 dentryStoreError."""
    assert code(client.commit(root, client.info(root)["uploadKey"], "a.txt")) == (
        400,
        "dentryStoreError",
    )


def test_size_mismatch(client: Client, root: str) -> None:
    """option.size different from the stored size -> 400 paramError naming the size."""
    info = client.info(root)
    assert client.put(info, b"abc").status_code == 200
    r = client.commit(root, info["uploadKey"], "a.txt", size=4)
    assert code(r) == (400, "paramError")
    assert "size" in r.json()["message"]


def test_upload_key_expires() -> None:
    """After expirationSeconds the uploadKey is refused even though its object exists."""
    # 2 s, not 1: x-oss-date has whole seconds, so a signature is up to 1 s "old" at birth
    with Emulator(expiration_seconds=2) as emu, requests.Session() as s:
        c, root = Client(emu, s), emu.root_uuids[0]
        assert c.upload(root, "a.txt", b"1").status_code == 200
        info = c.info(root)
        assert c.put(info, b"2").status_code == 200
        # RETURN_ERROR_IF_EXISTS fails (without using the key) until the key itself is refused.
        wait_until(
            lambda: (
                code(
                    c.commit(
                        root, info["uploadKey"], "a.txt", conflictStrategy="RETURN_ERROR_IF_EXISTS"
                    )
                )
                == (400, "paramError.uploadKey")
            )
        )


def test_auto_rename_is_the_default(client: Client, emu: Emulator, root: str) -> None:
    """AUTO_RENAME (also when no strategy is given) -> name(1).ext, name(2).ext."""
    names = [client.upload(root, "a.tar.gz", b"x").json()["dentry"]["name"]]
    names += [
        client.upload(root, "a.tar.gz", b"x", conflictStrategy="AUTO_RENAME").json()["dentry"][
            "name"
        ]
        for _ in range(2)
    ]
    assert names == ["a.tar.gz", "a.tar(1).gz", "a.tar(2).gz"]
    assert set(emu.files()) == set(names)


def test_overwrite_keeps_the_dentry_and_bumps_the_version(
    client: Client, emu: Emulator, root: str
) -> None:
    """OVERWRITE -> same id and uuid, version + 1, new size."""
    first = client.upload(root, "a.txt", b"1", conflictStrategy="OVERWRITE").json()["dentry"]
    again = client.upload(root, "a.txt", b"22", conflictStrategy="OVERWRITE").json()["dentry"]
    assert (again["id"], again["uuid"], again["version"], again["size"]) == (
        first["id"],
        first["uuid"],
        2,
        2,
    )
    assert emu.files()["a.txt"]["version"] == 2


def test_return_strategies(client: Client, emu: Emulator, root: str) -> None:
    """RETURN_DENTRY_IF_EXISTS returns the existing file unchanged; RETURN_ERROR_IF_EXISTS fails."""
    first = client.upload(root, "a.txt", b"1").json()["dentry"]
    same = client.upload(root, "a.txt", b"22", conflictStrategy="RETURN_DENTRY_IF_EXISTS")
    assert same.json()["dentry"] == first
    r = client.upload(root, "a.txt", b"22", conflictStrategy="RETURN_ERROR_IF_EXISTS")
    assert code(r) == (400, "dentryNameConflict")
    r = client.upload(root, "a.txt", b"22", conflictStrategy="KEEP_BOTH")
    assert code(r) == (400, "paramError.conflictStrategy")
    assert emu.files()["a.txt"]["size"] == 1


def test_folder_with_the_same_name_conflicts(client: Client, root: str) -> None:
    """Committing a file over a folder's name -> 400 dentryNameConflict."""
    space = client.query(root).json()["spaceId"]
    assert client.add_folder(space, "0", "docs").status_code == 200
    r = client.upload(root, "docs", b"x", conflictStrategy="OVERWRITE")
    assert code(r) == (400, "dentryNameConflict")


@pytest.mark.parametrize("name", ["a\tb.txt", "a*b", 'a"b', "a<b", "a>b", "a|b", "report."])
def test_illegal_names(client: Client, root: str, name: str) -> None:
    """Names with tab * " < > | or a trailing dot -> 400 dentryNameIllegal."""
    assert code(client.upload(root, name, b"x")) == (400, "dentryNameIllegal")


def test_names_are_trimmed_and_not_empty(client: Client, root: str) -> None:
    """Leading/trailing spaces are trimmed; an empty name -> 400 paramError.name."""
    assert client.upload(root, "  b.txt  ", b"x").json()["dentry"]["name"] == "b.txt"
    assert code(client.upload(root, "   ", b"x")) == (400, "paramError.name")


# -- folders -----------------------------------------------------------------------------------


def test_query_dentry_id_and_add_folder(client: Client, emu: Emulator, root: str) -> None:
    """uuid -> (spaceId, dentryId); add-folder modes; uploads land in the subfolder."""
    q = client.query(root).json()
    assert q["dentryUuid"] == root
    assert isinstance(q["dentryId"], str)
    assert isinstance(q["spaceId"], str)
    assert code(client.query("y" * 32)) == (404, "documentNotExist")
    a = client.add_folder(q["spaceId"], q["dentryId"], "sub", "RETURN_DENTRY_IF_EXISTS").json()
    b = client.add_folder(q["spaceId"], "0", "sub", "RETURN_DENTRY_IF_EXISTS").json()
    sub = a["dentry"]
    assert b["dentry"]["id"] == sub["id"]
    assert b["dentry"]["uuid"] == sub["uuid"]
    assert (sub["type"], sub["parentId"], sub["path"]) == ("FOLDER", q["dentryId"], "/sub")
    assert not {"size", "version", "extension"} & set(sub)
    assert code(client.add_folder(q["spaceId"], "0", "sub", "RETURN_ERROR_IF_EXISTS")) == (
        400,
        "dentryAlreadyExist",
    )
    renamed = client.add_folder(q["spaceId"], "0", "sub").json()["dentry"]
    assert renamed["name"] == "sub(1)"
    deeper = client.add_folder(q["spaceId"], sub["id"], "deeper").json()["dentry"]
    assert client.upload(deeper["uuid"], "f.txt", b"x").json()["dentry"]["path"] == (
        "/sub/deeper/f.txt"
    )
    assert set(emu.files()) == {"sub/deeper/f.txt"}
    assert set(emu.folders()) == {"sub", "sub(1)", "sub/deeper"}
    client.upload(root, "file", b"x")
    assert code(client.add_folder(q["spaceId"], "0", "file", "RETURN_DENTRY_IF_EXISTS")) == (
        400,
        "dentryAlreadyExist",
    )


def test_add_folder_with_unknown_parent_or_space(client: Client, root: str) -> None:
    """A missing parent -> 404 dentryNotExist; a missing space -> 404 spaceNotExist."""
    space = client.query(root).json()["spaceId"]
    assert code(client.add_folder(space, "123", "x")) == (404, "dentryNotExist")
    assert code(client.add_folder("999", "0", "x")) == (404, "spaceNotExist")


def test_remove_deletes_the_subtree(client: Client, emu: Emulator, root: str) -> None:
    """After remove(), the folder and its files are gone for every call."""
    q = client.query(root).json()
    sub = client.add_folder(q["spaceId"], "0", "sub").json()["dentry"]
    client.upload(sub["uuid"], "f.txt", b"x")
    emu.remove(sub["uuid"])
    assert code(client.add_folder(q["spaceId"], sub["id"], "x")) == (404, "dentryNotExist")
    assert code(client.upload_info(sub["uuid"])) == (400, "paramError.parentDentryUuid")
    assert code(client.query(sub["uuid"])) == (404, "documentNotExist")
    assert emu.files() == {}
    assert emu.folders() == {}


# -- limits, faults, inspection ----------------------------------------------------------------


def test_qps_limit_throttles_per_api() -> None:
    """Over qps calls in one second -> 403 QpsLimitForAppkeyAndApi, counted as throttled."""
    with Emulator(qps=2) as emu, requests.Session() as s:
        c, root = Client(emu, s), emu.root_uuids[0]
        c.headers()
        results = [code(c.query(root)) for _ in range(8)]
        throttled = results.count((403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"))
        assert throttled >= 1
        assert emu.stats()["throttled"] == throttled
        assert c.info(root)["uploadKey"]  # another API has its own window
        wait_until(lambda: c.query(root).status_code == 200)


def test_fault_5xx_alternates_and_respects_count(client: Client, emu: Emulator, root: str) -> None:
    """5xx faults answer 500 systemError and 503 operationTimeout in turn, count times."""
    client.headers()
    emu.set_fault("queryDentryId", "5xx", count=2)
    got = [code(client.query(root)) for _ in range(3)]
    assert got == [(500, "systemError"), (503, "operationTimeout"), (200, "")]
    assert emu.stats()["faults"] == 2


def test_fault_throttle(client: Client, emu: Emulator, root: str) -> None:
    """A throttle fault answers the real 403 throttling code."""
    emu.set_fault("uploadInfo", "throttle", count=1)
    r = client.upload_info(root)
    assert code(r) == (403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")
    assert client.upload_info(root).status_code == 200
    assert emu.stats()["throttled"] == 1


def test_fault_reset(client: Client, emu: Emulator, root: str) -> None:
    """A reset fault drops the connection without an answer (API and OSS)."""
    emu.set_fault("commit", "reset", count=1)
    info = client.info(root)
    assert client.put(info, b"x").status_code == 200
    with pytest.raises(requests.ConnectionError):
        client.commit(root, info["uploadKey"], "a.txt")
    assert client.commit(root, info["uploadKey"], "a.txt").status_code == 200
    emu.set_fault("oss", "reset", count=1)
    info = client.info(root)
    with pytest.raises(requests.ConnectionError):
        client.put(info, b"y" * (2 << 20))
    assert client.put(info, b"y" * (2 << 20)).status_code == 200


def test_fault_slow(client: Client, emu: Emulator, root: str) -> None:
    """A slow fault delays the answer past the client's read timeout."""
    client.headers()
    emu.set_fault("*", "slow", count=1, delay=1.0)
    url = f"{emu.base_url}/v2.0/doc/dentries/{root}/queryDentryId?operatorId={UNION}"
    with pytest.raises(requests.ReadTimeout):
        client.s.get(url, headers=client.headers(), timeout=(TIMEOUT, 0.2))
    assert client.query(root).status_code == 200


def test_fault_oss_5xx(client: Client, emu: Emulator, root: str) -> None:
    """An OSS 5xx fault answers 500 XML InternalError."""
    emu.set_fault("oss", "5xx", count=1)
    info = client.info(root)
    assert code(client.put(info, b"x")) == (500, "InternalError")
    assert client.put(info, b"x").status_code == 200


def test_fault_rate_is_seeded_and_clearable() -> None:
    """The same seed gives the same faults; clear_faults() stops them."""

    def pattern(emu: Emulator) -> list[int]:
        with requests.Session() as s:
            c = Client(emu, s)
            c.headers()
            emu.set_fault("*", "5xx", rate=0.5)
            statuses = [c.query(emu.root_uuids[0]).status_code for _ in range(20)]
            emu.clear_faults()
            assert c.query(emu.root_uuids[0]).status_code == 200
            return statuses

    with Emulator(seed=7) as a, Emulator(seed=7) as b:
        first, second = pattern(a), pattern(b)
    assert first == second
    assert {200, 500} <= set(first)


def test_stats_count_requests_by_endpoint(client: Client, emu: Emulator, root: str) -> None:
    """stats() counts API and OSS requests per endpoint and status, never /_emulator/*."""
    client.upload(root, "a.txt", b"x")
    client.s.get(f"{emu.base_url}/_emulator/tree", timeout=TIMEOUT)
    client.query(root, operator="stranger")
    st = emu.stats()
    assert st["requests"] == {
        "token": 1,
        "uploadInfo": 1,
        "oss": 1,
        "commit": 1,
        "queryDentryId": 1,
    }
    assert st["total"] == 5
    assert st["status"]["queryDentryId"] == {403: 1}
    assert st["status"]["oss"]["200"] == 1  # string keys work too, as in the JSON
    emu.reset_stats()
    assert emu.stats() == {
        "requests": {},
        "total": 0,
        "throttled": 0,
        "faults": 0,
        "status": {},
        "latency": {"waits": 0, "seconds": 0.0, "peak": 0},
    }


def test_http_inspection(client: Client, emu: Emulator, root: str) -> None:
    """GET /_emulator/tree and /_emulator/stats show the remote tree and the counters."""
    d = client.upload(root, "a.txt", b"x").json()["dentry"]
    tree = client.s.get(f"{emu.base_url}/_emulator/tree", timeout=TIMEOUT).json()
    assert tree == emu.tree()
    (top,) = tree["roots"]
    assert top["uuid"] == root
    (child,) = top["children"]
    assert (child["name"], child["type"], child["uuid"], child["size"], child["version"]) == (
        "a.txt",
        "FILE",
        d["uuid"],
        1,
        1,
    )
    assert child["sha256"] == hashlib.sha256(b"x").hexdigest()
    stats = client.s.get(f"{emu.base_url}/_emulator/stats", timeout=TIMEOUT).json()
    assert stats == json.loads(json.dumps(emu.stats()))


def test_store_content() -> None:
    """With store_content the bytes are kept; without it content() refuses."""
    with Emulator(store_content=True, folders=["r" * 32]) as emu, requests.Session() as s:
        assert emu.root_uuids == ["r" * 32]
        d = Client(emu, s).upload("r" * 32, "a.bin", b"\x00abc").json()["dentry"]
        assert emu.content(d["uuid"]) == b"\x00abc"
    with Emulator() as emu, pytest.raises(RuntimeError):
        emu.content("x")


def test_stop_ends_keep_alive_connections() -> None:
    """stop() closes idle keep-alive connections and joins every emulator thread."""
    emu = Emulator().start()
    with requests.Session() as s:
        Client(emu, s).get_token()
        emu.stop()
        assert not [t for t in threading.enumerate() if t.name.startswith("syncd-emulator")]


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_parses_faults() -> None:
    """--fault ENDPOINT:KIND:RATE is validated by argparse."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--fault", "oss:reset:0.5", "--fault", "*:slow", "--qps", "20"])
    assert args.faults == [("oss", "reset", 0.5, None), ("*", "slow", 1.0, None)]
    assert args.qps == 20
    with pytest.raises(argparse.ArgumentTypeError):
        parse_fault("nope:5xx:1")


def test_cli_serves_until_sigterm() -> None:
    """The CLI prints the URL and a config snippet, serves, and exits 0 on SIGTERM."""
    script = (
        "import argparse, sys; import syncd.emulator.cli as c; p = argparse.ArgumentParser();"
        " c.add_arguments(p); sys.exit(c.run(p.parse_args(sys.argv[1:])))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "--folder", "f" * 32, "--workspace", "Docs=" + "g" * 32],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(line.startswith("# serving") for line in lines), timeout=10)
        out = "".join(lines)
        base = re.search(r"api_base: \"(http://[^\"]+)\"", out).group(1)  # type: ignore[union-attr]
        assert f'parent_dentry_uuid: "{"f" * 32}"' in out
        assert f"knowledge base 'Docs': rootNodeId {'g' * 32}" in out
        r = requests.post(
            f"{base}/v1.0/oauth2/accessToken",
            timeout=TIMEOUT,
            json={"appKey": "emulator-app-key", "appSecret": "emulator-app-secret"},
        )
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
