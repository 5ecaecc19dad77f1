"""The shipped systemd units: `systemd-analyze verify` is clean and `security` rates <= 2.0."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _instance(tmp_path: Path, unit: str) -> Path:
    """A copy of the unit whose ExecStart points at this interpreter's syncd."""
    name = unit.replace("@.", "@ci.")
    syncd = Path(sys.executable).parent / "syncd"
    text = (UNITS / unit).read_text().replace("/usr/local/bin/syncd", str(syncd))
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("unit", ["syncd.service", "syncd@.service"])
def test_unit_verifies_cleanly(tmp_path, unit):
    """systemd-analyze verify reports nothing for the unit."""
    path = _instance(tmp_path, unit)
    proc = subprocess.run(
        [ANALYZE, "verify", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert path.name not in proc.stderr, proc.stderr


@pytest.mark.parametrize("unit", ["syncd.service", "syncd@.service"])
def test_unit_exposure_is_at_most_2(tmp_path, unit):
    """systemd-analyze security --offline=true rates the unit 2.0 or better."""
    path = _instance(tmp_path, unit)
    proc = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= 2.0, proc.stdout


@pytest.mark.parametrize("unit", ["syncd.service", "syncd@.service"])
def test_unit_has_the_required_settings(unit):
    """Type=notify, restart policy, exit 3 not restarted, state dir and credential."""
    text = (UNITS / unit).read_text()
    for line in (
        "Type=notify",
        "Restart=on-failure",
        "RestartPreventExitStatus=3",
        "WatchdogSec=",
        "LoadCredential=dingtalk-app-secret:",
        "StateDirectory=syncd",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "EnvironmentFile=-/etc/syncd/",  # DINGTALK_* variables, optional ("-")
    ):
        assert line in text, line
