"""The :class:`Emulator`: lifecycle of the API and OSS servers, tokens, faults and stats,
the monthly quota (§15.1), tenant variants (§15.3) and the address book (§15.2).

Inspection (``files()``, ``folders()``, ``tree()``…) comes from :class:`Inspection`; the
test-side colleague operations (``put_file()``, ``edit()``, ``move()``…) from
:class:`Colleague`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from syncd.emulator import contacts
from syncd.emulator.api import ApiHandler
from syncd.emulator.colleague import Colleague
from syncd.emulator.common import Stats, TrackingServer
from syncd.emulator.faults import FaultInjector, Latency, QpsLimiter
from syncd.emulator.inspection import Inspection
from syncd.emulator.names import random_id
from syncd.emulator.oss import ObjectStore, OssHandler, StoredObject
from syncd.emulator.quota import Meter
from syncd.emulator.routes_common import ROLES
from syncd.emulator.tree import Tree, Workspace
from syncd.emulator.variants import Variants

PERSONAL_NAME = "我的文档"
ORG_NAME = "Emulator Org"
VariantSpec = str | tuple[str, str | None]


def _check_options(
    union_ids: tuple[str, ...],
    expiration_seconds: int,
    token_ttl: int,
    qps: int | None,
    roles: dict[str, str],
    default_role: str,
    org_name: str,
) -> None:
    if not union_ids:
        raise ValueError("union_ids must name at least one operator")
    if expiration_seconds <= 0 or token_ttl <= 0:
        raise ValueError("expiration_seconds and token_ttl must be positive")
    if qps is not None and qps <= 0:
        raise ValueError(f"qps must be a positive number or None, got {qps}")
    if not org_name:
        raise ValueError("org_name must not be empty")
    bad = {r for r in (*roles.values(), default_role) if r not in ROLES}
    if bad:
        raise ValueError(f"unknown role(s) {sorted(bad)}; expected one of {ROLES}")


class Emulator(Inspection, Colleague):
    """A local stand-in for api.dingtalk.com and its OSS endpoint (``dingtalk-api.md``).

    State lives in memory. ``start()`` binds both servers (port 0 = OS-assigned) and serves
    them from daemon threads; ``stop()`` closes every connection and joins every thread.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        oss_port: int = 0,
        app_key: str = "emulator-app-key",
        app_secret: str = "emulator-app-secret",
        union_ids: Iterable[str] = ("emulator-union-id",),
        folders: Iterable[str] | None = None,
        expiration_seconds: int = 900,
        token_ttl: int = 7200,
        qps: int | None = None,
        store_content: bool = False,
        seed: int = 0,
        app_id: str = "1000001",
        workspace_names: Mapping[str, str] | None = None,
        roles: Mapping[str, str] | None = None,
        default_role: str = "EDITOR",
        latency: float = 0.0,
        monthly_quota: int | None = None,
        variants: Iterable[VariantSpec] = (),
        users: Iterable[Mapping[str, Any]] | None = None,
        org_name: str = ORG_NAME,
    ) -> None:
        """``folders`` and the keys of ``workspace_names`` (root uuid -> knowledge-base name,
        default "Knowledge base N") become the root folders, one workspace each; ``roles``
        maps an operator's unionId to its role in them (default ``default_role``);
        ``app_id`` is the app whose token callers use; ``latency`` is added to every API
        call and OSS PUT (seconds, half before processing and half before the answer).

        ``monthly_quota``: metered calls a month (None = unlimited, §15.1); ``variants``:
        tenant variants to turn on, each a name (every space) or ``(name, root_uuid)``
        (§15.3, :mod:`syncd.emulator.variants`); ``users``: the address book, dicts of
        ``userid``, ``unionid``, ``name``, ``mobile``, ``dept_id_list`` and optional
        ``title`` (default: one user per ``union_ids`` entry, ``user-1`` "Emulator
        Operator" 13800000000…, §15.2); ``org_name`` names the root department 1."""
        self.host, self.port, self.oss_port = host, port, oss_port
        self.app_key, self.app_secret, self.app_id = app_key, app_secret, str(app_id)
        self.union_ids = tuple(union_ids)
        self.roles = dict(roles or {})
        self.default_role = default_role
        _check_options(
            self.union_ids, expiration_seconds, token_ttl, qps, self.roles, default_role, org_name
        )
        self.expiration_seconds = expiration_seconds
        self.token_ttl = token_ttl
        self.store_content = store_content
        self.corp_id = "ding" + secrets.token_hex(8)
        self.oss_access_key_id = "LTAI" + random_id(12)
        self.oss_access_key_secret = random_id(30)
        self.dentries = Tree()
        self.objects = ObjectStore()
        self.faults = FaultInjector(seed)
        self.qps_limiter = QpsLimiter(qps)
        self.latency = Latency(latency)
        self.counters = Stats()
        self.meter = Meter(monthly_quota)
        self.variants = Variants()
        made = [contacts.make_user(u) for u in users] if users is not None else None
        self.directory = contacts.Directory(
            org_name, contacts.default_users(self.union_ids) if made is None else made
        )
        self.revoked_permissions: set[str] = set()  # contact permissions the app lacks
        self.stopping = threading.Event()
        self._token: str | None = None
        self._token_expiry = 0.0
        self._token_lock = threading.Lock()
        self._servers: list[tuple[TrackingServer, threading.Thread]] = []
        self._oss_url: str | None = None
        self.root_uuids: list[str] = self._make_roots(folders, workspace_names or {})
        self.intranet_first = False  # upload info lists an unreachable intranet URL first
        self.unreachable_urls = 0  # this many unreachable URLs before the real one
        # called with the object path and the object once a PUT's body is in, before it is
        # answered: the local writer that keeps writing while its upload is on the wire
        self.on_put: Callable[[str, StoredObject], None] | None = None
        for spec in variants:
            name, root = (spec, None) if isinstance(spec, str) else spec
            self.set_variant(name, True, root)

    def _make_roots(self, folders: Iterable[str] | None, names: Mapping[str, str]) -> list[str]:
        wanted: list[str | None] = list(folders or [])
        wanted += [uuid for uuid in names if uuid not in wanted]
        with self.dentries.lock:
            roots = [
                self.dentries.add_root(uuid, self.union_ids[0], names.get(uuid or "", ""))
                for uuid in wanted or [None]
            ]
            for n, ws in enumerate(roots, 1):
                ws.name = ws.name or f"Knowledge base {n}"
        return [ws.root.uuid for ws in roots]

    # -- workspaces and roles ----------------------------------------------------------------

    def role(self, operator: str, workspace: Workspace) -> str:
        """``operator``'s permissionRole in ``workspace`` (§8.2)."""
        if workspace.type == "PERSONAL":
            return "OWNER" if workspace.owner == operator else "NONE"
        return self.roles.get(operator, self.default_role)

    def personal_workspace(self, operator: str) -> Workspace:
        """``operator``'s PERSONAL workspace, made on first use (caller holds Tree.lock)."""
        ws = self.dentries.personal.get(operator)
        if ws is None or ws.root.uuid not in self.dentries.by_uuid:
            ws = self.dentries.add_root(None, operator, PERSONAL_NAME, "PERSONAL", operator)
        return ws

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and serve both servers in daemon threads."""
        if self._servers:
            raise RuntimeError("emulator already started")
        self.stopping.clear()
        try:
            for port, handler in ((self.port, ApiHandler), (self.oss_port, OssHandler)):
                server = TrackingServer((self.host, port), handler, self)
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.02},  # stop() waits up to this long
                    name=f"syncd-emulator-{handler.__name__}",
                    daemon=True,
                )
                self._servers.append((server, thread))
                thread.start()
        except BaseException:
            self.stop()
            raise
        self._oss_url = self._url(self._servers[1][0])
        return self

    def stop(self) -> None:
        """Shut down both servers, end every connection and join every thread."""
        self.stopping.set()
        servers, self._servers = self._servers, []
        # Both at once: each shutdown() waits out its server's poll interval.
        stoppers = [
            threading.Thread(target=server.shutdown, name="syncd-emulator-stop", daemon=True)
            for server, thread in servers
            if thread.is_alive()
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server, thread in servers:
            server.server_close()
            server.close_connections()
            thread.join()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _url(self, server: TrackingServer) -> str:
        host = self.host if self.host not in ("", "0.0.0.0") else "127.0.0.1"
        return f"http://{host}:{server.server_port}"

    @property
    def base_url(self) -> str:
        """The ``api_base`` for a client, e.g. ``http://127.0.0.1:41234``."""
        if not self._servers:
            raise RuntimeError("emulator not started")
        return self._url(self._servers[0][0])

    @property
    def oss_url(self) -> str:
        if self._oss_url is None:
            raise RuntimeError("emulator not started")
        return self._oss_url

    # -- tokens ------------------------------------------------------------------------------

    def issue_token(self) -> str:
        """The app's token: the same one (extended) while valid, else a new one."""
        with self._token_lock:
            now = time.monotonic()
            if self._token is None or now >= self._token_expiry:
                self._token = secrets.token_hex(16)
            self._token_expiry = now + self.token_ttl
            return self._token

    def token_valid(self, token: str) -> bool:
        with self._token_lock:
            return token == self._token and time.monotonic() < self._token_expiry

    def expire_tokens(self) -> None:
        """Invalidate every issued token (the next call answers InvalidAuthentication)."""
        with self._token_lock:
            self._token = None

    # -- faults and stats --------------------------------------------------------------------

    def set_fault(
        self,
        endpoint: str,
        kind: str,
        rate: float = 1.0,
        count: int | None = None,
        delay: float = 2.0,
        status: int | None = None,
    ) -> None:
        """Inject ``kind`` on ``endpoint`` (or ``"*"``) with probability ``rate``, at most
        ``count`` times; ``delay`` is for ``slow``, ``status`` the HTTP status of ``ban`` and
        ``banhtml`` (default 403) or ``5xx`` (default 500 and 503 in turn). Kinds: see
        :mod:`syncd.emulator.faults`."""
        self.faults.set(endpoint, kind, rate, count, delay, status)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_latency(self, seconds: float) -> None:
        """Added latency per API call and OSS PUT from now on (0 = none)."""
        self.latency.set(seconds)

    def stats(self) -> dict[str, Any]:
        """Request counts per endpoint, total, throttled, faults, status codes and latency
        (``{"waits", "seconds", "peak"}``: half-waits done, time spent, most at once).

        While a monthly quota is set, also ``"metered"``: ``{"total", "by_endpoint",
        "quota", "refused"}`` of the month (refused = answers with the quota's code); without
        one the stats keep their shape of before the quota existed."""
        out = {**self.counters.snapshot(), "latency": self.latency.snapshot()}
        metered = self.meter.snapshot()
        if metered["quota"] is not None:
            out["metered"] = metered
        return out

    def calls(self, endpoint: str) -> int:
        """How many requests ``endpoint`` has received since the last ``reset_stats()``."""
        requests: dict[str, int] = self.counters.snapshot()["requests"]
        return requests.get(endpoint, 0)

    def reset_stats(self) -> None:
        """Clear the request counters and latency figures. The month's metered calls are
        kept: a month is not a test's stats window (:meth:`reset_month` starts a new one)."""
        self.counters.reset()
        self.latency.reset()

    # -- the monthly quota (§15.1) -------------------------------------------------------------

    def set_monthly_quota(self, quota: int | None) -> None:
        """Metered calls allowed this month from now on (None = unlimited); the month's
        count is kept, so a quota below it refuses the next metered call."""
        self.meter.set_quota(quota)

    def reset_month(self) -> None:
        """A new month: the metered count (and the refusals) back to 0."""
        self.meter.reset_month()

    def metered(self) -> int:
        """Metered calls this month (refused, throttled and exempt calls not included)."""
        return self.meter.total()

    def metered_calls(self, endpoint: str) -> int:
        """Metered calls of ``endpoint`` this month."""
        return self.meter.calls(endpoint)

    # -- tenant variants (§15.3) and the address book (§15.2) ----------------------------------

    def set_variant(self, name: str, on: bool = True, root_uuid: str | None = None) -> None:
        """Turn tenant variant ``name`` on or off in every space (``root_uuid`` None) or in
        the space whose root folder is ``root_uuid``; ValueError for an unknown name or a
        uuid that is no root folder. Names: :data:`syncd.emulator.variants.VARIANTS`."""
        if root_uuid is not None:
            with self.dentries.lock:
                roots = {ws.root.uuid for ws in self.dentries.spaces.values()}
            if root_uuid not in roots:
                raise ValueError(f"no space has the root folder {root_uuid!r}")
        self.variants.set(name, on, root_uuid)

    def variant(self, name: str, root_uuid: str | None) -> bool:
        """Is variant ``name`` on in the space of root folder ``root_uuid``?"""
        return self.variants.active(name, root_uuid)

    def add_user(
        self,
        mobile: str,
        name: str,
        unionid: str,
        userid: str | None = None,
        dept_id_list: Iterable[int] = (contacts.ROOT_DEPT,),
        title: str = "",
    ) -> str:
        """Add a user to the address book (userid default ``user-N``); returns its userid.
        ValueError if the userid, unionid or mobile is taken. The user is not made an
        operator: ``union_ids`` says who may operate storage."""
        raw = {
            "userid": userid or self.directory.next_userid(),
            "unionid": unionid,
            "name": name,
            "mobile": mobile,
            "dept_id_list": list(dept_id_list),
            "title": title,
        }
        user = contacts.make_user(raw)
        self.directory.add(user)
        return user.userid

    def revoke_permission(self, permission: str, revoked: bool = True) -> None:
        """Take a contact permission from the app (``revoked=False`` gives it back); its
        calls then answer as DingTalk does for an app without it. ValueError for a name
        that is not one of :data:`syncd.emulator.contacts.PERMISSIONS`."""
        if permission not in contacts.PERMISSIONS:
            raise ValueError(
                f"unknown permission {permission!r}; expected one of {contacts.PERMISSIONS}"
            )
        if revoked:
            self.revoked_permissions.add(permission)
        else:
            self.revoked_permissions.discard(permission)

    def __repr__(self) -> str:
        state = self.base_url if self._servers else "stopped"
        return f"<Emulator {state} roots={self.root_uuids}>"
