"""A file's bytes on the bytes bar: credited as sent, at most its size, taken back on failure."""

from __future__ import annotations

from syncd.obs.progress import Sending


def test_a_file_is_credited_at_most_its_size_however_often_its_bytes_are_sent():
    moved: list[int] = []
    sending = Sending(10, moved.append)
    for n in (4, 4, 4, 4):  # a PUT sent again reads the file from the start
        sending(n)
    assert (moved, sending.credited) == ([4, 4, 2], 10)
