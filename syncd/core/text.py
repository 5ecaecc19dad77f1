"""Strings from elsewhere made safe to print on a terminal.

A remote name (a colleague's file in DingTalk, a modifier's name, an error message) may hold
control characters and escape sequences: printed raw, `\\x1b]0;…\\x07` retitles the window,
`\\x1b[2J` clears the screen, and a right-to-left override makes `exe.txt` read as `txt.exe`.
`terminal_safe` shows each such character as an escape instead (`\\x1b`, `\\u202e`), so what
is printed is visible and inert; everything else, CJK included, is kept as it is. JSON
output is never passed through it: it stays exact.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls; the bidi embeddings/overrides (U+202A-U+202E) and isolates
# (U+2066-U+2069), the bidi marks (U+061C, U+200E, U+200F), the line and paragraph
# separators some terminals treat as new lines; lone surrogates (a name that was not UTF-8,
# read with surrogateescape), which cannot be encoded for the terminal at all
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """`text` with control characters and bidi controls shown as `\\xNN` / `\\uNNNN`."""
    if _UNSAFE.search(text) is None:  # the common case: nothing to do, no copy
        return text
    return _UNSAFE.sub(_escape, text)


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: 2 for a wide (CJK) character, 0 for a combining
    one (wcwidth, which follows the Unicode tables terminals use)."""
    from wcwidth import wcswidth, wcwidth

    width = wcswidth(text)
    return width if width >= 0 else sum(max(wcwidth(c), 0) for c in text)


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns (`str.ljust` counts characters)."""
    return text + " " * max(width - display_width(text), 0)
