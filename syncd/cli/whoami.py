"""`syncd whoami`: find the operator's unionId without hand-made API calls.

`--mobile N` (the user's mobile number) or `--name TEXT` (name, pinyin or English name)
finds a user in the organisation's address book; without either, the configured
`dingtalk.union_id` is resolved to a person. Each user is printed with name, title and
departments, and the `union_id: …` line to paste into the config. The calls are exempt
from the monthly quota. `--json` for scripts (names exact; the text escapes what a
terminal would obey).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from syncd.core.errors import CredentialsError, NotFoundError, PermissionMissingError, RemoteError
from syncd.core.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from syncd.core.text import terminal_safe
from syncd.remote.contacts import SEARCH_LIMIT, ContactsApi, Person
from syncd.remote.transport import Transport


def as_dict(p: Person) -> dict[str, Any]:
    return {
        "name": p.name,
        "title": p.title,
        "userid": p.userid,
        "union_id": p.union_id,
        "departments": [{"id": d.id, "name": d.name} for d in p.departments],
    }


def _lines(p: Person) -> list[str]:
    title = f" ({p.title})" if p.title else ""
    depts = ", ".join(d.name or f"department {d.id}" for d in p.departments) or "-"
    return [
        f"name: {p.name}{title}",
        f"departments: {depts}",
        f"userid: {p.userid}",
        f"union_id: {p.union_id}",
    ]


def show(client: Transport, *, mobile: str | None, name: str | None, as_json: bool) -> int:
    api = ContactsApi(client)
    configured = mobile is None and name is None
    try:
        if mobile is not None:
            people, total = [api.by_mobile(mobile)], 1
        elif name is not None:
            people, total = api.by_name(name)
        else:
            people, total = [api.by_union_id(client.settings.union_id)], 1
    except CredentialsError:
        raise  # exit 3 with the usual message
    except NotFoundError as exc:
        where = "dingtalk.union_id: " if configured else ""
        hint = " (find the right one with `syncd whoami --mobile N`)" if configured else ""
        _error(f"{where}{exc.message}{hint}")
        return EXIT_CONFIG if configured else EXIT_FAILED
    except PermissionMissingError as exc:
        _error(exc.message)
        return EXIT_FAILED
    except RemoteError as exc:
        _error(f"{exc.api} {exc.code}: {exc.message}")
        return EXIT_FAILED
    if as_json:
        print(json.dumps([as_dict(p) for p in people], ensure_ascii=False, indent=2))
        return EXIT_OK if people else EXIT_FAILED
    if not people:
        _error(f"no user whose name matches {name!r} in this organisation")
        return EXIT_FAILED
    blocks = ["\n".join(terminal_safe(line) for line in _lines(p)) for p in people]
    print("\n\n".join(blocks))
    if total > len(people):
        print(f"\n{total} users match; the first {SEARCH_LIMIT} are shown: give more of the name")
    if isinstance(api.department_problem, PermissionMissingError):
        print(terminal_safe(f"\nnote: no department names: {api.department_problem.message}"))
    if configured:
        print("\ndingtalk.union_id is this user's.")
    else:
        print("\nPaste the union_id line into the config's dingtalk section.")
    return EXIT_OK


def _error(text: str) -> None:
    print(f"syncd whoami: {terminal_safe(text)}", file=sys.stderr)
