"""The address-book calls of `syncd whoami` (remote/contacts.py) against the emulator over
real HTTP: the old-style API with the new token as `?access_token=`, errcodes as typed
errors, and API names a meter can tell apart."""

from __future__ import annotations

import pytest

from syncd.core.errors import NotFoundError, PermissionMissingError, TransientError
from syncd.emulator import Emulator
from syncd.remote.contacts import ContactsApi, oapi_base
from syncd.remote.ratelimit import PerApiLimiter
from syncd.remote.transport import Transport
from tests.conftest import UNION_ID
from tests.contract.test_client import settings

pytestmark = pytest.mark.contract


class CountingLimiter(PerApiLimiter):
    """The real per-API limiter, noting each API name it is asked for."""

    def __init__(self) -> None:
        super().__init__(1000.0)
        self.apis: list[str] = []

    def acquire(self, api: str) -> float:
        self.apis.append(api)
        return super().acquire(api)


@pytest.fixture
def contacts(emulator):
    t = Transport(settings(emulator), sleep=lambda s: None, limiter=CountingLimiter())
    yield ContactsApi(t)
    t.close()


def test_the_old_style_api_is_on_oapi_beside_the_default_base_and_on_any_other_base():
    assert oapi_base("https://api.dingtalk.com") == "https://oapi.dingtalk.com"
    assert oapi_base("https://api.dingtalk.com/") == "https://oapi.dingtalk.com"
    assert oapi_base("http://127.0.0.1:8765/") == "http://127.0.0.1:8765"


def test_every_contact_call_is_named_contact_and_is_not_metered(emulator, contacts):
    emulator.set_monthly_quota(100)
    person = contacts.by_mobile("13800000000")
    assert person.union_id == UNION_ID and person.name == "Emulator Operator"
    assert [d.name for d in person.departments] == ["Emulator Org"] or person.departments
    assert contacts.by_union_id(UNION_ID).userid == person.userid
    found, total = contacts.by_name("operator")
    assert [p.union_id for p in found] == [UNION_ID] and total == 1
    apis = contacts.t.limiter.apis
    assert {a for a in apis if a != "oauth2.accessToken"} == {
        "contact.getByMobile",
        "contact.getUser",
        "contact.getDepartment",
        "contact.getByUnionId",
        "contact.searchUsers",
    }
    assert emulator.metered() == 0


def test_an_expired_token_is_refreshed_once(emulator, contacts):
    contacts.by_mobile("13800000000")
    emulator.expire_tokens()
    assert contacts.by_mobile("13800000000").union_id == UNION_ID
    assert emulator.calls("token") == 2


def test_errcodes_become_typed_errors(emulator, contacts):
    with pytest.raises(NotFoundError, match="no active user with mobile 139"):
        contacts.by_mobile("13900000009")
    with pytest.raises(NotFoundError, match="no user with unionId nobody"):
        contacts.by_union_id("nobody")
    emulator.revoke_permission("qyapi_get_member")
    with pytest.raises(PermissionMissingError, match="qyapi_get_member ") as err:
        contacts.by_union_id(UNION_ID)
    assert err.value.permission == "qyapi_get_member" and err.value.code == "60011"
    emulator.revoke_permission("qyapi_addresslist_search")
    with pytest.raises(PermissionMissingError) as err:
        contacts.by_name("x")
    assert err.value.permission == "qyapi_addresslist_search"
    emulator.revoke_permission("qyapi_get_member", revoked=False)
    emulator.set_fault("getByMobile", "throttle", count=1)
    with pytest.raises(TransientError):  # errcode 90002 in an HTTP 200 answer
        contacts.by_mobile("13800000000")


def test_the_emulator_refuses_an_unknown_permission_name():
    emu = Emulator()
    with pytest.raises(ValueError, match="unknown permission"):
        emu.revoke_permission("qyapi_everything")
