"""The monthly API quota (dingtalk-api.md §15.1): raw HTTP, nothing mocked."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from syncd.emulator import Emulator
from syncd.emulator.cli import add_arguments, build
from tests.contract import test_emulator_support as support
from tests.contract.test_emulator_support import REQUEST_ID, TIMEOUT, UNION, Client, code

pytestmark = pytest.mark.contract

no_leaked_threads_fixture = support.no_leaked_threads_fixture
emu_fixture = support.emu_fixture
client_fixture = support.client_fixture
root_fixture = support.root_fixture
space_fixture = support.space_fixture

QUOTA_CODE = "Forbidden.AccessDenied.ApiCountLimitForOrg"


def quota_message(count: int, quota: int) -> str:
    return (
        f"您的企业本月api调用量已超过限制,调用量:{count}次,额度:{quota}次,"
        "请登录开发者后台-资源管理-查看用量明细"
    )


def over_quota(resp: requests.Response, count: int, quota: int) -> None:
    """``resp`` is the §15.1 refusal: 403, the §9.1 envelope, the code and the message."""
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert set(body) == {"code", "requestid", "message"}
    assert body["code"] == QUOTA_CODE
    assert body["message"] == quota_message(count, quota)
    assert REQUEST_ID.match(body["requestid"])


@pytest.fixture
def quota_emu() -> Iterator[Emulator]:
    with Emulator(monthly_quota=1000) as emu:
        yield emu


@pytest.fixture
def qc(quota_emu: Emulator) -> Iterator[Client]:
    with requests.Session() as s:
        yield Client(quota_emu, s)


def search(client: Client) -> requests.Response:
    return client.s.post(
        f"{client.base}/v1.0/contact/users/search",
        json={"queryWord": "Emulator", "offset": 0, "size": 10},
        headers=client.headers(),
        timeout=TIMEOUT,
    )


def get_by_mobile(client: Client) -> requests.Response:
    return client.s.post(
        f"{client.base}/topapi/v2/user/getbymobile",
        params={"access_token": client.headers()["x-acs-dingtalk-access-token"]},
        json={"mobile": "13800000000"},
        timeout=TIMEOUT,
    )


# -- counting ----------------------------------------------------------------------------------


def test_metered_calls_are_counted_per_endpoint(client: Client, emu: Emulator, root: str) -> None:
    """uploadInfo, commit, queryDentryId and a listing page count; the token call, the OSS
    PUT and /_emulator/* do not; a 4xx answer of the API itself still counts."""
    assert client.upload(root, "a.txt", b"x").status_code == 200
    space = client.space(root)
    assert client.list(space).status_code == 200
    assert code(client.list(space, "999")) == (404, "dentryNotExist")
    client.s.get(f"{emu.base_url}/_emulator/tree", timeout=TIMEOUT)
    client.s.get(f"{emu.base_url}/_emulator/stats", timeout=TIMEOUT)
    assert client.get_token().status_code == 200
    assert emu.metered() == 5
    by = {ep: emu.metered_calls(ep) for ep in ("uploadInfo", "commit", "queryDentryId")}
    assert by == {"uploadInfo": 1, "commit": 1, "queryDentryId": 1}
    assert emu.metered_calls("listDentries") == 2
    assert emu.metered_calls("token") == 0 and emu.metered_calls("oss") == 0
    assert emu.stats()["requests"]["token"] == 2  # served, just not metered


def test_without_a_quota_calls_are_metered_but_never_refused(client: Client, emu: Emulator) -> None:
    """No quota: the month is still counted; stats() keeps its old shape."""
    for _ in range(3):
        assert client.query(emu.root_uuids[0]).status_code == 200
    assert emu.metered() == 3
    assert "metered" not in emu.stats()


def test_stats_and_http_stats_show_the_month(qc: Client, quota_emu: Emulator) -> None:
    """stats()["metered"] = {total, by_endpoint, quota, refused}, also over HTTP."""
    root = quota_emu.root_uuids[0]
    qc.query(root)
    qc.info(root)
    quota_emu.set_monthly_quota(2)
    over_quota(qc.query(root), 2, 2)
    want = {
        "total": 2,
        "by_endpoint": {"queryDentryId": 1, "uploadInfo": 1},
        "quota": 2,
        "refused": 1,
    }
    assert quota_emu.stats()["metered"] == want
    http = qc.s.get(f"{quota_emu.base_url}/_emulator/stats", timeout=TIMEOUT).json()
    assert http["metered"] == want
    assert quota_emu.stats()["status"]["queryDentryId"] == {200: 1, 403: 1}


def test_throttled_calls_are_free(qc: Client, quota_emu: Emulator) -> None:
    """Injected throttle faults (all three codes) are not metered; the next call is."""
    root = quota_emu.root_uuids[0]
    qc.headers()
    for kind in ("throttle", "qpm", "qpsapi"):
        quota_emu.set_fault("queryDentryId", kind, count=1)
        assert qc.query(root).status_code == 403
    assert quota_emu.metered() == 0
    assert qc.query(root).status_code == 200
    assert quota_emu.metered() == 1


def test_calls_refused_by_the_qps_limit_are_free() -> None:
    """With the real QPS limiter, exactly the calls that were not throttled are metered."""
    with Emulator(qps=2, monthly_quota=100) as emu, requests.Session() as s:
        c, root = Client(emu, s), emu.root_uuids[0]
        c.headers()
        results = [code(c.query(root)) for _ in range(8)]
        throttled = results.count((403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"))
        assert throttled >= 1
        assert emu.metered() == results.count((200, "")) == 8 - throttled


def test_dropped_and_unauthenticated_calls_are_free(client: Client, emu: Emulator) -> None:
    """A reset fault (dropped before processing) and a bad or missing token cost nothing;
    a lost call (processed, answer lost) is metered."""
    root = emu.root_uuids[0]
    emu.set_fault("queryDentryId", "reset", count=1)
    with pytest.raises(requests.ConnectionError):
        client.query(root)
    bad = client.s.get(
        f"{emu.base_url}/v2.0/doc/dentries/{root}/queryDentryId?operatorId={UNION}",
        headers={"x-acs-dingtalk-access-token": "nope"},
        timeout=TIMEOUT,
    )
    assert code(bad) == (400, "InvalidAuthentication")
    missing = client.s.get(f"{emu.base_url}/v2.0/doc/dentries/{root}/queryDentryId", timeout=5)
    assert code(missing) == (400, "AuthenticationFailed.MissingParameter")
    assert emu.metered() == 0
    emu.set_fault("queryDentryId", "lost", count=1)
    with pytest.raises(requests.ConnectionError):
        client.query(root)
    assert emu.metered() == 1


def test_token_and_contacts_are_exempt_and_keep_working() -> None:
    """Quota 0: the token call and the contact calls answer, never metered nor refused."""
    with Emulator(monthly_quota=0) as emu, requests.Session() as s:
        c = Client(emu, s)
        assert c.get_token().status_code == 200
        assert get_by_mobile(c).json()["result"] == {"userid": "user-1"}
        assert search(c).json()["list"] == ["user-1"]
        over_quota(c.upload_info(emu.root_uuids[0]), 0, 0)
        assert emu.metered() == 0
        assert emu.stats()["metered"]["refused"] == 1
        assert emu.stats()["status"]["getByMobile"] == {200: 1}


# -- the refusal on each API -------------------------------------------------------------------


def _prepare(client: Client, emu: Emulator) -> dict[str, Any]:
    root = emu.root_uuids[0]
    d = client.upload(root, "a.txt", b"abc").json()["dentry"]
    info = client.info(root)
    assert client.put(info, b"new").status_code == 200
    return {"root": root, "space": d["spaceId"], "id": d["id"], "key": info["uploadKey"]}


Refused = Callable[[Client, dict[str, Any]], requests.Response]
REFUSED: dict[str, Refused] = {
    "uploadInfo": lambda c, p: c.upload_info(p["root"]),
    "commit": lambda c, p: c.commit(p["root"], p["key"], "b.txt"),
    "listDentries": lambda c, p: c.list(p["space"]),
    "getDentry": lambda c, p: c.get(p["space"], p["id"]),
    "addFolder": lambda c, p: c.add_folder(p["space"], "0", "sub"),
    "queryDentryId": lambda c, p: c.query(p["root"]),
    "rename": lambda c, p: c.rename(p["space"], p["id"], "c.txt"),
    "workspaces": lambda c, p: c.wiki("workspaces"),
    "nodes": lambda c, p: c.wiki("nodes", parentNodeId=p["root"]),
}


@pytest.mark.parametrize("endpoint", list(REFUSED))
def test_over_quota_every_metered_api_refuses(
    qc: Client, quota_emu: Emulator, endpoint: str
) -> None:
    """Once the count reached the quota: 403 ApiCountLimitForOrg with count and quota, and
    the call does nothing (after a new month the same call still works)."""
    prepared = _prepare(qc, quota_emu)
    before = quota_emu.tree()
    used, calls = quota_emu.metered(), quota_emu.metered_calls(endpoint)
    quota_emu.set_monthly_quota(used)
    for _ in range(2):
        over_quota(REFUSED[endpoint](qc, prepared), used, used)
    assert quota_emu.tree() == before
    assert quota_emu.metered() == used
    assert quota_emu.metered_calls(endpoint) == calls
    assert quota_emu.stats()["metered"]["refused"] == 2
    quota_emu.reset_month()
    assert REFUSED[endpoint](qc, prepared).status_code == 200
    assert quota_emu.metered() == 1


def test_quota_reached_exactly(qc: Client, quota_emu: Emulator) -> None:
    """Quota N: calls 1..N answer, call N+1 is refused with count N."""
    quota_emu.set_monthly_quota(3)
    root = quota_emu.root_uuids[0]
    assert [qc.query(root).status_code for _ in range(3)] == [200, 200, 200]
    over_quota(qc.query(root), 3, 3)
    quota_emu.set_monthly_quota(None)
    assert qc.query(root).status_code == 200
    assert quota_emu.metered() == 4


def test_quota_check_comes_after_token_and_qps_and_before_the_operator(
    qc: Client, quota_emu: Emulator
) -> None:
    """Over the quota, a bad token is still InvalidAuthentication and a throttle fault still
    throttles; an unknown operator gets the quota answer (the quota comes first)."""
    root = quota_emu.root_uuids[0]
    qc.headers()
    quota_emu.set_monthly_quota(0)
    bad = qc.s.get(
        f"{quota_emu.base_url}/v2.0/doc/dentries/{root}/queryDentryId?operatorId={UNION}",
        headers={"x-acs-dingtalk-access-token": "nope"},
        timeout=TIMEOUT,
    )
    assert code(bad) == (400, "InvalidAuthentication")
    quota_emu.set_fault("queryDentryId", "throttle", count=1)
    assert code(qc.query(root)) == (403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")
    over_quota(qc.query(root, operator="stranger"), 0, 0)
    assert quota_emu.stats()["metered"]["refused"] == 1


def test_concurrent_calls_never_overshoot_the_quota(quota_emu: Emulator) -> None:
    """Ten calls at once against a quota of 4: exactly 4 answer, 6 are refused."""
    quota_emu.set_monthly_quota(4)
    root = quota_emu.root_uuids[0]
    with requests.Session() as s:
        headers = Client(quota_emu, s).headers()
    barrier = threading.Barrier(10, timeout=TIMEOUT)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        with requests.Session() as s:
            barrier.wait()
            r = s.get(
                f"{quota_emu.base_url}/v2.0/doc/dentries/{root}/queryDentryId",
                params={"operatorId": UNION},
                headers=headers,
                timeout=TIMEOUT,
            )
            with lock:
                statuses.append(r.status_code)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    assert sorted(statuses) == [200] * 4 + [403] * 6
    assert quota_emu.metered() == 4
    assert quota_emu.stats()["metered"]["refused"] == 6


# -- months ------------------------------------------------------------------------------------


def test_reset_month_over_http(qc: Client, quota_emu: Emulator) -> None:
    """POST /_emulator/reset-month starts a new month; it is neither counted nor metered;
    other methods on it, and POST on the other inspection routes, are 404."""
    root = quota_emu.root_uuids[0]
    quota_emu.set_monthly_quota(1)
    assert qc.query(root).status_code == 200
    over_quota(qc.query(root), 1, 1)
    url = f"{quota_emu.base_url}/_emulator/reset-month"
    assert code(qc.s.get(url, timeout=TIMEOUT)) == (404, "InvalidAction.NotFound")
    for path in ("stats", "tree"):
        r = qc.s.post(f"{quota_emu.base_url}/_emulator/{path}", timeout=TIMEOUT)
        assert code(r) == (404, "InvalidAction.NotFound")
    assert quota_emu.metered() == 1
    r = qc.s.post(url, timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json() == {"metered": {"total": 0, "by_endpoint": {}, "quota": 1, "refused": 0}}
    assert qc.query(root).status_code == 200
    assert quota_emu.metered() == 1
    assert "reset-month" not in str(quota_emu.stats()["requests"])


def test_reset_stats_keeps_the_month(qc: Client, quota_emu: Emulator) -> None:
    """reset_stats() clears the test's counters but not the month's metered calls."""
    qc.query(quota_emu.root_uuids[0])
    quota_emu.reset_stats()
    assert quota_emu.stats()["requests"] == {}
    assert quota_emu.metered() == 1
    assert quota_emu.stats()["metered"]["total"] == 1
    quota_emu.reset_month()
    assert quota_emu.metered() == 0


def test_quota_validation() -> None:
    with pytest.raises(ValueError, match="quota"):
        Emulator(monthly_quota=-1)
    emu = Emulator()
    with pytest.raises(ValueError, match="quota"):
        emu.set_monthly_quota(-5)


def test_cli_monthly_quota() -> None:
    """--monthly-quota N reaches the emulator; it must be a number >= 0."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert build(parser.parse_args(["--monthly-quota", "5000"])).meter.quota == 5000
    assert build(parser.parse_args(["--monthly-quota", "0"])).meter.quota == 0
    assert build(parser.parse_args([])).meter.quota is None
    for bad in ("-1", "x"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--monthly-quota", bad])
    assert "--monthly-quota" in parser.format_help()
