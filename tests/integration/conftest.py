"""Fixtures of the `syncd run` tests (helpers to go with them: `daemon_proc`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemon_proc import DaemonProc


@pytest.fixture
def share(tmp_path: Path) -> Path:
    """The mapped local folder, empty."""
    root = tmp_path / "share"
    root.mkdir()
    return root


@pytest.fixture
def daemons() -> Iterator[list[DaemonProc]]:
    """The daemons a test started (`daemon_proc.start`), killed after it."""
    started: list[DaemonProc] = []
    yield started
    for d in started:
        d.kill()
