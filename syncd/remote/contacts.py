"""Address-book calls (dingtalk-api.md §15.2): the operator's unionId from a mobile number
or a name, and a unionId back to a person. All are exempt from the monthly quota (§15.1):
their API names start with `contact.` so that a meter can tell them apart.

Four of them are old-style calls on `https://oapi.dingtalk.com` (`topapi/...`): the
transport's token goes in the `access_token` query parameter, and the answer is HTTP 200
with `errcode` (0 = ok) and `errmsg`. The name search is a new-style call on `api_base`.
An `errcode` becomes a typed error: `NotFoundError` (60121, 33012),
`PermissionMissingError` naming the permission the app lacks, a refreshed token once for
40014/42001 (then `CredentialsError`), `TransientError` when DingTalk is busy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncd.core.errors import (
    CredentialsError,
    NotFoundError,
    PermanentError,
    PermissionMissingError,
    RemoteError,
    TransientError,
)
from syncd.core.settings import DEFAULT_API_BASE
from syncd.remote.transport import Transport

OAPI_BASE = "https://oapi.dingtalk.com"
SEARCH_LIMIT = 20  # users looked up for one name; more matches are counted, not shown

# the permission each call needs (§15.2); departments: the address book's department read
PERMISSIONS = {
    "contact.getByMobile": "qyapi_get_member_by_mobile",
    "contact.searchUsers": "qyapi_addresslist_search",
    "contact.getUser": "qyapi_get_member",
    "contact.getByUnionId": "qyapi_get_member",
    "contact.getDepartment": "qyapi_get_department_list",
}
_NOT_FOUND = {60121, 33012, 60003}
_BAD_TOKEN = {40014, 42001}  # 不合法的access_token, access_token 超时
_BUSY = {-1, 90002}  # 系统繁忙, throttled
_NO_PERMISSION = {60011, 60020}  # 应用尚未开通所需的权限 / 访问ip不在白名单之中
_PERMISSION_DENIED = "Forbidden.AccessDenied.AccessTokenPermissionDenied"


def oapi_base(api_base: str) -> str:
    """Where the old-style API lives: oapi.dingtalk.com beside the default api_base, the
    same base for any other (the emulator serves both)."""
    base = api_base.rstrip("/")
    return OAPI_BASE if base == DEFAULT_API_BASE else base


@dataclass(frozen=True, slots=True)
class Department:
    id: int
    name: str  # "" when it could not be looked up


@dataclass(frozen=True, slots=True)
class Person:
    userid: str
    union_id: str
    name: str
    title: str
    departments: tuple[Department, ...]


class ContactsApi:
    """The address-book calls over one transport (its token, rate limit and retries)."""

    def __init__(self, transport: Transport) -> None:
        self.t = transport
        self.base = oapi_base(transport.settings.api_base)
        self._departments: dict[int, Department] = {}
        self.department_problem: RemoteError | None = None  # why names are missing

    def by_mobile(self, mobile: str) -> Person:
        try:
            result = self._old(
                "contact.getByMobile", "/topapi/v2/user/getbymobile", {"mobile": mobile}
            )
        except NotFoundError as err:
            raise NotFoundError(
                f"no active user with mobile {mobile} in this organisation",
                code=err.code,
                api=err.api,
            ) from None
        return self.person(_text(result, "userid"))

    def by_name(self, name: str) -> tuple[list[Person], int]:
        """Up to SEARCH_LIMIT people whose name (or pinyin, or English name) matches, and
        how many match in all."""
        body = {"queryWord": name, "offset": 0, "size": SEARCH_LIMIT}
        try:
            data = self.t.call(
                "contact.searchUsers", "POST", "/v1.0/contact/users/search", body=body
            )
        except RemoteError as err:
            if err.code == _PERMISSION_DENIED:
                raise _missing("contact.searchUsers", err.message, err.code) from None
            raise
        ids = [str(u) for u in (data.get("list") or []) if isinstance(u, str | int)]
        total = data.get("totalCount")
        count = total if isinstance(total, int) and total >= len(ids) else len(ids)
        return [self.person(u) for u in ids[:SEARCH_LIMIT]], count

    def by_union_id(self, union_id: str) -> Person:
        """The person behind `union_id`; `NotFoundError` when the organisation has none."""
        try:
            result = self._old(
                "contact.getByUnionId", "/topapi/user/getbyunionid", {"unionid": union_id}
            )
        except NotFoundError as err:
            raise NotFoundError(
                f"no user with unionId {union_id} in this organisation", code=err.code, api=err.api
            ) from None
        return self.person(_text(result, "userid"))

    def person(self, userid: str) -> Person:
        result = self._old("contact.getUser", "/topapi/v2/user/get", {"userid": userid})
        depts = result.get("dept_id_list")
        ids = (
            [d for d in depts if isinstance(d, int) and not isinstance(d, bool)]
            if isinstance(depts, list)
            else []
        )
        return Person(
            userid=_text(result, "userid") or userid,
            union_id=_text(result, "unionid"),
            name=_text(result, "name"),
            title=_text(result, "title"),
            departments=tuple(self.department(d) for d in ids),
        )

    def department(self, dept_id: int) -> Department:
        """A department's name; without the permission (or the department) only its id,
        and `department_problem` says why."""
        known = self._departments.get(dept_id)
        if known is not None:
            return known
        try:
            result = self._old(
                "contact.getDepartment", "/topapi/v2/department/get", {"dept_id": dept_id}
            )
            found = Department(dept_id, _text(result, "name"))
        except PermanentError as err:
            self.department_problem = err
            found = Department(dept_id, "")
        self._departments[dept_id] = found
        return found

    def _old(self, api: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """An old-style call's `result`; its errcode as a typed error."""
        token = self.t.token()
        for again in (False, True):
            data = self.t.call(
                api,
                "POST",
                path,
                params={"access_token": token},
                body=body,
                auth=False,
                base=self.base,
            )
            code, message = _errcode(data.get("errcode", 0)), str(data.get("errmsg") or "")
            if code == 0:
                result = data.get("result")
                return result if isinstance(result, dict) else {}
            if code in _BAD_TOKEN and not again:
                token = self.t.token(force=True, stale=token)
                continue
            raise _old_error(api, code, message)
        raise AssertionError("unreachable")  # pragma: no cover


def _errcode(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return -1  # an answer that is not understood: as if busy


def _old_error(api: str, code: int, message: str) -> RemoteError:
    text = str(code)
    if code in _NOT_FOUND:
        return NotFoundError(message or "not found", code=text, api=api)
    if code in _NO_PERMISSION or "权限" in message:
        return _missing(api, message, text)
    if code in _BAD_TOKEN:
        return CredentialsError(
            f"a freshly issued access token was rejected ({message})", code=text, api=api
        )
    if code in _BUSY:
        return TransientError(message or "DingTalk is busy", code=text, api=api)
    return PermanentError(message or "refused", code=text, api=api)


def _missing(api: str, message: str, code: str) -> PermissionMissingError:
    permission = PERMISSIONS[api]
    return PermissionMissingError(
        f"the app lacks the permission {permission} (grant it in the developer console: the "
        f"app's 权限管理 / Permissions; DingTalk said: {message})",
        permission=permission,
        code=code,
        api=api,
    )


def _text(result: dict[str, Any], key: str) -> str:
    value = result.get(key)
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
