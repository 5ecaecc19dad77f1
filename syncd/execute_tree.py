"""The executor's tree actions: renames and moves done on the server, deletes into the
trash folder, and the guard that blocks a pass's deletes (issue: renames and deletes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from syncd.actions import Blocked, Outcome

if TYPE_CHECKING:
    from syncd.executor import Executor

log = structlog.get_logger(__name__)


class TreeActions:
    def __init__(self, ex: Executor) -> None:
        self.ex = ex

    def handlers(self) -> dict[type, Callable[[Any], Outcome]]:
        return {}

    def blocked(self, a: Blocked) -> Outcome:
        log.error(
            "deletes.blocked",
            mapping=str(a.mapping.local),
            reason=a.reason,
            count=a.count,
            **({"hint": a.hint} if a.hint else {}),
        )
        return Outcome.ABANDONED
