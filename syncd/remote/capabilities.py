"""What each remote space was found to do, remembered in the state store.

`syncd check --probe` writes its answers here (source `probe`); where nothing was probed,
the remote side notes the same facts from what normal traffic shows (source `traffic`), as
it already learns whether an upload host sends MD5 ETags. A traffic answer never replaces a
probed one (the next probe refreshes those). Each newly learnt answer is logged once
(`capability.learned`). Unknown (None) means: assume the documented behaviour, and have the
fallback ready when the call says otherwise.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import structlog

from syncd.core.capabilities import Capability, Source
from syncd.core.errors import StateError

log = structlog.get_logger(__name__)

APP_ID_KEY = "app_id"  # meta key: this app's id, under which our stamp is shown


class CapabilityStore(Protocol):
    def set_capability(self, space_id: str, name: str, value: bool | None, source: str) -> None: ...
    def capabilities(self, space_id: str) -> dict[str, tuple[bool | None, str]]: ...
    def set_meta(self, key: str, value: Any) -> None: ...
    def meta(self, key: str) -> Any: ...


class Capabilities:
    """Thread-safe `space -> capability -> (value, source)`, backed by a store (or not)."""

    def __init__(self, store: CapabilityStore | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._spaces: dict[str, dict[str, tuple[bool | None, str]]] = {}
        self._app_id = ""

    def _space(self, space_id: str) -> dict[str, tuple[bool | None, str]]:
        """The cached answers of `space_id` (read from the store once); under the lock."""
        found = self._spaces.get(space_id)
        if found is None:
            found = {}
            if self._store is not None:
                try:
                    found = dict(self._store.capabilities(space_id))
                except StateError:
                    found = {}
            self._spaces[space_id] = found
        return found

    def known(self, space_id: str, cap: Capability) -> bool | None:
        """What `space_id` was found to do about `cap` (None: not known)."""
        with self._lock:
            return self._space(space_id).get(cap.value, (None, ""))[0]

    def all(self, space_id: str) -> dict[Capability, tuple[bool | None, str]]:
        with self._lock:
            space = self._space(space_id)
            return {c: space[c.value] for c in Capability if c.value in space}

    def learn(
        self, space_id: str, cap: Capability, value: bool | None, source: Source = Source.TRAFFIC
    ) -> bool:
        """Note an answer; True when it is news (logged once, and stored)."""
        if not space_id:
            return False
        with self._lock:
            space = self._space(space_id)
            old = space.get(cap.value)
            if (
                source is Source.TRAFFIC
                and old is not None
                and (old[1] == Source.PROBE.value or old[0] == value)
            ):
                return False
            space[cap.value] = (value, source.value)
        if source is Source.TRAFFIC:  # news when a space lacks something; else a detail
            say = log.info if value is False else log.debug
            say("capability.learned", space_id=space_id, capability=cap.value, value=value)
        self._write(lambda s: s.set_capability(space_id, cap.value, value, source.value))
        return old is None or old[0] != value

    # -- this app's id (the key of our app properties, §15.3.5) --------------------------
    def app_id(self) -> str:
        with self._lock:
            if not self._app_id and self._store is not None:
                try:
                    self._app_id = str(self._store.meta(APP_ID_KEY) or "")
                except StateError:
                    pass
            return self._app_id

    def note_app_id(self, app_id: str) -> None:
        """Remember this app's id once seen, so that a later run can read our stamp with
        get-dentry before its first commit (listings may not carry it)."""
        if not app_id or app_id == self.app_id():
            return
        with self._lock:
            self._app_id = app_id
        self._write(lambda s: s.set_meta(APP_ID_KEY, app_id))

    def _write(self, fn: Any) -> None:
        if self._store is None:
            return
        try:
            fn(self._store)
        except StateError as exc:  # a lost note is learnt again; the upload path reports
            log.debug("capability.not_stored", error=str(exc))
