"""The README's systemd section, followed as literally as a test can without systemd as PID 1.

The shell block of "Running under systemd" is read from README.md and run line by line, as
root, with every absolute path moved under a temporary prefix and the service user renamed
(so the machine is left as it was). What only systemd can do is done the way systemd does
it: `systemd-run` (the online check) and the service itself run as the service user with the
unit's environment file, its credential and its state directory. Then `syncd status`, run
as root with no environment, must see what the service synced.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT_UUID, wait_until

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")


def readme_block() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Running under systemd", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def needs() -> str | None:
    if os.geteuid() != 0:
        return "needs root (useradd, install -o)"
    for tool in ("useradd", "userdel", "runuser", "install"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    if not SYSTEM_PYTHON.exists():
        return "needs a system python3 the service user can run"
    return None


@pytest.fixture
def prefix():
    user = "syncdt" + secrets.token_hex(3)
    root = Path(f"/tmp/syncd-install-{user}")
    root.mkdir(mode=0o755)
    yield root, user
    subprocess.run(["userdel", user], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


def localize(line: str, root: Path, user: str) -> str:
    """The README line with its absolute paths under `root` and the user renamed."""
    line = re.sub(
        r"(?<![\w.])(/opt/syncd|/usr/local|/etc/syncd|/etc/systemd|/var/lib/syncd)",
        lambda m: f"{root}{m.group(1)}",
        line,
    )
    line = line.replace("python3 -m venv", f"{SYSTEM_PYTHON} -m venv")
    line = re.sub(r"(-g|-u) syncd\b", rf"\1 {user}", line)
    return re.sub(r"nologin syncd$", f"nologin {user}", line)


def service_env(root: Path, user: str, name: str) -> dict[str, str]:
    """What syncd@NAME.service gives the process: its environment file, its credential
    (readable by the service user only) and its state directory."""
    env = {"PATH": f"{root}/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent"}
    for line in (root / f"etc/syncd/{name}.env").read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    creds = root / "run" / "credentials" / f"syncd@{name}.service"
    creds.mkdir(parents=True)
    shutil.copy(root / f"etc/syncd/{name}.secret", creds / "dingtalk-app-secret")
    shutil.chown(creds / "dingtalk-app-secret", user)
    os.chmod(creds / "dingtalk-app-secret", 0o400)
    shutil.chown(creds, user)
    os.chmod(root / "run", 0o755)
    os.chmod(root / "run" / "credentials", 0o755)
    state = root / "var/lib/syncd" / name  # StateDirectory=syncd/%i, owned by the user
    state.mkdir(parents=True, mode=0o700)
    shutil.chown(state, user, user)
    os.chmod(root / "var/lib/syncd", 0o755)
    return {**env, "CREDENTIALS_DIRECTORY": str(creds), "STATE_DIRECTORY": str(state)}


def test_the_readme_install_steps_work_as_written(prefix, emulator):
    """A fresh venv, a system user, the documented ownership and modes, check --offline,
    check and a sync run as that user, and status run as root seeing what was synced."""
    if (why := needs()) is not None:
        pytest.skip(why)
    root, user = prefix
    share = root / "srv" / "share" / "reports"
    share.mkdir(parents=True)
    (share / "q3.xlsx").write_bytes(b"numbers")
    for d in (root / "srv", root / "srv" / "share", share):
        d.chmod(0o755)
    base = {
        "APP_KEY": "emulator-app-key",
        "UNION_ID": "emulator-union-id",
        "APP_SECRET": "emulator-app-secret",
    }
    shell_env = {**os.environ, **base, "PATH": f"{root}/usr/local/bin:{os.environ['PATH']}"}
    (root / "usr/local/bin").mkdir(parents=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    edited, env = False, None
    for line in readme_block():
        if line.startswith("$EDITOR"):
            edited = _edit_config(root, share, emulator)
            continue
        if line.startswith(("systemd-run", "systemctl")):
            env = env or service_env(root, user, "reports")
            cmd = ["check"] if line.startswith("systemd-run") else ["sync"]
            _as_user(root, user, env, [*cmd, "-c", f"{root}/etc/syncd/reports.yaml"])
            continue
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", localize(line, root, user)],
            cwd=REPO,
            env=shell_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
        if line.startswith("runuser") and "--offline" in line:
            assert "OK" in proc.stdout and "read when the service starts" in proc.stdout
        if line.startswith("syncd status"):
            assert "synced: 1 files" in proc.stdout, proc.stdout
            assert "not running" in proc.stdout
    assert edited and env is not None
    assert "q3.xlsx" in emulator.files()
    _boot_with_the_share_mounted_late(root, user, env, share, emulator)
    assert (root / "etc/syncd").stat().st_mode & 0o777 == 0o750
    assert (root / "etc/syncd/reports.secret").stat().st_mode & 0o777 == 0o600


def _boot_with_the_share_mounted_late(
    root: Path, user: str, env: dict[str, str], share: Path, emulator
) -> None:
    """The service starts before the share is mounted: it runs (no exit 3, which systemd
    would never restart), reports the mapping failed, and syncs the share once it is there."""
    unmounted = share.with_name("reports.unmounted")
    share.rename(unmounted)
    log = root / "run.log"
    cmd = [shutil.which("runuser") or "runuser", "-u", user, "--", f"{root}/usr/local/bin/syncd"]
    cmd += ["run", "-c", f"{root}/etc/syncd/reports.yaml", "--log-format", "json"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out, cwd="/")
    try:
        wait_until(
            lambda: '"local folder missing"' in log.read_text() or proc.poll() is not None,
            timeout=60,
            message="mapping.failed",
        )
        assert proc.poll() is None, log.read_text()
        (unmounted / "q4.xlsx").write_bytes(b"more numbers")
        unmounted.rename(share)  # the mount arrives
        wait_until(lambda: "q4.xlsx" in emulator.files(), timeout=60, message="q4.xlsx synced")
    finally:
        proc.terminate()  # runuser passes it on (and itself reports the signal)
        proc.wait(timeout=60)
    assert '"event": "daemon.stopped"' in log.read_text()


def _edit_config(root: Path, share: Path, emulator) -> bool:
    """The documented edit: the shared folder, its uuid, and (for the test) the emulator."""
    cfg = root / "etc/syncd/reports.yaml"
    text = cfg.read_text()
    text = text.replace("${SYNCD_EXAMPLE_DIR:-/srv/share/reports}", str(share))
    text = text.replace("lyQod3RxJKxB07eks4o2zv3L8kb4Mw9r", ROOT_UUID)
    text = text.replace("${DINGTALK_API_BASE:-https://api.dingtalk.com}", emulator.base_url)
    cfg.write_text(text)
    return True


def _as_user(root: Path, user: str, env: dict[str, str], args: list[str]) -> None:
    cmd = [
        shutil.which("runuser") or "runuser",
        "-u",
        user,
        "--",
        f"{root}/usr/local/bin/syncd",
        *args,
        "--log-format",
        "json",
    ]
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=120, cwd="/", check=False
    )
    assert proc.returncode == 0, f"{shlex.join(cmd)}\n{proc.stdout}\n{proc.stderr}"


def test_an_unreadable_config_folder_is_a_clear_error(tmp_path):
    """/etc/syncd owned root:root 0750 (the old instructions): exit 3 with a message that
    says what to do, never a traceback (systemd would restart it in a loop)."""
    if (why := needs()) is not None:
        pytest.skip(why)
    from tests.conftest import run_as_nobody

    etc = Path(f"/tmp/syncd-noread-{secrets.token_hex(3)}")
    etc.mkdir(mode=0o750)
    try:
        (etc / "reports.yaml").write_text("mappings: []\n")
        proc = run_as_nobody(["-m", "syncd", "check", "--offline", "-c", str(etc / "reports.yaml")])
        assert proc.returncode == 3, proc.stderr
        assert "Permission denied" in proc.stderr and "group syncd" in proc.stderr
        assert "Traceback" not in proc.stderr
    finally:
        shutil.rmtree(etc, ignore_errors=True)
