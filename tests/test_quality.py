"""The code stays typed and lint-clean: mypy --strict and ruff, as CI runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.skipif(
    shutil.which("git") is None and not (ROOT / "pyproject.toml").exists(), reason="no checkout"
)
def test_mypy_strict_is_clean():
    """`mypy --strict syncd` reports nothing."""
    proc = _run("mypy", "--strict", "syncd")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_check_and_format_are_clean():
    """`ruff check` and `ruff format --check` report nothing."""
    proc = _run("ruff", "check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run("ruff", "format", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_layers_point_down_and_no_module_circles():
    """import-linter's contracts (pyproject.toml): every import points down the layers, the
    emulator imports nothing of syncd, planning is pure, reconcile reads through its ports,
    and no two modules of a layer import each other in a circle."""
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
