"""The command line's requests (`syncd retry`, `syncd resolve`), carried out by whoever
holds the state lock: the running daemon (it looks every few seconds) or the next
`sync`/`run` at its start. The command only writes the request row; this takes it.

A retry names failing files (one path, a folder, or every one): their back-off ends now. A
resolution is left in the context for the held file's next upload (`FileActions.upload`)."""

from __future__ import annotations

import structlog

from syncd.core.actions import Resolution
from syncd.core.errors import StateError
from syncd.core.model import IssueKind
from syncd.execute.context import Context
from syncd.state.ledger import Request

log = structlog.get_logger(__name__)

RETRY = "retry"
RESOLVE = "resolve"


def under(rel: str, path: str) -> bool:
    """`rel` is `path` or inside it ("" is every path)."""
    return not path or rel == path or rel.startswith(path + "/")


def failing(ctx: Context, keys: list[str], path: str) -> list[tuple[str, str]]:
    """The failing files of mappings `keys` at or under `path`."""
    out = []
    for key in keys:
        for rel, issue in ctx.state.issues(key).items():
            if issue.kind is IssueKind.FAILED and under(rel, path):
                out.append((key, rel))
    return sorted(out)


def take(ctx: Context, mappings: list[str]) -> list[tuple[str, str]]:
    """Take the pending requests for the configured `mappings` (keys): resolutions go to
    the context; returns the (mapping key, path) pairs to look at again now."""
    if ctx.state.readonly:  # a dry-run changes nothing
        return []
    try:
        pending = ctx.state.requests()
    except StateError:
        return []
    paths: list[tuple[str, str]] = []
    for r in pending:
        paths += _take(ctx, r, mappings)
        ctx.write("request", lambda r=r: ctx.state.done_request(r.id))  # type: ignore[misc]
    return paths


def _take(ctx: Context, r: Request, mappings: list[str]) -> list[tuple[str, str]]:
    keys = [k for k in mappings if not r.mapping or k == r.mapping]
    if not keys:
        log.warning("request.dropped", kind=r.kind, path=r.path, reason="mapping not configured")
        return []
    if r.kind == RESOLVE:
        try:
            choice = Resolution(r.arg)
        except ValueError:
            log.warning("request.dropped", kind=r.kind, path=r.path, reason=f"unknown {r.arg!r}")
            return []
        ctx.resolutions[(keys[0], r.path)] = choice
        log.info("request.taken", kind=r.kind, path=r.path, resolution=choice.value)
        return [(keys[0], r.path)]
    found = failing(ctx, keys, r.path)
    log.info("request.taken", kind=r.kind, path=r.path or "(all)", files=len(found))
    return found
