"""Terminal-safe text: what a remote string may hold is shown, never obeyed."""

from __future__ import annotations

import pytest

from syncd.core.text import display_width, pad, terminal_safe


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("report.txt", "report.txt"),
        ("报告 2026.xlsx", "报告 2026.xlsx"),  # CJK is kept as it is
        ("a\x1b[2Jb", "a\\x1b[2Jb"),  # clear screen
        ("\x1b]0;owned\x07x", "\\x1b]0;owned\\x07x"),  # window title (OSC ... BEL)
        ("line\nnext\r\t", "line\\x0anext\\x0d\\x09"),
        ("\x00\x7f", "\\x00\\x7f"),  # NUL, DEL
        ("c1\x9b31m\x85", "c1\\x9b31m\\x85"),  # C1 CSI and NEL
        ("invoice\u202etxt.exe", "invoice\\u202etxt.exe"),  # right-to-left override
        ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),  # isolates
        ("bad\udcff.txt", "bad\\udcff.txt"),  # a non-UTF-8 byte kept by surrogateescape
        ("back\\slash", "back\\slash"),  # not a control: kept
    ],
)
def test_controls_escape_sequences_and_bidi_overrides_are_escaped(raw, shown):
    assert terminal_safe(raw) == shown


def test_a_safe_string_is_returned_as_it_is():
    """The common case costs no copy."""
    text = "reports/q3.xlsx"
    assert terminal_safe(text) is text


def test_every_escaped_result_is_printable():
    """Whatever comes in, what goes out holds no character below 0x20 or in 0x7f-0x9f."""
    every = "".join(chr(c) for c in range(0x00, 0x100)) + "\u202e\u2066"
    out = terminal_safe(every)
    assert all(0x20 <= ord(c) < 0x7F or ord(c) > 0x9F for c in out)
    assert "\u202e" not in out and "\u2066" not in out


def test_wide_characters_count_two_columns():
    assert display_width("报告") == 4
    assert display_width("abc") == 3
    assert display_width("e\u0301") == 1  # a combining accent takes no column
    assert pad("报告", 6) == "报告  "
    assert pad("abc", 6) == "abc   "
    assert pad("toolong", 3) == "toolong"
