"""The command line itself: help, version, options before the command, completion."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from syncd import __version__
from tests.conftest import ROOT_UUID, run_cli, write_config

pytestmark = pytest.mark.e2e


def test_bare_syncd_shows_the_commands_and_how_to_start():
    proc = run_cli()
    assert proc.returncode == 0
    for command in ("sync", "run", "check", "status", "ls", "demo", "completion"):
        assert command in proc.stdout
    assert "syncd demo" in proc.stdout and "exit codes" in proc.stdout


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"syncd {__version__}"


def test_config_option_before_or_after_the_command(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    cfg = write_config(tmp_path, None, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
    before = run_cli("-c", str(cfg), "check", "--offline")
    after = run_cli("check", "--offline", "-c", str(cfg))
    assert before.returncode == after.returncode == 0, before.stdout + before.stderr
    assert before.stdout == after.stdout and str(cfg) in before.stdout


def test_subcommand_help_has_exit_codes_and_an_example():
    proc = run_cli("sync", "--help")
    assert proc.returncode == 0
    assert "--dry-run" in proc.stdout and "exit codes" in proc.stdout
    assert "example: syncd sync" in proc.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_commands_and_options():
    script = run_cli("completion", "bash", check=True).stdout
    probe = (
        script
        + '\nCOMP_WORDS=(syncd sy); COMP_CWORD=1; _syncd; echo "${COMPREPLY[@]}"'
        + '\nCOMP_WORDS=(syncd sync --dr); COMP_CWORD=2; _syncd; echo "${COMPREPLY[@]}"'
    )
    out = subprocess.run(
        ["bash", "--norc", "-c", probe], capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()
    assert out == ["sync", "--dry-run"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion(shell):
    script = run_cli("completion", shell, check=True).stdout
    assert "sync" in script and "dry-run" in script  # fish spells long options `-l dry-run`
    if shutil.which(shell):
        subprocess.run([shell, "-n"], input=script, text=True, timeout=30, check=True)


def test_an_unknown_shell_is_a_usage_error():
    proc = run_cli("completion", "tcsh")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
