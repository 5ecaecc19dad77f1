"""The one consumer of a reconcile scan, shared by `sync` and `run`.

Each action is carried out at once on the scanning thread, or offered to the worker pool
when it is heavy (`HEAVY`: it sends or reads bytes, or calls the remote) and the executor
acts for real. A folder move is not among them: the reconcile loop hands it to
`executor.execute` itself, at once, and reads the outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from syncd.core.actions import HEAVY, UPLOADS, Action, Outcome, Reupload, Upload


class Executes(Protocol):
    inline: bool  # True: every action runs on the caller's thread (nothing is sent)

    def execute(self, action: Action) -> Outcome: ...
    def new_round(self) -> None: ...


class Consumer:
    def __init__(
        self,
        executor: Executes,
        offer: Callable[[Action], None],
        *,
        deferred: Callable[[Action], None],
        stopped: Callable[[], bool],
        divert: Callable[[Action], bool] | None = None,
        planned: Callable[[Upload | Reupload], None] | None = None,
    ) -> None:
        """`offer` hands a heavy action to the workers; `deferred` takes an action that
        came back DEFERRED; `stopped` ends the feed; `divert` takes an action elsewhere
        first (the daemon's settle gate) when it returns True; `planned` hears of each
        upload planned."""
        self.executor = executor
        self.offer = offer
        self.deferred = deferred
        self.stopped = stopped
        self.divert = divert
        self.planned = planned

    def feed(self, actions: Iterable[Action]) -> int:
        """Carry out or offer every action; returns how many uploads were planned."""
        uploads = 0
        inline = self.executor.inline
        for action in actions:
            if self.stopped():
                break
            if self.divert is not None and self.divert(action):
                continue
            if isinstance(action, UPLOADS):
                uploads += 1
                if self.planned is not None:
                    self.planned(action)
            if isinstance(action, HEAVY) and not inline:
                self.offer(action)
            elif self.executor.execute(action) is Outcome.DEFERRED:
                self.deferred(action)
        return uploads
