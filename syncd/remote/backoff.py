"""Retry delays: exponential back-off with full jitter, honouring `Retry-After`.

Pure: the random source is injected so tests can pin it. (urllib3's `Retry` does
back-off too, but only for transport errors and idempotent methods; DingTalk signals
throttling with a JSON 403 and most calls are POSTs, so the schedule lives here.)
"""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(
    attempt: int,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    retry_after: float | None = None,
    floor: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (1 = the first retry).

    Full jitter ("to avoid clients synchronizing", b2sdk): uniform in
    [0, min(cap, base * 2**(attempt-1))], never below `floor`, and never below a
    server's `Retry-After`.
    """
    if attempt < 1:
        return 0.0
    ceiling = min(cap, base * 2 ** (attempt - 1))
    delay = max(floor, ceiling * rand())
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap * 4))
    return float(delay)
