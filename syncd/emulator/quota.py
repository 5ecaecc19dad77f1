"""The monthly API quota (§15.1): metered calls per calendar month, org-wide.

Every API endpoint is metered except the token call and the contact (address-book) calls,
which are exempt (``DOC:1432``); OSS PUTs are no API calls and ``/_emulator/*`` is no API.
A call is charged when the emulator goes on to process it: after its token and QPS checks,
so calls refused by throttling (the limiter or an injected throttle fault) are free
(``DOC:1431`` 计量规则). Inferred where §15.1 is silent: a call whose token is missing or
invalid is free too (no org can be charged without a token), and so is a call answered by
an injected fault in its place (``5xx``, ``401``, ``ban``, ``banhtml``, ``reset``: it never
reached the API), while ``lost``, ``lost5xx``, ``badnumbers`` and ``loop`` calls are
processed and charged; a call refused by the quota is free.

Once the month's count has reached the quota, every metered call answers 403
``Forbidden.AccessDenied.ApiCountLimitForOrg`` (the status is the emulator's choice, §15.1)
with the documented message, counts and quota filled in. No grace period is modelled. The
month is whatever the test says it is: :meth:`Meter.reset_month` starts a new one.
"""

from __future__ import annotations

import threading
from typing import Any

from syncd.emulator.common import ApiError

QUOTA_CODE = "Forbidden.AccessDenied.ApiCountLimitForOrg"
_MESSAGE = (
    "您的企业本月api调用量已超过限制,调用量:{count}次,额度:{quota}次,"
    "请登录开发者后台-资源管理-查看用量明细"
)


def over_quota(count: int, quota: int) -> ApiError:
    """The §15.1 refusal: 403 ApiCountLimitForOrg with the month's count and the quota."""
    return ApiError(403, QUOTA_CODE, _MESSAGE.format(count=count, quota=quota))


class Meter:
    """The month's metered calls per endpoint, the quota and the calls it refused."""

    def __init__(self, quota: int | None = None) -> None:
        self._lock = threading.Lock()
        self.quota: int | None = None
        self.set_quota(quota)
        self.reset_month()

    def set_quota(self, quota: int | None) -> None:
        """The month's quota from now on (None = unlimited); the count is kept."""
        if quota is not None and (isinstance(quota, bool) or quota < 0):
            raise ValueError(f"monthly quota must be a number >= 0 or None, got {quota!r}")
        with self._lock:
            self.quota = quota

    def reset_month(self) -> None:
        """A new month: the count and the refusals back to 0 (the quota stays)."""
        with self._lock:
            self._by_endpoint: dict[str, int] = {}
            self._total = 0
            self._refused = 0

    def charge(self, endpoint: str) -> None:
        """Count one call of ``endpoint``, or raise the refusal once the quota is reached
        (check and count are one step, so concurrent calls never overshoot the quota)."""
        with self._lock:
            if self.quota is not None and self._total >= self.quota:
                self._refused += 1
                raise over_quota(self._total, self.quota)
            self._total += 1
            self._by_endpoint[endpoint] = self._by_endpoint.get(endpoint, 0) + 1

    def total(self) -> int:
        with self._lock:
            return self._total

    def calls(self, endpoint: str) -> int:
        with self._lock:
            return self._by_endpoint.get(endpoint, 0)

    def snapshot(self) -> dict[str, Any]:
        """``{"total", "by_endpoint", "quota", "refused"}`` of the month so far."""
        with self._lock:
            return {
                "total": self._total,
                "by_endpoint": dict(self._by_endpoint),
                "quota": self.quota,
                "refused": self._refused,
            }
