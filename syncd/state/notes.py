"""The state store's notes on files: issues (failed, refused, held), notices (remote
edits overwritten or kept), tallies and the per-mapping summary for `syncd status`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from syncd.core.model import Issue, IssueKind, Notice, NoticeKind
from syncd.state.db import StoreBase

_ISSUE = (
    "path, kind, reason, size, mtime_ns, code, message, attempts, next_retry, last_at, ctime_ns"
)
NOTICES_KEPT = 200  # per mapping


class Notes(StoreBase):
    # -- issues ------------------------------------------------------------------------
    def issues(self, key: str) -> dict[str, Issue]:
        rows = self._query(f"SELECT {_ISSUE} FROM issues WHERE mapping=?", (self.mapping_id(key),))
        return {r[0]: _issue(r) for r in rows}

    def issue(self, key: str, rel: str) -> Issue | None:
        rows = self._query(
            f"SELECT {_ISSUE} FROM issues WHERE mapping=? AND path=?", (self.mapping_id(key), rel)
        )
        return _issue(rows[0]) if rows else None

    def put_issue(self, key: str, issue: Issue) -> None:
        self._write(
            "INSERT OR REPLACE INTO issues VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                self.mapping_id(key),
                issue.rel_path,
                issue.kind.value,
                issue.reason,
                issue.size,
                issue.mtime_ns,
                issue.code,
                issue.message,
                issue.attempts,
                issue.next_retry,
                issue.last_at or time.time(),
                issue.ctime_ns,
            ),
        )

    def issue_counts(self) -> dict[str, int]:
        """Open issues by kind, over every mapping (metrics gauges, read at each scrape)."""
        rows = self._query("SELECT kind, COUNT(*) FROM issues GROUP BY kind", main=True)
        return {r[0]: r[1] for r in rows}

    def clear_issues(self, key: str, rels: Iterable[str]) -> None:
        mid = self.mapping_id(key)
        with self._transaction() as db:
            for rel in rels:
                db.execute("DELETE FROM issues WHERE mapping=? AND path=?", (mid, rel))

    # -- notices -----------------------------------------------------------------------
    def add_notice(self, key: str, notice: Notice) -> None:
        mid = self.mapping_id(key)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO notices VALUES (?,?,?,?,?)",
                (mid, notice.rel_path, notice.kind.value, notice.detail, notice.at or time.time()),
            )
            db.execute(
                "DELETE FROM notices WHERE mapping=? AND at < (SELECT at FROM notices "
                "WHERE mapping=? ORDER BY at DESC LIMIT 1 OFFSET ?)",
                (mid, mid, NOTICES_KEPT - 1),
            )

    def notices(self, key: str, limit: int = 20) -> list[Notice]:
        rows = self._query(
            "SELECT path, kind, detail, at FROM notices WHERE mapping=? ORDER BY at DESC LIMIT ?",
            (self.mapping_id(key), limit),
        )
        return [Notice(r[0], NoticeKind(r[1]), r[2], r[3]) for r in rows]

    def tally(self, key: str, what: str, n: int = 1) -> None:
        """Count things done per mapping (adoptions, moves…) for `status`."""
        name = f"tally:{key}"
        with self._lock:
            counts = self.meta(name) or {}
            counts[what] = counts.get(what, 0) + n
            self.set_meta(name, counts)

    def tallies(self, key: str) -> dict[str, int]:
        return dict(self.meta(f"tally:{key}") or {})

    def summary(self, key: str) -> dict[str, Any]:
        row = self._query(
            "SELECT COUNT(*), COALESCE(SUM(f.size),0), MAX(f.uploaded_at) FROM files f "
            "JOIN dirs d ON d.id = f.dir WHERE d.mapping=?",
            (self.mapping_id(key),),
        )[0]
        return {"files": row[0], "bytes": row[1], "last_upload": row[2]}


def _issue(row: Any) -> Issue:
    return Issue(row[0], IssueKind(row[1]), *row[2:])
