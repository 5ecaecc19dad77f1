"""Who syncd is, remotely: the modifier ids its own commits carry. A remote file is taken
for syncd's own (adopted) only when its last modifier is one of them: the configured
`dingtalk.union_id` and the ids the remote answered our own commits with (a tenant may
report another id form than the one configured). Learned ids are kept in the state store,
so a new process knows them too."""

from __future__ import annotations

import threading

from syncd.execute.context import Context

META_KEY = "identity.modifiers"


class OwnIds:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._learned: set[str] | None = None

    def _known(self) -> set[str]:
        if self._learned is None:
            try:
                stored = self.ctx.state.meta(META_KEY)
            except Exception:  # noqa: BLE001 - an unreadable store knows no learned id
                stored = None
            self._learned = {str(x) for x in stored} if isinstance(stored, list) else set()
        return self._learned

    def ids(self) -> frozenset[str]:
        with self._lock:
            return frozenset({self.ctx.config.dingtalk.union_id, *self._known()})

    def learn(self, modifier: str) -> None:
        """Our commit was answered with `modifier` as the file's last modifier."""
        if not modifier:
            return
        with self._lock:
            known = self._known()
            if modifier in known or modifier == self.ctx.config.dingtalk.union_id:
                return
            known.add(modifier)
            snapshot = sorted(known)
        self.ctx.write("identity", lambda: self.ctx.state.set_meta(META_KEY, snapshot))
