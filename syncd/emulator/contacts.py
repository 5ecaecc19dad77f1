"""The address book (§15.2): users and departments, for finding the operator's unionId.

A user has ``userid``, ``unionid``, ``name``, ``mobile``, ``dept_id_list`` and ``title``
(``DOC:0056``). The root department is 1 (``DOC:0081``: "根部门ID为1") and is named after
the org. Inferred: every other department id a user belongs to exists, named
"Department N", with parent 1; the directory is independent of ``Emulator.union_ids`` (who
may operate storage), so a test can find a user who has no rights.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ROOT_DEPT = 1
DEFAULT_NAME = "Emulator Operator"
# the app permissions the contact calls need (§15.2; departments: inferred), all granted
# unless a test revokes one (``Emulator.revoke_permission``)
PERMISSIONS = (
    "qyapi_get_member_by_mobile",
    "qyapi_addresslist_search",
    "qyapi_get_member",
    "qyapi_get_department_list",
)
DEFAULT_MOBILE = 13800000000


@dataclass(frozen=True, slots=True)
class User:
    userid: str
    unionid: str
    name: str
    mobile: str
    dept_id_list: tuple[int, ...] = (ROOT_DEPT,)
    title: str = ""


def _text(raw: Mapping[str, Any], key: str, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"user {key} must be a non-empty string, got {value!r}")
    return value


def _depts(raw: Any) -> tuple[int, ...]:
    if raw is None:
        return (ROOT_DEPT,)
    depts = tuple(raw) if isinstance(raw, (list, tuple)) else None
    if not depts or not all(isinstance(d, int) and not isinstance(d, bool) for d in depts):
        raise ValueError(f"user dept_id_list must be a non-empty list of integers, got {raw!r}")
    return depts


def make_user(raw: Mapping[str, Any]) -> User:
    """A :class:`User` from ``{"userid","unionid","name","mobile","dept_id_list","title"?}``
    (``dept_id_list`` defaults to ``[1]``), or ValueError."""
    unknown = set(raw) - {"userid", "unionid", "name", "mobile", "dept_id_list", "title"}
    if unknown:
        raise ValueError(f"unknown user field(s) {sorted(unknown)}")
    return User(
        _text(raw, "userid"),
        _text(raw, "unionid"),
        _text(raw, "name"),
        _text(raw, "mobile"),
        _depts(raw.get("dept_id_list")),
        _text(raw, "title", required=False),
    )


def default_users(union_ids: Iterable[str]) -> list[User]:
    """One user per operator: ``user-1`` "Emulator Operator" 13800000000, ``user-2``
    "Emulator Operator 2" 13800000001…, all in the root department."""
    return [
        User(
            f"user-{n}",
            union,
            DEFAULT_NAME if n == 1 else f"{DEFAULT_NAME} {n}",
            str(DEFAULT_MOBILE + n - 1),
        )
        for n, union in enumerate(union_ids, 1)
    ]


class Directory:
    """Users by userid, unionid and mobile, in the order they were added; thread-safe."""

    def __init__(self, org_name: str, users: Iterable[User] = ()) -> None:
        self.org_name = org_name
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._by_union: dict[str, User] = {}
        self._by_mobile: dict[str, User] = {}
        for user in users:
            self.add(user)

    def add(self, user: User) -> None:
        """Add ``user``; ValueError if its userid, unionid or mobile is taken."""
        with self._lock:
            for key, index in (
                (user.userid, self._users),
                (user.unionid, self._by_union),
                (user.mobile, self._by_mobile),
            ):
                if key in index:
                    raise ValueError(f"a user with {key!r} exists already")
            self._users[user.userid] = user
            self._by_union[user.unionid] = user
            self._by_mobile[user.mobile] = user

    def next_userid(self) -> str:
        with self._lock:
            n = len(self._users) + 1
            while f"user-{n}" in self._users:
                n += 1
            return f"user-{n}"

    def users(self) -> list[User]:
        with self._lock:
            return list(self._users.values())

    def by_userid(self, userid: str) -> User | None:
        with self._lock:
            return self._users.get(userid)

    def by_unionid(self, unionid: str) -> User | None:
        with self._lock:
            return self._by_union.get(unionid)

    def by_mobile(self, mobile: str) -> User | None:
        with self._lock:
            return self._by_mobile.get(mobile)

    def department(self, dept_id: int) -> dict[str, Any] | None:
        """``{"dept_id", "name"}`` (+ ``parent_id`` below the root), or None."""
        if dept_id == ROOT_DEPT:
            return {"dept_id": ROOT_DEPT, "name": self.org_name}
        with self._lock:
            known = any(dept_id in u.dept_id_list for u in self._users.values())
        if not known:
            return None
        return {"dept_id": dept_id, "name": f"Department {dept_id}", "parent_id": ROOT_DEPT}

    def search(self, word: str, exact: bool) -> list[str]:
        """Userids whose name is ``word`` (exact) or contains it, case-insensitively."""
        folded = word.casefold()
        with self._lock:
            return [
                u.userid
                for u in self._users.values()
                if (u.name == word if exact else folded in u.name.casefold())
            ]
