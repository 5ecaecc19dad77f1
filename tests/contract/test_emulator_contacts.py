"""Contact calls for ``syncd whoami`` (dingtalk-api.md §15.2): raw HTTP, nothing mocked."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from syncd.emulator import Emulator
from syncd.emulator.cli import add_arguments, build, parse_user
from tests.contract import test_emulator_support as support
from tests.contract.test_emulator_support import TIMEOUT, UNION, Client, code

pytestmark = pytest.mark.contract

no_leaked_threads_fixture = support.no_leaked_threads_fixture
emu_fixture = support.emu_fixture
client_fixture = support.client_fixture

OLD_REQUEST_ID = re.compile(r"^[a-z0-9]{12}$")
ALICE = {
    "userid": "alice01",
    "unionid": "union-alice",
    "name": "Alice Zhang",
    "mobile": "13900000001",
    "dept_id_list": [1, 7],
    "title": "技术总监",
}
BOB = {
    "userid": "bob02",
    "unionid": "union-bob",
    "name": "Bob Zhang",
    "mobile": "13900000002",
    "dept_id_list": [7],
}


class Contacts:
    """Raw HTTP for the five contact calls."""

    def __init__(self, client: Client) -> None:
        self.c = client

    def token(self) -> str:
        return self.c.headers()["x-acs-dingtalk-access-token"]

    def old(self, path: str, body: Any, token: str | None = "") -> requests.Response:
        """``POST path?access_token=T`` (the new-style token unless given; None = none)."""
        params = {} if token is None else {"access_token": token or self.token()}
        return self.c.s.post(f"{self.c.base}{path}", params=params, json=body, timeout=TIMEOUT)

    def by_mobile(self, mobile: str, **kw: Any) -> requests.Response:
        return self.old("/topapi/v2/user/getbymobile", {"mobile": mobile}, **kw)

    def user(self, userid: str, **body: Any) -> requests.Response:
        return self.old("/topapi/v2/user/get", {"userid": userid, **body})

    def by_union(self, unionid: str) -> requests.Response:
        return self.old("/topapi/user/getbyunionid", {"unionid": unionid})

    def dept(self, dept_id: Any) -> requests.Response:
        return self.old("/topapi/v2/department/get", {"dept_id": dept_id})

    def search(self, body: dict[str, Any], headers: dict[str, str] | None = None):
        return self.c.s.post(
            f"{self.c.base}/v1.0/contact/users/search",
            json=body,
            headers=self.c.headers() if headers is None else headers,
            timeout=TIMEOUT,
        )


def ok(resp: requests.Response) -> Any:
    """The ``result`` of an old-style success (HTTP 200, errcode 0, errmsg ok)."""
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["errcode"], body["errmsg"]) == (0, "ok"), body
    assert OLD_REQUEST_ID.match(body["request_id"])
    return body["result"]


def err(resp: requests.Response, status: int = 200) -> tuple[int, str]:
    """(errcode, errmsg) of an old-style error; no result, no §9.1 envelope."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert "result" not in body and "code" not in body
    assert OLD_REQUEST_ID.match(body["request_id"])
    return body["errcode"], body["errmsg"]


@pytest.fixture
def book(client: Client) -> Contacts:
    return Contacts(client)


@pytest.fixture
def people() -> Iterator[Contacts]:
    with Emulator(users=[ALICE, BOB], org_name="Acme") as emu, requests.Session() as s:
        yield Contacts(Client(emu, s))


# -- the default user ----------------------------------------------------------------------------


def test_whoami_chain_for_the_default_user(book: Contacts, emu: Emulator) -> None:
    """mobile -> userid -> unionid, name, department; unionid -> userid; dept 1 = the org."""
    assert ok(book.by_mobile("13800000000")) == {"userid": "user-1"}
    user = ok(book.user("user-1", language="en_US"))
    assert {k: user[k] for k in ("userid", "unionid", "name", "dept_id_list", "title")} == {
        "userid": "user-1",
        "unionid": UNION,
        "name": "Emulator Operator",
        "dept_id_list": [1],
        "title": "",
    }
    assert user["mobile"] == "13800000000"
    assert ok(book.by_union(UNION)) == {"contact_type": 0, "userid": "user-1"}
    assert ok(book.dept(1)) == {"dept_id": 1, "name": "Emulator Org"}
    assert book.search({"queryWord": "operator", "offset": 0, "size": 10}).json() == {
        "hasMore": False,
        "totalCount": 1,
        "list": ["user-1"],
    }


def test_one_default_user_per_operator() -> None:
    """union_ids (a, b) -> user-1 and user-2, mobiles 13800000000 and 13800000001."""
    with Emulator(union_ids=("u-a", "u-b")) as emu, requests.Session() as s:
        book = Contacts(Client(emu, s))
        assert ok(book.by_mobile("13800000001")) == {"userid": "user-2"}
        assert ok(book.user("user-2"))["unionid"] == "u-b"
        assert ok(book.user("user-2"))["name"] == "Emulator Operator 2"


# -- a directory of users ------------------------------------------------------------------------


def test_users_from_the_constructor_and_add_user(people: Contacts) -> None:
    """Emulator(users=…) and emu.add_user(): every field comes back; other departments
    exist under the root, which is named after the org."""
    alice = ok(people.user("alice01"))
    assert (alice["unionid"], alice["title"], alice["dept_id_list"]) == (
        "union-alice",
        "技术总监",
        [1, 7],
    )
    assert ok(people.dept(1)) == {"dept_id": 1, "name": "Acme"}
    assert ok(people.dept("7")) == {"dept_id": 7, "name": "Department 7", "parent_id": 1}
    emu = people.c.emu
    assert emu.add_user("13900000003", "Carol Li", "union-carol") == "user-3"
    assert emu.add_user("13900000004", "Dan", "union-dan", userid="dan", title="PM") == "dan"
    assert ok(people.by_mobile("13900000003")) == {"userid": "user-3"}
    assert ok(people.by_union("union-dan"))["userid"] == "dan"
    assert ok(people.user("dan"))["title"] == "PM"
    with pytest.raises(ValueError, match="13900000003"):
        emu.add_user("13900000003", "Again", "union-other")
    with pytest.raises(ValueError, match="union-dan"):
        emu.add_user("13900000009", "Again", "union-dan")


def test_search_by_name(people: Contacts) -> None:
    """Any part of the name (case-insensitive) or, with fullMatchField 1, the exact name;
    offset/size page through the matches with hasMore and totalCount."""
    page = {"offset": 0, "size": 10}
    assert people.search({"queryWord": "zhang", **page}).json()["list"] == ["alice01", "bob02"]
    exact = people.search({"queryWord": "Bob Zhang", "fullMatchField": 1, **page}).json()
    assert exact == {"hasMore": False, "totalCount": 1, "list": ["bob02"]}
    partial = {"queryWord": "Bob", "fullMatchField": 1, **page}
    assert people.search(partial).json()["list"] == []
    first = people.search({"queryWord": "Zhang", "offset": 0, "size": 1}).json()
    assert first == {"hasMore": True, "totalCount": 2, "list": ["alice01"]}
    second = people.search({"queryWord": "Zhang", "offset": 1, "size": 1}).json()
    assert second == {"hasMore": False, "totalCount": 2, "list": ["bob02"]}
    assert people.search({"queryWord": "nobody", **page}).json()["totalCount"] == 0


def test_form_encoded_old_style_body(people: Contacts) -> None:
    """The docs' curl samples send forms: they work like JSON bodies."""
    c = people.c
    r = c.s.post(
        f"{c.base}/topapi/v2/user/getbymobile",
        params={"access_token": people.token()},
        data={"mobile": "13900000002"},
        timeout=TIMEOUT,
    )
    assert ok(r) == {"userid": "bob02"}


# -- errors --------------------------------------------------------------------------------------


def test_unknown_people_and_departments(people: Contacts) -> None:
    """Documented codes, all at HTTP 200: 60121, 33012, 60121, 60003."""
    assert err(people.by_mobile("13000000000")) == (60121, "未找到该用户")
    assert err(people.user("ghost")) == (33012, "无效的userId")
    assert err(people.by_union("union-ghost")) == (60121, "未找到对应员工")
    assert err(people.dept(99)) == (60003, "未找到对应部门")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/topapi/v2/user/getbymobile", {}),
        ("/topapi/v2/user/getbymobile", {"mobile": ""}),
        ("/topapi/v2/user/get", {"userid": ["x"]}),
        ("/topapi/v2/user/get", {"userid": "user-1", "language": "fr_FR"}),
        ("/topapi/user/getbyunionid", {"unionid": None}),
        ("/topapi/v2/department/get", {"dept_id": "one"}),
        ("/topapi/v2/department/get", [1]),
    ],
)
def test_bad_parameters_are_400002(book: Contacts, path: str, body: Any) -> None:
    assert err(book.old(path, body)) == (400002, "无效的参数")


def test_old_style_token_errors(book: Contacts) -> None:
    """A missing or invalid access_token is errcode 40014 at HTTP 200, and so is the token
    sent only as the new-style header; the new-style token itself is accepted."""
    assert err(book.by_mobile("13800000000", token=None)) == (40014, "不合法的access_token")
    assert err(book.by_mobile("13800000000", token="nope")) == (40014, "不合法的access_token")
    c = book.c
    r = c.s.post(
        f"{c.base}/topapi/v2/user/getbymobile",
        json={"mobile": "13800000000"},
        headers=c.headers(),
        timeout=TIMEOUT,
    )
    assert err(r) == (40014, "不合法的access_token")
    c.emu.expire_tokens()
    assert err(book.by_mobile("13800000000")) == (40014, "不合法的access_token")


def test_search_errors(book: Contacts) -> None:
    """New style: §9.1 envelope; missing/invalid token and bad parameters."""
    body = {"queryWord": "x", "offset": 0, "size": 10}
    assert code(book.search(body, headers={})) == (400, "AuthenticationFailed.MissingParameter")
    bad = {"x-acs-dingtalk-access-token": "nope"}
    assert code(book.search(body, headers=bad)) == (400, "InvalidAuthentication")
    for wrong in (
        {"offset": 0, "size": 10},
        {"queryWord": "x", "size": 10},
        {"queryWord": "x", "offset": -1, "size": 10},
        {"queryWord": "x", "offset": 0, "size": 0},
        {"queryWord": "x", "offset": 0, "size": 101},
        {"queryWord": "x", "offset": 0, "size": 10, "fullMatchField": "1"},
    ):
        r = book.search(wrong)
        assert code(r) == (400, "parameter.error")
        assert r.json()["message"].startswith("参数错误")


# -- faults, stats, quota ------------------------------------------------------------------------


def test_contacts_go_through_faults_and_stats(book: Contacts, emu: Emulator) -> None:
    """Faults hit contact endpoints by name and by "*"; old-style answers stay old-style:
    5xx -> errcode -1 at the fault's status, throttling -> 90002 at 200; stats count them."""
    book.token()
    emu.set_fault("getByMobile", "5xx", count=1)
    assert err(book.by_mobile("13800000000"), 500) == (-1, "系统繁忙")
    emu.set_fault("getUser", "throttle", count=1)
    assert err(book.user("user-1"))[0] == 90002
    emu.set_fault("getByUnionId", "401", count=2)
    assert book.by_union(UNION).status_code == 401
    assert err(book.by_union(UNION), 401) == (40014, "不合法的access_token")
    emu.set_fault("*", "reset", count=1)
    with pytest.raises(requests.ConnectionError):
        book.dept(1)
    emu.set_fault("searchUsers", "5xx", count=1, status=503)
    assert code(book.search({"queryWord": "x", "offset": 0, "size": 1})) == (
        503,
        "operationTimeout",
    )
    emu.set_fault("getDepartment", "lost5xx", count=1)
    assert err(book.dept(1), 503) == (-1, "系统繁忙")
    st = emu.stats()
    assert {ep: st["requests"][ep] for ep in ("getByMobile", "getUser", "getByUnionId")} == {
        "getByMobile": 1,
        "getUser": 1,
        "getByUnionId": 2,
    }
    assert st["requests"]["getDepartment"] == 2 and st["requests"]["searchUsers"] == 1
    assert st["throttled"] == 1 and st["faults"] == 7
    assert st["status"]["getByMobile"] == {500: 1}


def test_contacts_are_never_metered() -> None:
    """With a quota of 0 every contact call answers; the month's count stays 0."""
    with Emulator(monthly_quota=0) as emu, requests.Session() as s:
        book = Contacts(Client(emu, s))
        ok(book.by_mobile("13800000000"))
        ok(book.user("user-1"))
        ok(book.by_union(UNION))
        ok(book.dept(1))
        assert book.search({"queryWord": "Emulator", "offset": 0, "size": 5}).status_code == 200
        assert emu.metered() == 0
        assert emu.stats()["metered"] == {"total": 0, "by_endpoint": {}, "quota": 0, "refused": 0}


def test_user_validation() -> None:
    """Bad user records are ValueErrors before anything starts."""
    for bad in (
        [{"userid": "x", "unionid": "u", "name": "n"}],  # no mobile
        [{**ALICE, "dept_id_list": []}],
        [{**ALICE, "colour": "red"}],
        [ALICE, {**BOB, "mobile": ALICE["mobile"]}],
    ):
        with pytest.raises(ValueError, match="user"):
            Emulator(users=bad)
    with pytest.raises(ValueError, match="org_name"):
        Emulator(org_name="")
    assert Emulator(users=[]).directory.users() == []


def test_cli_users() -> None:
    """--user MOBILE:NAME:UNIONID[:USERID] (repeatable) fills the address book; without
    --union-id the users' unionIds are the operators; --org-name names department 1."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = ["--user", "13900000001:Alice:union-a", "--user", "13900000002:Bob:union-b:bob"]
    emu = build(parser.parse_args([*argv, "--org-name", "Acme"]))
    users = [(u.userid, u.name, u.mobile, u.unionid) for u in emu.directory.users()]
    assert users == [
        ("user-1", "Alice", "13900000001", "union-a"),
        ("bob", "Bob", "13900000002", "union-b"),
    ]
    assert emu.union_ids == ("union-a", "union-b")
    assert emu.directory.department(1) == {"dept_id": 1, "name": "Acme"}
    emu = build(parser.parse_args([*argv, "--union-id", "op"]))
    assert emu.union_ids == ("op",)
    for bad in ("13900000001:Alice", "a:b:c:d:e", "::x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_user(bad)
    assert "--user" in parser.format_help() and "--org-name" in parser.format_help()
