"""Where a command's dry-run is decided, once: the world it acts through.

A real run gets the `Executor` and listings over the remote; a dry-run gets the printing
`DryRunExecutor` and no listings (no request of any kind), over a state store its command
opened read-only. Nothing below asks which it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from syncd.core.errors import NotAskedError
from syncd.core.settings import Config
from syncd.execute.context import Context, RemoteFactory
from syncd.execute.dry_run import DryRunExecutor
from syncd.execute.executor import Executor
from syncd.execute.listings import NoListings, RemoteListings
from syncd.obs.progress import Progress
from syncd.obs.stats import Stats
from syncd.plan.ports import Listings, ScanOptions
from syncd.state.store import StateStore

if TYPE_CHECKING:
    from syncd.remote.facade import Remote


@dataclass
class World:
    ctx: Context
    executor: Executor | DryRunExecutor
    listings: Listings
    acts: bool  # True when actions are carried out (False: a dry-run prints them)

    def scan_options(self, *, max_delete: int | None = None) -> ScanOptions:
        """How this world's walks are made. A dry-run runs no thread beside its walk, so a
        first walk may be forked; and it lists a file moved across file systems as new
        (finding that it is a move would read it)."""
        return ScanOptions(
            daemon=self.ctx.daemon,
            max_delete=max_delete,
            fork_walk=not self.acts,
            split_walk=True,
            content_moves=self.acts,
        )


def _no_remote() -> Remote:
    raise NotAskedError("a dry-run makes no request", api="remote")


def open_world(
    config: Config,
    state: StateStore,
    *,
    dry_run: bool,
    daemon: bool = False,
    remote_factory: RemoteFactory | None = None,
    progress: Progress | None = None,
    stats: Stats | None = None,
) -> World:
    ctx = Context(
        config,
        state,
        daemon=daemon,
        remote_factory=_no_remote if dry_run else remote_factory,
        progress=progress,
        stats=stats,
    )
    if dry_run:
        return World(ctx, DryRunExecutor(ctx, memo=daemon), NoListings(), acts=False)
    return World(ctx, Executor(ctx), RemoteListings(ctx), acts=True)
