"""The config of the commands that only talk to DingTalk (`ls`, `whoami`).

They read the `dingtalk` section alone (and `log`): a config without mappings, or one whose
mapped folder is not mounted yet, works — that is when an operator fills the mappings in.
`--secret-file FILE` gives the secret for this run. A service config reads its secret from
`${CREDENTIALS_DIRECTORY}`, which only systemd sets: then the error says how to run the
command with the service's own credential.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
from pathlib import Path

from syncd.config import find_config, load
from syncd.core.errors import ConfigError
from syncd.core.settings import Config

SERVICE_USER = "syncd"  # User= of both units
CREDENTIAL = "dingtalk-app-secret"  # LoadCredential= name of both units


def load_dingtalk(args: argparse.Namespace, rerun: list[str], *, union_id: bool = True) -> Config:
    """The config for a remote-only command; `rerun` is the command's own arguments (for
    the hint), `union_id=False` when the operator is not needed."""
    path = find_config(getattr(args, "config", None))
    secret_file = getattr(args, "secret_file", None)
    try:
        return load(path, dingtalk_only=True, secret_file=secret_file, need_union_id=union_id)
    except ConfigError as exc:
        unit_only = any(
            p.startswith("dingtalk.app_secret_file:") and "CREDENTIALS_DIRECTORY" in p
            for p in exc.problems
        )
        if secret_file is None and unit_only:
            raise ConfigError(exc.problems, exc.source, hint=service_hint(path, rerun)) from None
        raise


def service_files(config: Path) -> tuple[str, str]:
    """(EnvironmentFile, LoadCredential source) the unit uses for `config`: syncd@NAME for
    `/etc/syncd/NAME.yaml`, syncd.service for `/etc/syncd/config.yaml`."""
    folder = config.parent if config.parent.name == "syncd" else Path("/etc/syncd")
    name = config.stem if config.parent.name == "syncd" else "NAME"
    if name == "config":
        return str(folder / "config.env"), str(folder / CREDENTIAL)
    return str(folder / f"{name}.env"), str(folder / f"{name}.secret")


def service_hint(config: Path, rerun: list[str]) -> str:
    env_file, secret = service_files(config)
    syncd = shutil.which("syncd") or "/usr/local/bin/syncd"
    command = [*rerun, "-c", str(config)]
    unit = [
        "systemd-run",
        "--pipe",
        "--wait",
        "-p",
        f"User={SERVICE_USER}",
        "-p",
        f"EnvironmentFile=-{env_file}",
        "-p",
        f"LoadCredential={CREDENTIAL}:{secret}",
        syncd,
        *command,
    ]
    own = ["syncd", rerun[0], "--secret-file", secret, *rerun[1:], "-c", str(config)]
    return (
        "the secret is the service's credential (LoadCredential=): ${CREDENTIALS_DIRECTORY} "
        "is set only when systemd starts syncd. Run it with the service's user and "
        f"credential:\n  {shlex.join(unit)}\n"
        f"or name the secret's file for this run (as a user who may read it):\n  {shlex.join(own)}"
    )
