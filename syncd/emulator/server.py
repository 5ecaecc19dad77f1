"""The :class:`Emulator`: lifecycle of the API and OSS servers, tokens, and inspection."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any

from syncd.emulator.api import ApiHandler
from syncd.emulator.common import Stats, TrackingServer
from syncd.emulator.faults import FaultInjector, QpsLimiter
from syncd.emulator.oss import ObjectStore, OssHandler
from syncd.emulator.tree import FILE, FOLDER, Node, Tree, random_id


class Emulator:
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
    ) -> None:
        self.host, self.port, self.oss_port = host, port, oss_port
        self.app_key, self.app_secret = app_key, app_secret
        self.union_ids = tuple(union_ids)
        if not self.union_ids:
            raise ValueError("union_ids must name at least one operator")
        if expiration_seconds <= 0 or token_ttl <= 0:
            raise ValueError("expiration_seconds and token_ttl must be positive")
        if qps is not None and qps <= 0:
            raise ValueError(f"qps must be a positive number or None, got {qps}")
        self.expiration_seconds = expiration_seconds
        self.token_ttl = token_ttl
        self.store_content = store_content
        self.oss_access_key_id = "LTAI" + random_id(12)
        self.oss_access_key_secret = random_id(30)
        self.dentries = Tree()
        self.objects = ObjectStore()
        self.faults = FaultInjector(seed)
        self.qps_limiter = QpsLimiter(qps)
        self.counters = Stats()
        self.stopping = threading.Event()
        self._token: str | None = None
        self._token_expiry = 0.0
        self._token_lock = threading.Lock()
        self._servers: list[tuple[TrackingServer, threading.Thread]] = []
        self._oss_url: str | None = None
        wanted: list[str | None] = list(folders or []) or [None]
        with self.dentries.lock:
            roots = [self.dentries.add_root(u, self.union_ids[0]) for u in wanted]
        self.root_uuids: list[str] = [root.uuid for root in roots]

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
                    kwargs={"poll_interval": 0.05},
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
        for server, thread in servers:
            if thread.is_alive():
                server.shutdown()
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
    ) -> None:
        """Inject ``kind`` (5xx, throttle, reset, slow) on ``endpoint`` (or ``"*"``)."""
        self.faults.set(endpoint, kind, rate, count, delay)

    def clear_faults(self) -> None:
        self.faults.clear()

    def stats(self) -> dict[str, Any]:
        """Request counts per endpoint, total, throttled, faults and status codes."""
        return self.counters.snapshot()

    def reset_stats(self) -> None:
        self.counters.reset()

    # -- remote tree -------------------------------------------------------------------------

    def remove(self, uuid: str) -> None:
        """Delete a dentry and its subtree, as if someone deleted it remotely."""
        with self.dentries.lock:
            self.dentries.remove(uuid)

    def _folder(self, uuid: str | None) -> Node:
        node = self.dentries.by_uuid.get(uuid or self.root_uuids[0])
        if node is None or node.type != FOLDER:
            raise KeyError(f"no such folder: {uuid or self.root_uuids[0]}")
        return node

    def files(self, root_uuid: str | None = None) -> dict[str, dict[str, Any]]:
        """Every file under a root (default: the first), keyed by its "/"-separated path."""
        with self.dentries.lock:
            return {
                rel: {
                    "size": n.size,
                    "version": n.version,
                    "sha256": n.sha256,
                    "md5": n.md5,
                    "uuid": n.uuid,
                    "id": n.id,
                }
                for rel, n in self.dentries.walk(self._folder(root_uuid))
                if n.type == FILE
            }

    def folders(self, root_uuid: str | None = None) -> dict[str, dict[str, Any]]:
        """Every folder under a root (default: the first), keyed by its path."""
        with self.dentries.lock:
            return {
                rel: {"uuid": n.uuid, "id": n.id}
                for rel, n in self.dentries.walk(self._folder(root_uuid))
                if n.type == FOLDER
            }

    def content(self, uuid: str) -> bytes:
        """The bytes of file ``uuid`` (only with ``store_content=True``)."""
        if not self.store_content:
            raise RuntimeError("content is kept only with Emulator(store_content=True)")
        with self.dentries.lock:
            node = self.dentries.by_uuid.get(uuid)
            if node is None or node.type != FILE:
                raise KeyError(f"no such file: {uuid}")
            return node.content or b""

    def tree(self) -> dict[str, Any]:
        """Everything, nested: ``{"roots": [{name, type, uuid, id, path, children…}]}``."""
        with self.dentries.lock:
            roots = [r for r in self.dentries.spaces.values() if r.uuid in self.dentries.by_uuid]
            return {"roots": [self.dentries.tree_json(root) for root in roots]}

    def __repr__(self) -> str:
        state = self.base_url if self._servers else "stopped"
        return f"<Emulator {state} roots={self.root_uuids}>"
