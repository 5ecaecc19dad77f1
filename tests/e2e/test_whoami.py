"""`syncd whoami` and the operator check of `syncd check`, against the emulator's address
book (dingtalk-api.md §15.2): found by mobile or name, ready to paste; clear errors that
name the permission the app lacks; exempt from the monthly quota."""

from __future__ import annotations

import json

import pytest

from syncd.emulator import Emulator
from tests.conftest import ROOT_UUID, UNION_ID, run_cli, write_config

pytestmark = pytest.mark.e2e

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
OPERATOR = {
    "userid": "op01",
    "unionid": UNION_ID,
    "name": "张伟",
    "mobile": "13800000000",
}


@pytest.fixture
def emu():
    """The operator can write ROOT_UUID; Alice and Bob are only in the address book. A
    monthly quota is set so that the metered count is kept."""
    with Emulator(
        folders=[ROOT_UUID], users=[OPERATOR, ALICE, BOB], org_name="Acme", monthly_quota=100
    ) as e:
        yield e


def whoami(tmp_path, emu, *args, dingtalk=None):
    cfg = write_config(tmp_path, emu, [], dingtalk=dingtalk)
    return run_cli("whoami", *args, "-c", str(cfg))


def test_by_mobile_gives_the_union_id_to_paste_with_name_and_departments(tmp_path, emu):
    proc = whoami(tmp_path, emu, "--mobile", "13900000001")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "union_id: union-alice" in lines
    assert "name: Alice Zhang (技术总监)" in lines
    assert "departments: Acme, Department 7" in lines
    data = json.loads(whoami(tmp_path, emu, "--mobile", "13900000001", "--json").stdout)
    assert data == [
        {
            "name": "Alice Zhang",
            "title": "技术总监",
            "userid": "alice01",
            "union_id": "union-alice",
            "departments": [{"id": 1, "name": "Acme"}, {"id": 7, "name": "Department 7"}],
        }
    ]
    assert emu.metered() == 0  # contact calls are exempt (§15.1)
    assert emu.calls("getByMobile") == 2 and emu.calls("getUser") == 2


def test_by_name_lists_every_match(tmp_path, emu):
    proc = whoami(tmp_path, emu, "--name", "zhang")
    assert proc.returncode == 0, proc.stderr
    assert "union_id: union-alice" in proc.stdout and "union_id: union-bob" in proc.stdout
    assert emu.calls("searchUsers") == 1


def test_more_matches_than_shown_are_counted(tmp_path, emu):
    for i in range(25):
        emu.add_user(f"1370000{i:04d}", f"Wang {i}", f"union-wang-{i}")
    proc = whoami(tmp_path, emu, "--name", "wang")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("union_id: ") == 20
    assert "25 users match; the first 20 are shown" in proc.stdout
    assert emu.calls("getUser") == 20


def test_the_configured_union_id_is_resolved_to_a_person(tmp_path, emu):
    proc = whoami(tmp_path, emu)
    assert proc.returncode == 0, proc.stderr
    assert "name: 张伟" in proc.stdout and f"union_id: {UNION_ID}" in proc.stdout
    assert emu.calls("getByUnionId") == 1


def test_nobody_found_is_a_clear_error(tmp_path, emu):
    proc = whoami(tmp_path, emu, "--mobile", "13911112222")
    assert proc.returncode == 1
    assert "no active user with mobile 13911112222" in proc.stderr
    proc = whoami(tmp_path, emu, "--name", "Nobody")
    assert proc.returncode == 1 and "no user whose name matches 'Nobody'" in proc.stderr
    unknown = whoami(tmp_path, emu, dingtalk={"union_id": "union-stranger"})
    assert unknown.returncode == 3
    assert "dingtalk.union_id: no user with unionId union-stranger" in unknown.stderr
    assert "syncd whoami --mobile" in unknown.stderr
    assert "Traceback" not in unknown.stderr


@pytest.mark.parametrize(
    ("permission", "args"),
    [
        ("qyapi_get_member_by_mobile", ("--mobile", "13900000001")),
        ("qyapi_addresslist_search", ("--name", "zhang")),
        ("qyapi_get_member", ("--mobile", "13900000001")),
        ("qyapi_get_member", ()),
    ],
)
def test_a_missing_permission_is_named(tmp_path, emu, permission, args):
    emu.revoke_permission(permission)
    proc = whoami(tmp_path, emu, *args)
    assert proc.returncode == 1, proc.stdout
    assert f"the app lacks the permission {permission}" in proc.stderr
    assert "Traceback" not in proc.stderr and "emulator-app-secret" not in proc.stderr


def test_without_the_department_permission_the_ids_are_shown(tmp_path, emu):
    emu.revoke_permission("qyapi_get_department_list")
    proc = whoami(tmp_path, emu, "--mobile", "13900000002")
    assert proc.returncode == 0, proc.stderr
    assert "departments: department 7" in proc.stdout and "union_id: union-bob" in proc.stdout
    assert "qyapi_get_department_list" in proc.stdout


def test_finding_the_operator_needs_no_union_id_and_no_mapping(tmp_path, emu):
    """Before the operator is known: `union_id` unset, mappings not written yet, or
    naming a share that is not mounted."""
    cfg = write_config(
        tmp_path,
        emu,
        [{"local": str(tmp_path / "not-mounted"), "parent_dentry_uuid": ROOT_UUID}],
        dingtalk={"union_id": "${DINGTALK_UNION_ID}"},
    )
    proc = run_cli("whoami", "--mobile", "13900000001", "-c", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert "union_id: union-alice" in proc.stdout
    # resolving the configured one needs it, of course
    proc = run_cli("whoami", "-c", str(cfg))
    assert proc.returncode == 3 and "DINGTALK_UNION_ID" in proc.stderr


def test_mobile_and_name_are_exclusive():
    proc = run_cli("whoami", "--mobile", "1", "--name", "x")
    assert proc.returncode == 2 and "not allowed with" in proc.stderr


def test_check_tells_an_unknown_union_id_from_one_without_rights(tmp_path, emu):
    share = tmp_path / "share"
    share.mkdir()
    mappings = [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}]
    ok = run_cli("check", "-c", str(write_config(tmp_path, emu, mappings)))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "dingtalk.union_id: OK (张伟 (op01))" in ok.stdout
    # a person of the organisation, without rights on the folder
    cfg = write_config(tmp_path, emu, mappings, dingtalk={"union_id": "union-bob"})
    proc = run_cli("check", "-c", str(cfg))
    assert proc.returncode == 3
    assert "dingtalk.union_id: OK (Bob Zhang (bob02))" in proc.stdout
    assert "permissionDenied" in proc.stdout and "edit rights" in proc.stdout
    assert "Bob Zhang" in proc.stdout.split("FAILED", 1)[1]
    # nobody of the organisation: said once, before any folder is tried
    cfg = write_config(tmp_path, emu, mappings, dingtalk={"union_id": "union-stranger"})
    emu.reset_stats()
    metered = emu.metered()
    proc = run_cli("check", "-c", str(cfg))
    assert proc.returncode == 3
    assert "dingtalk.union_id: FAILED: no user with unionId union-stranger" in proc.stdout
    assert "mappings[0]" not in proc.stdout and emu.calls("queryDentryId") == 0
    assert emu.metered() == metered and emu.calls("getByUnionId") == 1  # contacts are free
