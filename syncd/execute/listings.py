"""The `Listings` port over the remote, for the reconcile loop and the drift check: a
listing is asked for only while the mapping may use the remote at all."""

from __future__ import annotations

from syncd.core.errors import NotAskedError
from syncd.core.model import Dentry
from syncd.core.settings import Mapping
from syncd.execute.context import Context

LISTING_CALLS = 3  # a listing page and the upload it decides: a listing starts only then


class RemoteListings:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def listing(self, m: Mapping, folder: str) -> dict[str, Dentry] | None:
        if self.ctx.blocked_reason(m) is not None:
            raise NotAskedError("the mapping may not use the remote now", api="listing")
        if not self.ctx.can_afford(LISTING_CALLS):  # uploads come first (§4.11)
            raise NotAskedError("the month's call budget cannot pay for it", api="listing")
        return self.ctx.remote().index.listing(self.ctx.target(m), folder)

    def unseen(self, m: Mapping, folder: str) -> bool:
        if self.ctx.blocked_reason(m) is not None:
            return False
        return self.ctx.remote().index.unseen(self.ctx.target(m), folder)

    def clear(self) -> None:
        if self.ctx.has_remote():
            self.ctx.remote().index.clear()


class NoListings:
    """A dry-run asks the remote nothing: nothing is listed, nothing is known."""

    def listing(self, m: Mapping, folder: str) -> dict[str, Dentry] | None:
        raise NotAskedError("a dry-run makes no request", api="listing")

    def unseen(self, m: Mapping, folder: str) -> bool:
        return False

    def clear(self) -> None:
        pass
