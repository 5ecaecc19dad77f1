"""Load and validate syncd's YAML configuration into frozen dataclasses.

`load()` reads the file and `parse()` (pure: a plain dict and an environment in, a `Config` out)
does the rest. Validation never stops at the first problem: every one is collected with its key
path (``mappings[1].local: folder does not exist: /srv/x``) and raised together as one
`ConfigError`, borgmatic-style. ``${VAR}`` and ``${VAR:-default}`` are expanded in every string
value. The app secret never appears in a message or a repr.
"""

from __future__ import annotations

import collections.abc as cabc
import os
from pathlib import Path
from typing import Any

import yaml

from syncd.config.sections import (
    TOP_KEYS,
    Credentials,
    read_dingtalk,
    read_log,
    read_mappings,
    read_metrics,
    read_state_dir,
    read_sync,
    read_watch,
    state_dir_in_mapping,
)
from syncd.config.values import Section, kind_of
from syncd.core.errors import ConfigError
from syncd.core.settings import (
    SYSTEM_CONFIG,
    Config,
    SyncSettings,
)


def parse(
    data: object,
    *,
    source: str | None = None,
    require_credentials: bool = True,
    check_credentials: bool = False,
    environ: cabc.Mapping[str, str] | None = None,
    dingtalk_only: bool = False,
    secret_file: str | None = None,
    need_union_id: bool = True,
    require_folders: bool = True,
) -> Config:
    """Validate already-loaded YAML `data` into a `Config`; raise `ConfigError` with every problem.

    With ``require_credentials=False`` (dry-run) a missing or unset app key, secret or union id
    becomes "" instead of a problem; with ``check_credentials`` as well (`check --offline`)
    only what exists inside the unit (an unset ``${VAR}``) is tolerated, as a note: an absent
    credential or an unusable literal secret file is a problem. `dingtalk_only` (`ls`,
    `whoami`) reads the `dingtalk` and `log` sections alone: no mapping is needed or looked
    at. `secret_file` replaces the configured secret with that file's content (`--secret-file`);
    `need_union_id=False` lets `union_id` be absent (`whoami --mobile`, which finds it).
    `require_folders=False` (`run`, `sync`, `status`) keeps a mapping whose local folder does
    not exist (a share not mounted yet) with a note, instead of a problem; `check` requires it.
    `environ` defaults to `os.environ`.
    """
    env = os.environ if environ is None else environ
    if data is None:
        raise ConfigError(["the configuration is empty"], source)
    if not isinstance(data, dict):
        raise ConfigError([f"the top level must be a mapping of keys, got {kind_of(data)}"], source)
    problems: list[str] = []
    root = Section(data, "", problems, env)
    root.check_keys(TOP_KEYS)
    mode = (
        Credentials.REQUIRED
        if require_credentials
        else Credentials.CHECKED
        if check_credentials
        else Credentials.TOLERATED
    )
    dingtalk = read_dingtalk(root.section("dingtalk"), mode, secret_file, need_union_id)
    if dingtalk_only:
        config = Config(
            dingtalk=dingtalk,
            state_dir=Path(),
            mappings=(),
            sync=SyncSettings(),
            log=read_log(root.section("log")),
            source=Path(source) if source else None,
            notes=tuple(root.notes),
        )
    else:
        config = Config(
            dingtalk=dingtalk,
            state_dir=read_state_dir(root, Path(source) if source else None),
            mappings=read_mappings(root, require_folders),
            sync=read_sync(root.section("sync")),
            log=read_log(root.section("log")),
            source=Path(source) if source else None,
            watch=read_watch(root.section("watch")),
            metrics=read_metrics(root.section("metrics")),
            notes=tuple(root.notes),
        )
        if (inside := state_dir_in_mapping(config.state_dir, config.mappings)) is not None:
            problems.append(inside)
    if problems:
        raise ConfigError(problems, source)
    return config


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, cabc.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, from yaml's marks; never yaml's snippet of the line (may hold a secret)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        context = f" ({exc.context})" if exc.context else ""
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        return f"invalid YAML at {where}: {exc.problem}{context}"
    if isinstance(exc, yaml.reader.ReaderError):
        return f"not valid YAML text: {exc.reason} at byte {exc.position}"
    return f"not valid YAML: {type(exc).__name__}"


def load(
    path: Path | str,
    *,
    require_credentials: bool = True,
    check_credentials: bool = False,
    dingtalk_only: bool = False,
    secret_file: str | None = None,
    need_union_id: bool = True,
    require_folders: bool = True,
) -> Config:
    """Read, expand and validate the config file at `path` (see `parse`)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            [f"cannot read config file: {exc.strerror}{_read_hint(exc)}"], source
        ) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        # `from None`: yaml's own message quotes the offending line, which may hold the secret.
        raise ConfigError([_yaml_problem(exc)], source) from None
    return parse(
        data,
        source=source,
        require_credentials=require_credentials,
        check_credentials=check_credentials,
        dingtalk_only=dingtalk_only,
        secret_file=secret_file,
        need_union_id=need_union_id,
        require_folders=require_folders,
    )


def _read_hint(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return " (the config folder and file must be readable by this user, e.g. group syncd)"
    return ""


def state_dir_problem(path: Path) -> str | None:
    """Why `state_dir` cannot be used (for `check`), or None: it must be a folder syncd can
    write to, or one it can create."""
    if path.exists():
        if not path.is_dir():
            return f"state_dir: not a directory: {path}"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"state_dir: not writable by this user: {path}"
        return None
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return f"state_dir: cannot be created: {parent} is not a writable folder"
    return None


def find_config(explicit: str | None) -> Path:
    """The config file to use: `explicit` (-c), $SYNCD_CONFIG, ./syncd.yaml, /etc/syncd/config.yaml.

    An explicit choice (-c or $SYNCD_CONFIG) is used alone: if it does not exist that is an
    error rather than a silent fall-through. Otherwise the first existing default wins.
    """
    for origin, value in (("-c", explicit), ("$SYNCD_CONFIG", os.environ.get("SYNCD_CONFIG"))):
        if value:
            chosen = Path(value).expanduser().absolute()
            try:
                os.stat(chosen)
            except FileNotFoundError:
                raise ConfigError(
                    [f"config file {chosen} (from {origin}) does not exist"]
                ) from None
            except OSError as exc:
                problem = f"cannot read config file {chosen}: {exc.strerror}{_read_hint(exc)}"
                raise ConfigError([problem]) from None
            return chosen
    candidates = (Path("syncd.yaml").absolute(), SYSTEM_CONFIG)
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate
        except OSError as exc:  # /etc/syncd not readable by this user
            problem = f"cannot read config file {candidate}: {exc.strerror}{_read_hint(exc)}"
            raise ConfigError([problem]) from None
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigError([f"no config file found (looked for -c, $SYNCD_CONFIG, {looked})"])
