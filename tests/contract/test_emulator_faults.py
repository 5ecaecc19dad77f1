"""Fault kinds, added latency and the CLI options of the emulator (product.md §8, §9)."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import threading
import time

import pytest
import requests

from syncd.emulator import Emulator
from syncd.emulator.cli import add_arguments, build, parse_fault, run, workspace_names
from tests.conftest import wait_until
from tests.contract import test_emulator_support as support
from tests.contract.test_emulator_support import TIMEOUT, Client, code

pytestmark = pytest.mark.contract

no_leaked_threads_fixture = support.no_leaked_threads_fixture
emu_fixture = support.emu_fixture
client_fixture = support.client_fixture
root_fixture = support.root_fixture
space_fixture = support.space_fixture

HEX32 = re.compile(r'^"[0-9A-F]{32}"$')


# -- API faults --------------------------------------------------------------------------------


def test_fault_401_alternates_bodies(client: Client, emu: Emulator, root: str) -> None:
    """401: an empty body, then an envelope whose code is not InvalidAuthentication."""
    client.headers()
    emu.set_fault("uploadInfo", "401", count=2)
    first, second = client.upload_info(root), client.upload_info(root)
    assert (first.status_code, first.content) == (401, b"")
    assert code(second) == (401, "Unauthorized")
    assert client.upload_info(root).status_code == 200
    assert emu.stats()["faults"] == 2


@pytest.mark.parametrize("status", [None, 200, 429])
def test_fault_ban_body(client: Client, emu: Emulator, root: str, status: int | None) -> None:
    """ban: the per-IP ban JSON (not the envelope) at 403 or any status asked for."""
    client.headers()
    emu.set_fault("queryDentryId", "ban", count=1, status=status)
    r = client.query(root)
    assert r.status_code == (status or 403)
    body = r.json()
    assert {k: body[k] for k in ("status", "wait", "source", "punish")} == {
        "status": 1111,
        "wait": 5,
        "source": "x5",
        "punish": "deny",
    }
    assert body["uuid"] and "code" not in body
    assert client.query(root).status_code == 200


@pytest.mark.parametrize("status", [None, 200])
def test_fault_ban_html(client: Client, emu: Emulator, root: str, status: int | None) -> None:
    """banhtml: an HTML page instead of JSON, at 403 or the status asked for."""
    client.headers()
    emu.set_fault("*", "banhtml", count=1, status=status)
    r = client.query(root)
    assert r.status_code == (status or 403)
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.text.lstrip().lower().startswith("<!doctype html>")


def test_fault_qpm_and_qps_api_count_as_throttled(client: Client, emu: Emulator, root: str) -> None:
    """qpm and qpsapi answer the other 403 throttling codes; every kind counts as throttled."""
    client.headers()
    emu.set_fault("uploadInfo", "qpm", count=1)
    assert code(client.upload_info(root)) == (403, "Forbidden.AccessDenied.QpmLimitForAppkeyAndApi")
    emu.set_fault("uploadInfo", "qpsapi", count=1)
    assert code(client.upload_info(root)) == (403, "Forbidden.AccessDenied.QpsLimitForApi")
    emu.set_fault("uploadInfo", "throttle", count=1)
    assert code(client.upload_info(root)) == (
        403,
        "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
    )
    assert emu.stats()["throttled"] == 3


def test_fault_5xx_status(client: Client, emu: Emulator, root: str) -> None:
    """A 5xx fault can be pinned to one status (here 502)."""
    client.headers()
    emu.set_fault("queryDentryId", "5xx", count=1, status=502)
    assert code(client.query(root)) == (502, "systemError")


def test_lost_commit_was_applied(client: Client, emu: Emulator, root: str) -> None:
    """lost: the commit is applied, then the connection drops; a blind replay is refused."""
    emu.set_fault("commit", "lost", count=1)
    info = client.info(root)
    assert client.put(info, b"abc").status_code == 200
    with pytest.raises(requests.ConnectionError):
        client.commit(root, info["uploadKey"], "a.txt", conflictStrategy="OVERWRITE")
    assert emu.files()["a.txt"]["version"] == 1  # applied although no answer came
    assert code(client.commit(root, info["uploadKey"], "a.txt")) == (400, "paramError.uploadKey")
    assert set(emu.files()) == {"a.txt"}
    assert emu.stats()["status"].get("commit") == {400: 1}  # the lost answer was never sent


def test_lost5xx_commit_was_applied(client: Client, emu: Emulator, root: str) -> None:
    """lost5xx: the commit is applied, then the answer is 503 operationTimeout."""
    emu.set_fault("commit", "lost5xx", count=1)
    r = client.upload(root, "a.txt", b"abc", conflictStrategy="OVERWRITE")
    assert code(r) == (503, "operationTimeout")
    assert emu.files()["a.txt"]["sha256"] == hashlib.sha256(b"abc").hexdigest()


def test_badnumbers_commit_is_applied_and_answers_integers_as_text(
    client: Client, emu: Emulator, root: str
) -> None:
    """badnumbers: the call is applied; every integer of the answer comes back as text."""
    emu.set_fault("commit", "badnumbers", count=1)
    r = client.upload(root, "a.txt", b"abc", conflictStrategy="OVERWRITE")
    assert r.status_code == 200
    dentry = r.json()["dentry"]
    assert dentry["version"] == "1.0" and dentry["size"] == "3.0"
    assert emu.files()["a.txt"]["version"] == 1


def test_lost_move_rename_add_folder(client: Client, emu: Emulator, root: str, space: str) -> None:
    """lost on move, rename and addFolder: each change happens although no answer comes."""
    f = client.upload(root, "a.txt", b"x").json()["dentry"]
    for endpoint in ("addFolder", "rename", "move"):
        emu.set_fault(endpoint, "lost", count=1)
    with pytest.raises(requests.ConnectionError):
        client.add_folder(space, "0", "sub")
    sub_id = emu.folders()["sub"]["id"]
    with pytest.raises(requests.ConnectionError):
        client.rename(space, f["id"], "b.txt")
    with pytest.raises(requests.ConnectionError):
        client.move(space, f["id"], space, sub_id)
    assert emu.files()["sub/b.txt"]["uuid"] == f["uuid"]


def test_fault_kinds_belong_to_their_server(client: Client, emu: Emulator, root: str) -> None:
    """OSS-only kinds on an API endpoint (and the reverse) are refused; "*" draws per server."""
    for endpoint, kind in (("commit", "etag"), ("oss", "qpm"), ("oss", "401"), ("move", "x")):
        with pytest.raises(ValueError, match=kind):
            emu.set_fault(endpoint, kind)
    with pytest.raises(ValueError, match="status"):
        emu.set_fault("nodes", "ban", status=99)
    emu.set_fault("*", "etag")
    info = client.info(root)  # the API is untouched by an OSS kind
    r = client.put(info, b"abc")
    assert r.status_code == 200
    assert r.headers["ETag"].strip('"') != hashlib.md5(b"abc").hexdigest().upper()


# -- OSS faults --------------------------------------------------------------------------------


def test_oss_throttle_json_then_ok(client: Client, emu: Emulator, root: str) -> None:
    """throttlejson: 403 with a JSON throttling body, not XML; the connection stays usable."""
    emu.set_fault("oss", "throttlejson", count=1)
    info = client.info(root)
    r = client.put(info, b"x" * 100_000)
    assert r.status_code == 403
    assert r.headers["Content-Type"].startswith("application/json")
    assert json.loads(r.content)["code"] == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
    assert client.put(info, b"x").status_code == 200
    assert emu.stats()["throttled"] == 1


def test_oss_html_403_and_ban(client: Client, emu: Emulator, root: str) -> None:
    """html403: a 403 HTML page; ban on OSS: the ban JSON; nothing is stored."""
    emu.set_fault("oss", "html403", count=1)
    info = client.info(root)
    r = client.put(info, b"x")
    assert (r.status_code, r.headers["Content-Type"].split(";")[0]) == (403, "text/html")
    emu.set_fault("oss", "ban", count=1, status=200)
    r = client.put(info, b"x")
    assert (r.status_code, r.json()["status"]) == (200, 1111)
    assert code(client.commit(root, info["uploadKey"], "a.txt")) == (400, "dentryStoreError")


def test_oss_etag_is_not_the_md5(client: Client, emu: Emulator, root: str) -> None:
    """etag at rate 1.0: every PUT stores the body but answers an ETag that is not its MD5."""
    emu.set_fault("oss", "etag")
    for data in (b"one", b"two"):
        info = client.info(root)
        r = client.put(info, data)
        assert r.status_code == 200
        assert HEX32.match(r.headers["ETag"])
        assert r.headers["ETag"].strip('"') != hashlib.md5(data).hexdigest().upper()
        assert "Content-MD5" not in r.headers
        assert client.commit(root, info["uploadKey"], data.decode() + ".txt").status_code == 200
    assert emu.files()["two.txt"]["md5"] == hashlib.md5(b"two").hexdigest()


def test_oss_lost_was_stored(client: Client, emu: Emulator, root: str) -> None:
    """lost on OSS: the object is stored, then the connection drops."""
    emu.set_fault("oss", "lost", count=1)
    info = client.info(root)
    with pytest.raises(requests.ConnectionError):
        client.put(info, b"abc")
    assert client.commit(root, info["uploadKey"], "a.txt").status_code == 200
    assert emu.files()["a.txt"]["size"] == 3


# -- latency -----------------------------------------------------------------------------------


def test_latency_is_added_to_every_call() -> None:
    """Every API call and OSS PUT waits the latency: half before, half after processing."""
    with Emulator(latency=0.1) as emu, requests.Session() as s:
        c = Client(emu, s)
        start = time.monotonic()
        c.get_token()
        assert time.monotonic() - start >= 0.09  # a generous lower bound only
        c.upload(emu.root_uuids[0], "a.txt", b"x")
        st = emu.stats()
        assert st["total"] == 5  # token twice, uploadInfo, oss, commit
        assert st["latency"]["waits"] == 2 * st["total"]
        assert st["latency"]["seconds"] >= 0.9 * 0.05 * st["latency"]["waits"]
        emu.set_latency(0)
        c.query(emu.root_uuids[0])
        assert emu.stats()["latency"]["waits"] == 2 * 5


def test_latency_does_not_serialise_requests() -> None:
    """Concurrent calls wait their latency at the same time, each in its own thread."""
    with Emulator(latency=0.4) as emu:
        barrier = threading.Barrier(4, timeout=TIMEOUT)

        def one() -> None:
            with requests.Session() as s:
                barrier.wait()
                s.post(f"{emu.base_url}/v1.0/oauth2/accessToken", json={}, timeout=TIMEOUT)

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=TIMEOUT)
        assert not any(t.is_alive() for t in threads)
        assert emu.stats()["latency"]["peak"] >= 2


def test_stop_does_not_wait_out_the_latency() -> None:
    """stop() ends a call that is waiting its latency, and joins every thread."""
    emu = Emulator(latency=60).start()

    def call() -> None:
        with contextlib.suppress(requests.RequestException):  # cut off or answered: both fine
            requests.post(f"{emu.base_url}/v1.0/oauth2/accessToken", json={}, timeout=TIMEOUT)

    thread = threading.Thread(target=call)
    thread.start()
    wait_until(lambda: emu.stats()["latency"]["peak"] >= 1, timeout=TIMEOUT)
    emu.stop()
    thread.join(timeout=TIMEOUT)
    assert not thread.is_alive()


def test_latency_validation() -> None:
    with pytest.raises(ValueError, match="latency"):
        Emulator(latency=-1)


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_parses_new_faults() -> None:
    """--fault ENDPOINT:KIND[:RATE[:STATUS]] knows the new endpoints and kinds."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    faults = ["commit:lost", "oss:etag:1.0", "*:ban:0.5:200", "listDentries:qpm:0.1"]
    faults.append("nodes:lost5xx")
    args = parser.parse_args([arg for fault in faults for arg in ("--fault", fault)])
    assert args.faults == [
        ("commit", "lost", 1.0, None),
        ("oss", "etag", 1.0, None),
        ("*", "ban", 0.5, 200),
        ("listDentries", "qpm", 0.1, None),
        ("nodes", "lost5xx", 1.0, None),
    ]
    for bad in ("commit:etag", "oss:qpm", "move:nope", "commit:ban:1:99", "commit:ban:x", "a"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_fault(bad)


def test_cli_options_build_the_emulator() -> None:
    """--workspace, --app-id, --role, --default-role and --latency-ms reach the Emulator."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = ["--folder", "a" * 32, "--workspace", "Team=A=" + "b" * 32, "--app-id", "42"]
    argv += ["--role", "boss=OWNER", "--default-role", "READER", "--latency-ms", "250"]
    args = parser.parse_args([*argv, "--fault", "commit:lost:1.0"])
    emu = build(args)  # not started: no threads
    assert workspace_names(emu) == [("Knowledge base 1", "a" * 32), ("Team=A", "b" * 32)]
    assert (emu.app_id, emu.roles, emu.default_role) == ("42", {"boss": "OWNER"}, "READER")
    assert emu.latency.seconds == 0.25
    assert emu.faults.decide("commit").kind == "lost"
    for bad in (["--role", "x=KING"], ["--latency-ms", "-1"], ["--workspace", "nouuid"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_cli_refuses_a_duplicate_root(capsys: pytest.CaptureFixture[str]) -> None:
    """A root uuid given twice exits 2 with a message, before binding anything."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args(["--folder", "a" * 32, "--folder", "a" * 32])) == 2
    assert "duplicate root folder uuid" in capsys.readouterr().err
