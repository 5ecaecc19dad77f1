"""The route table: every API path of the emulator, its endpoint name, auth and identity.

Handlers live in ``routes_upload`` (§2, §4, §6, §8.1, §8.3), ``routes_dentries`` (§8.4-§8.6,
§14), ``routes_wiki`` (§8.2) and ``routes_contacts`` (§15.2). The endpoint names are the
ones ``set_fault``, ``stats()`` and ``metered_calls()`` use. Every route is metered by the
monthly quota except the token call and the contact calls (§15.1).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from syncd.emulator import routes_contacts as contacts
from syncd.emulator import routes_dentries as dentries
from syncd.emulator import routes_upload as upload
from syncd.emulator import routes_wiki as wiki
from syncd.emulator.answers import MISSING_TOKEN, throttled
from syncd.emulator.routes_common import Handler

__all__ = ["HEADER", "MISSING_TOKEN", "NO_AUTH", "QUERY", "ROUTES", "Route", "throttled"]

NO_AUTH = "none"  # the token call itself
HEADER = "header"  # x-acs-dingtalk-access-token (§1), errors in the §9.1 envelope
QUERY = "query"  # ?access_token= of the old API (§2.2, §15.2), errcode answers


class Route(NamedTuple):
    """One API path: where it is, its endpoint name, who it is for and what it costs."""

    method: str
    pattern: re.Pattern[str]
    endpoint: str
    identity: str | None  # the operator's query parameter (unionId / operatorId), or None
    handler: Handler
    auth: str = HEADER
    metered: bool = True


_ID = r"([^/]+)"
_SPACE = rf"/v1\.0/storage/spaces/{_ID}/dentries"
_DENTRY = rf"{_SPACE}/{_ID}"


def _route(method: str, path: str, endpoint: str, identity: str | None, handler: Handler) -> Route:
    return Route(method, re.compile(path), endpoint, identity, handler)


def _contact(path: str, endpoint: str, handler: Handler, auth: str = QUERY) -> Route:
    return Route("POST", re.compile(path), endpoint, None, handler, auth, metered=False)


_TOKEN = _route("POST", r"/v1\.0/oauth2/accessToken", "token", None, upload.token)

ROUTES: list[Route] = [
    _TOKEN._replace(auth=NO_AUTH, metered=False),
    _route(
        "POST",
        rf"/v2\.0/storage/spaces/files/{_ID}/uploadInfos/query",
        "uploadInfo",
        "unionId",
        upload.upload_info,
    ),
    _route(
        "POST", rf"/v2\.0/storage/spaces/files/{_ID}/commit", "commit", "unionId", upload.commit
    ),
    _route(
        "GET",
        rf"/v2\.0/doc/dentries/{_ID}/queryDentryId",
        "queryDentryId",
        "operatorId",
        upload.query_dentry_id,
    ),
    _route("POST", rf"{_DENTRY}/folders", "addFolder", "unionId", upload.add_folder),
    _route("GET", _SPACE, "listDentries", "unionId", dentries.list_dentries),
    _route("POST", rf"{_DENTRY}/query", "getDentry", "unionId", dentries.get_dentry),
    _route("POST", rf"{_SPACE}/query", "batchGetDentries", "unionId", dentries.batch_get_dentries),
    _route("POST", rf"{_DENTRY}/rename", "rename", "unionId", dentries.rename),
    _route("POST", rf"{_DENTRY}/move", "move", "unionId", dentries.move),
    _route("DELETE", _DENTRY, "delete", "unionId", dentries.delete),
    _route("PUT", rf"{_DENTRY}/appProperties", "appProperties", "unionId", dentries.app_properties),
    _route("GET", rf"{_DENTRY}/versions", "versions", "unionId", dentries.versions),
    _route("GET", r"/v2\.0/wiki/workspaces", "workspaces", "operatorId", wiki.workspaces),
    _route("GET", rf"/v2\.0/wiki/workspaces/{_ID}", "workspace", "operatorId", wiki.workspace),
    _route(
        "GET", r"/v2\.0/wiki/mineWorkspaces", "mineWorkspaces", "operatorId", wiki.mine_workspace
    ),
    _route("GET", r"/v2\.0/wiki/nodes", "nodes", "operatorId", wiki.nodes),
    _route("GET", rf"/v2\.0/wiki/nodes/{_ID}", "node", "operatorId", wiki.node),
    _contact(r"/topapi/v2/user/getbymobile", "getByMobile", contacts.get_by_mobile),
    _contact(r"/topapi/v2/user/get", "getUser", contacts.get_user),
    _contact(r"/topapi/user/getbyunionid", "getByUnionId", contacts.get_by_union_id),
    _contact(r"/topapi/v2/department/get", "getDepartment", contacts.get_department),
    _contact(r"/v1\.0/contact/users/search", "searchUsers", contacts.search_users, HEADER),
]
