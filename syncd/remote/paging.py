"""Following `nextToken` through a paginated listing, bounded: a token that comes back, or a
listing past any sane length, ends with a clear error instead of calls without end (each
page is a metered call of the org's monthly quota)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from syncd.core.errors import PermanentError

MAX_PAGES = 20_000  # a million entries at 50 a page: no folder syncd maps is longer


class ListingLoopError(PermanentError):
    """The remote's pagination does not end (a repeated or cycling `nextToken`)."""


def pages(
    fetch: Callable[[str], dict[str, Any]], api: str, max_pages: int = MAX_PAGES
) -> Iterator[dict[str, Any]]:
    """Each page's answer, `fetch(token)` asked with "" first, then each `nextToken`."""
    seen: set[str] = set()
    token, count = "", 0
    while True:
        data = fetch(token)
        count += 1
        yield data
        token = str(data.get("nextToken") or "")
        if not token:
            return
        if token in seen:
            raise ListingLoopError(
                f"the listing's nextToken came back after {count} pages; stopped there "
                "(a listing that never ends): try again later, or report it to DingTalk",
                code="listingLoop",
                api=api,
            )
        if count >= max_pages:
            raise ListingLoopError(
                f"the listing did not end after {count} pages; stopped there",
                code="listingTooLong",
                api=api,
            )
        seen.add(token)
