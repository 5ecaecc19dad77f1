"""`syncd check` online: are the credentials accepted, and can each mapping be used?

Gets a token, resolves each mapping's `parent_dentry_uuid` (queryDentryId, needed for
subfolders) and asks for upload info (needs upload permission; the key is never used, so
nothing is written remotely). Reports each mapping with the remote's code and message.
"""

from __future__ import annotations

from syncd.core.errors import CredentialsError, RemoteError
from syncd.core.settings import Config
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
        failures = 0
        for i, m in enumerate(config.mappings):
            where = f"mappings[{i}] ({m.local} -> {m.parent_dentry_uuid})"
            try:
                storage.query_dentry_id(m.parent_dentry_uuid)
                storage.upload_info(m.parent_dentry_uuid, CHECK_NAME, 0)
            except RemoteError as exc:
                failures += 1
                print(f"{where}: FAILED: {exc.api} {exc.code}: {exc.message}{_hint(exc.code)}")
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


def _hint(code: str) -> str:
    hints = {
        "permissionDenied": " (give dingtalk.union_id edit rights on the folder)",
        "documentNotExist": " (check parent_dentry_uuid; a knowledge base's root is its "
        "rootNodeId)",
        "paramError.parentDentryUuid": " (check parent_dentry_uuid)",
        "Forbidden.AccessDenied.AccessTokenPermissionDenied": (
            " (grant the app the permission named above)"
        ),
    }
    return hints.get(code, "")
