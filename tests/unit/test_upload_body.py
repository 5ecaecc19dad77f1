"""HashingBody: the bytes sent are the file's, and the hashes are over exactly those bytes."""

from __future__ import annotations

import hashlib
import os

import pytest

from syncd.core.errors import FileChangedError
from syncd.remote.upload_body import CHUNK, THREADED_FROM, HashingBody


@pytest.mark.parametrize("size", [0, 1, CHUNK + 7, THREADED_FROM, THREADED_FROM * 2 + 12345])
def test_streams_the_file_and_hashes_what_it_sent(tmp_path, size):
    """Inline (small) and threaded (large) paths; twice, as a retried PUT iterates again."""
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        body = HashingBody(fd, size)
        for _ in range(2):
            sent = b"".join(bytes(chunk) for chunk in body)
            assert sent == data
            assert body.md5_hex == hashlib.md5(data).hexdigest()
            assert body.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
            assert body.sent == size and not body.short
    finally:
        os.close(fd)


def test_a_file_that_shrinks_while_sent_is_noticed(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(THREADED_FROM * 2))
    fd = os.open(path, os.O_RDONLY)
    try:
        body = HashingBody(fd, THREADED_FROM * 2)
        chunks = iter(body)
        next(chunks)
        os.truncate(path, CHUNK * 3)
        with pytest.raises(FileChangedError):
            for _ in chunks:
                pass
        assert body.short
    finally:
        os.close(fd)


def test_a_put_abandoned_midway_leaves_no_hashing_thread(tmp_path):
    """The transport may stop iterating (a reset connection): the hashing thread ends too
    (the autouse fixture fails the test on a leaked thread)."""
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(THREADED_FROM + CHUNK))
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = iter(HashingBody(fd, THREADED_FROM + CHUNK))
        next(chunks)
        next(chunks)
        chunks.close()  # type: ignore[attr-defined]
    finally:
        os.close(fd)
