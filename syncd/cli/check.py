"""`syncd check` online: are the credentials accepted, and can each mapping be used?

Gets a token, resolves `union_id` to a person (so an unknown unionId is told apart from one
without rights on a folder; the contact calls are exempt from the quota), resolves each
mapping's `parent_dentry_uuid` (queryDentryId, needed for subfolders) and asks for upload
info (needs upload permission; the key is never used, so nothing is written remotely).
Reports each mapping with the remote's code and message.
"""

from __future__ import annotations

from syncd.core.errors import CredentialsError, NotFoundError, RemoteError
from syncd.core.settings import Config
from syncd.core.text import terminal_safe as safe
from syncd.remote.contacts import ContactsApi
from syncd.remote.storage import StorageApi
from syncd.remote.transport import Transport

CHECK_NAME = "syncd-check.txt"


def check_remote(config: Config) -> int:
    client = Transport(config.dingtalk, max_attempts=3)
    storage = StorageApi(client)
    try:
        try:
            client.token()
        except CredentialsError as exc:
            print(f"dingtalk.app_key/app_secret: rejected by DingTalk ({exc.code}: {exc.message})")
            return 3
        except RemoteError as exc:
            print(
                f"dingtalk.api_base: cannot get an access token from "
                f"{config.dingtalk.api_base} ({exc})"
            )
            return 1
        print(f"credentials: OK (token from {config.dingtalk.api_base})")
        operator = _operator(client, config.dingtalk.union_id)
        if operator is None:
            return 3
        failures = 0
        for i, m in enumerate(config.mappings):
            where = f"mappings[{i}] ({m.local} -> {m.parent_dentry_uuid})"
            try:
                storage.query_dentry_id(m.parent_dentry_uuid)
                storage.upload_info(m.parent_dentry_uuid, CHECK_NAME, 0)
            except RemoteError as exc:
                failures += 1
                hint = _hint(exc.code, operator)
                print(safe(f"{where}: FAILED: {exc.api} {exc.code}: {exc.message}{hint}"))
                continue
            print(f"{where}: OK")
        if failures:
            return 3
        return 0 if _shared_limit_ok(config.dingtalk.rate_limit) else 1
    finally:
        client.close()


def _shared_limit_ok(rate_limit: str) -> bool:
    """Report whether the Redis of `dingtalk.rate_limit` answers (nothing when local)."""
    if rate_limit == "local":
        return True
    from syncd.remote.ratelimit_redis import describe, ping

    problem = ping(rate_limit)
    if problem is None:
        print(f"dingtalk.rate_limit: OK (calls/s shared through {describe(rate_limit)})")
        return True
    print(
        f"dingtalk.rate_limit: cannot reach {describe(rate_limit)} ({problem}); "
        "syncd would use this host's own limit until it answers"
    )
    return False


def _operator(client: Transport, union_id: str) -> str | None:
    """Who `union_id` is (for the hints), "" when that cannot be looked up, None when the
    organisation has no such user: then nothing else can work, and it is said first, so
    that an unknown unionId is not mistaken for one without rights on a folder."""
    try:
        person = ContactsApi(client).by_union_id(union_id)
    except NotFoundError as exc:
        print(
            safe(
                f"dingtalk.union_id: FAILED: {exc.message} (a unionId is per organisation; "
                "find the right one with `syncd whoami --mobile N` or `--name TEXT`)"
            )
        )
        return None
    except RemoteError as exc:  # no qyapi_get_member, or busy: the folders still tell
        print(safe(f"dingtalk.union_id: not looked up ({exc.message})"))
        return ""
    name = f"{person.name} ({person.userid})" if person.name else person.userid
    print(safe(f"dingtalk.union_id: OK ({name})"))
    return name


def _hint(code: str, operator: str = "") -> str:
    who = f"dingtalk.union_id ({operator})" if operator else "dingtalk.union_id"
    hints = {
        "permissionDenied": f" (the user is known: give {who} edit rights on the folder)",
        "documentNotExist": " (check parent_dentry_uuid; a knowledge base's root is its "
        "rootNodeId)",
        "paramError.parentDentryUuid": " (check parent_dentry_uuid)",
        "Forbidden.AccessDenied.AccessTokenPermissionDenied": (
            " (grant the app the permission named above)"
        ),
    }
    return hints.get(code, "")
