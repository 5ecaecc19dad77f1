"""Contact (address-book) calls (§15.2): from a mobile, a name or a unionId to the operator.

Four old-style calls (``access_token`` query parameter, errcode answers, :mod:`oapi`) and the
new-style user search (token header, §9.1 envelope). None is metered (§15.1). Old-style
bodies may be JSON or form-encoded (the docs' curl samples send forms).

- ``POST /topapi/v2/user/getbymobile`` ``{mobile}`` -> ``result.userid``; unknown 60121
  (``DOC:0063``).
- ``POST /topapi/v2/user/get`` ``{userid, language?}`` -> ``result`` with ``userid``,
  ``unionid``, ``name``, ``mobile``, ``title``, ``dept_id_list``, ``active``; unknown 33012
  (``DOC:0056``; the mobile is shown as to an app with the phone-number permission, and
  every user is active, inferred).
- ``POST /topapi/user/getbyunionid`` ``{unionid}`` -> ``result`` ``{contact_type: 0,
  userid}``; unknown 60121 (``DOC:0064``).
- ``POST /topapi/v2/department/get`` ``{dept_id, language?}`` -> ``result`` ``{dept_id,
  name[, parent_id]}``; unknown 60003 (``DOC:0081``; the root has no ``parent_id``, inferred).
- ``POST /v1.0/contact/users/search`` ``{queryWord, offset, size, fullMatchField?}`` ->
  ``{hasMore, totalCount, list}`` of userids; bad parameters 400 ``parameter.error`` 参数错误
  (``DOC:0060``). Inferred: ``offset`` counts entries (the doc calls it 分页页码), ``size`` is
  1..100, names match case-insensitively, ``fullMatchField: 1`` asks for the exact name.

A permission the app lacks (``Emulator.revoke_permission``): the old-style calls answer
errcode 60011 "应用尚未开通所需的权限: [NAME]…" (inferred from third-party reports), the
search 403 ``Forbidden.AccessDenied.AccessTokenPermissionDenied`` (§9.1).
"""

from __future__ import annotations

from typing import Any

from syncd.emulator import oapi
from syncd.emulator.common import ApiError
from syncd.emulator.contacts import User
from syncd.emulator.oapi import OapiError
from syncd.emulator.routes_common import Call

MAX_SEARCH = 100
LANGUAGES = ("zh_CN", "en_US")


NO_PERMISSION = 60011
# the real messages, full-width punctuation included
_LACKS = "应用尚未开通所需的权限：[{}]，点击链接申请并开通即可："  # noqa: RUF001
_DENIED = "没有调用该接口的权限，接口权限申请参考："  # noqa: RUF001


def _permitted(call: Call, permission: str) -> None:
    if permission in call.emu.revoked_permissions:
        raise OapiError(
            NO_PERMISSION,
            _LACKS.format(permission) + "https://open-dev.dingtalk.com/appscope/apply",
        )


def _field(call: Call, key: str) -> str:
    """A required non-empty string (or number) of an old-style body, else 400002."""
    value = call.body.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise OapiError(oapi.INVALID_PARAM)
    return value.strip()


def _language(call: Call) -> None:
    language = call.body.get("language")
    if language is not None and language not in LANGUAGES:
        raise OapiError(oapi.INVALID_PARAM)


def get_by_mobile(call: Call) -> Any:
    _permitted(call, "qyapi_get_member_by_mobile")
    user = call.emu.directory.by_mobile(_field(call, "mobile"))
    if user is None:
        raise OapiError(oapi.NOT_FOUND, "未找到该用户")
    return oapi.ok({"userid": user.userid})


def _user_json(user: User) -> dict[str, Any]:
    return {
        "userid": user.userid,
        "unionid": user.unionid,
        "name": user.name,
        "mobile": user.mobile,
        "title": user.title,
        "dept_id_list": list(user.dept_id_list),
        "active": True,
    }


def get_user(call: Call) -> Any:
    _permitted(call, "qyapi_get_member")
    userid = _field(call, "userid")
    _language(call)
    user = call.emu.directory.by_userid(userid)
    if user is None:
        raise OapiError(oapi.INVALID_USERID, "无效的userId")
    return oapi.ok(_user_json(user))


def get_by_union_id(call: Call) -> Any:
    _permitted(call, "qyapi_get_member")
    user = call.emu.directory.by_unionid(_field(call, "unionid"))
    if user is None:
        raise OapiError(oapi.NOT_FOUND, "未找到对应员工")
    return oapi.ok({"contact_type": 0, "userid": user.userid})


def get_department(call: Call) -> Any:
    _permitted(call, "qyapi_get_department_list")
    raw = _field(call, "dept_id")
    _language(call)
    if not raw.isdigit():
        raise OapiError(oapi.INVALID_PARAM)
    dept = call.emu.directory.department(int(raw))
    if dept is None:
        raise OapiError(oapi.NO_DEPARTMENT, "未找到对应部门")
    return oapi.ok(dept)


def _search_int(call: Call, key: str, low: int, high: int | None, required: bool = True) -> int:
    value = call.body.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "parameter.error", f"参数错误: {key}")
    if value < low or (high is not None and value > high):
        raise ApiError(400, "parameter.error", f"参数错误: {key}")
    return value


def search_users(call: Call) -> Any:
    if "qyapi_addresslist_search" in call.emu.revoked_permissions:
        raise ApiError(
            403,
            "Forbidden.AccessDenied.AccessTokenPermissionDenied",
            _DENIED + "https://open.dingtalk.com/document/orgapp/add-api-permission "
            "(requiredScopes: qyapi_addresslist_search)",
        )
    word = call.body.get("queryWord")
    if not isinstance(word, str) or not word.strip():
        raise ApiError(400, "parameter.error", "参数错误: queryWord")
    offset = _search_int(call, "offset", 0, None)
    size = _search_int(call, "size", 1, MAX_SEARCH)
    exact = _search_int(call, "fullMatchField", 0, None, required=False) == 1
    found = call.emu.directory.search(word.strip(), exact)
    chunk = found[offset : offset + size]
    return {"hasMore": offset + size < len(found), "totalCount": len(found), "list": chunk}
