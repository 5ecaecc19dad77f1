"""The state store's ledgers: what syncd moved into its trash (the only things it ever
purges), the metered API calls of each month, what each remote space was found to do, and
the requests the command line leaves for a running daemon."""

from __future__ import annotations

import time
from typing import NamedTuple

from syncd.core.budget import (
    COST_NEW_FILE,
    EXHAUSTED_KEY,
    SHARED_KEY,
    BudgetView,
    Exhausted,
    month_key,
)
from syncd.core.model import Trashed
from syncd.state.db import StoreBase


class Request(NamedTuple):
    id: int
    kind: str  # "retry" | "resolve"
    mapping: str  # mapping key ("" = every mapping)
    path: str  # "" = every file (retry --all)
    arg: str  # resolve: keep-local | keep-remote | keep-both
    at: float


class Ledger(StoreBase):
    # -- the trash ---------------------------------------------------------------------
    def add_trashed(self, key: str, t: Trashed) -> None:
        self._write(
            "INSERT OR REPLACE INTO trashed VALUES (?,?,?,?,?,?,?)",
            (self.mapping_id(key), t.dentry_id, t.space_id, t.day, t.path, int(t.is_folder), t.at),
        )

    def trashed_before(self, key: str, day: str) -> list[Trashed]:
        """What syncd moved into the trash of mapping `key` on days before `day`."""
        rows = self._query(
            "SELECT dentry_id, space_id, day, path, is_folder, at FROM trashed "
            "WHERE mapping=? AND day < ? ORDER BY day, path",
            (self.mapping_id(key), day),
        )
        return [Trashed(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    def forget_trashed(self, key: str, dentry_id: str) -> None:
        self._write(
            "DELETE FROM trashed WHERE mapping=? AND dentry_id=?", (self.mapping_id(key), dentry_id)
        )

    # -- the API meter -----------------------------------------------------------------
    def add_calls(self, month: str, api: str, n: int = 1) -> None:
        self._write(
            "INSERT INTO api_calls VALUES (?,?,?) ON CONFLICT (month, api) "
            "DO UPDATE SET calls = calls + excluded.calls",
            (month, api, n),
        )

    def calls(self, month: str) -> dict[str, int]:
        """The metered calls of `month` (YYYY-MM, China Standard Time), by API."""
        rows = self._query("SELECT api, calls FROM api_calls WHERE month=?", (month,), main=True)
        return {r[0]: int(r[1]) for r in rows}

    def budget_view(self, budget: int, now: float) -> BudgetView:
        """The month's spend as the store knows it (`status`, a dry-run): this host's calls
        by API, the shared count last seen (Redis), the exhaustion a pass recorded."""
        month = month_key(now)
        by_api = self.calls(month)
        spent = sum(by_api.values())
        shared = self.meta(SHARED_KEY)
        if isinstance(shared, dict) and shared.get("month") == month:
            spent = max(spent, int(shared.get("spent") or 0))
        saved = self.meta(EXHAUSTED_KEY)
        kind, at, message = None, 0.0, ""
        if isinstance(saved, dict) and saved.get("month") == month:
            try:
                kind = Exhausted(str(saved.get("kind")))
            except ValueError:
                kind = None
            at, message = float(saved.get("at") or 0.0), str(saved.get("message") or "")
        if kind is Exhausted.BUDGET and budget - spent >= COST_NEW_FILE:
            kind = None  # the budget was raised since: an upload fits again
        return BudgetView(month, spent, budget, by_api, kind, at, message)

    # -- what a space does -------------------------------------------------------------
    def set_capability(self, space_id: str, name: str, value: bool | None, source: str) -> None:
        stored = None if value is None else int(value)
        self._write(
            "INSERT OR REPLACE INTO capabilities VALUES (?,?,?,?,?)",
            (space_id, name, stored, source, time.time()),
        )

    def capabilities(self, space_id: str) -> dict[str, tuple[bool | None, str]]:
        """`name -> (value, source)` of what was found of space `space_id`."""
        rows = self._query(
            "SELECT name, value, source FROM capabilities WHERE space_id=?", (space_id,)
        )
        return {r[0]: (None if r[1] is None else bool(r[1]), r[2]) for r in rows}

    # -- requests from the command line ------------------------------------------------
    def add_request(self, kind: str, mapping: str, path: str, arg: str = "") -> int:
        with self._transaction() as db:
            cur = db.execute(
                "INSERT INTO requests (kind, mapping, path, arg, at) VALUES (?,?,?,?,?)",
                (kind, mapping, path, arg, time.time()),
            )
            return int(cur.lastrowid or 0)

    def requests(self) -> list[Request]:
        rows = self._query("SELECT id, kind, mapping, path, arg, at FROM requests ORDER BY id")
        return [Request(*r) for r in rows]

    def done_request(self, request_id: int) -> None:
        self._write("DELETE FROM requests WHERE id=?", (request_id,))
