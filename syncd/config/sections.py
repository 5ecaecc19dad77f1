"""The config's sections (`dingtalk`, `mappings`, `sync`, `watch`, `metrics`, `log`)
read into their dataclasses."""

from __future__ import annotations

import collections.abc as cabc
import enum
import importlib.util
import itertools
import os
import re
import stat
from pathlib import Path

from syncd.config.values import (
    FLAG,
    Section,
    bandwidth,
    choice,
    enum_value,
    http_url_error,
    integer,
    number,
    percent,
    rate_limit_error,
    shown,
    uuid_error,
)
from syncd.core.filters import ExcludeRules, name_problem
from syncd.core.settings import (
    DEFAULT_API_BASE,
    LOG_FORMATS,
    LOG_LEVELS,
    AdoptMode,
    ConflictStrategy,
    DeleteMode,
    DingTalkSettings,
    LogSettings,
    Mapping,
    MetricsSettings,
    RemoteChangePolicy,
    RenameMode,
    SyncSettings,
    WatchMode,
    WatchSettings,
)

TOP_KEYS = ("dingtalk", "state_dir", "mappings", "sync", "watch", "metrics", "log")
_DINGTALK_KEYS = (
    "app_key",
    "app_secret",
    "app_secret_file",
    "union_id",
    "api_base",
    "qps",
    "rate_limit",
    "monthly_call_budget",
    "connect_timeout_seconds",
    "read_timeout_seconds",
)
_MAPPING_KEYS = ("local", "parent_dentry_uuid", "exclude", "subfolders")
_SYNC_KEYS = (
    "conflict_strategy",
    "settle_seconds",
    "rescan_interval_seconds",
    "workers",
    "follow_symlinks",
    "allow_empty_overwrite",
    "shutdown_timeout_seconds",
    "max_queue",
    "adopt",
    "on_remote_change",
    "remote_check_interval_seconds",
    "renames",
    "deletes",
    "trash_folder",
    "trash_retention_days",
    "max_delete",
    "max_delete_percent",
    "bwlimit",
    "scan_stall_seconds",
)
_WATCH_KEYS = ("mode", "poll_interval_seconds")
_METRICS_KEYS = ("listen", "textfile")
_LOG_KEYS = ("format", "level")
METRICS_HINT = "needs the metrics extra: pip install 'syncd[metrics]'"


class Credentials(enum.Enum):
    """How the credentials (`app_key`, the secret, `union_id`) are read."""

    REQUIRED = "required"  # sync, run, check, ls, whoami: each must be there and usable
    CHECKED = "checked"  # check --offline: what exists only inside the unit is noted,
    # everything else (absent keys, a literal secret file) must be usable
    TOLERATED = "tolerated"  # a dry-run needs none: absent or unusable become ""


def _read_secret(sec: Section, path: Path, where: str, report: bool) -> str:
    """The stripped contents of the secret file `path`; the problem (under `where`) names
    the file and why it cannot be used, never the content."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except PermissionError as exc:  # e.g. readable by root only, and run as the service user
        problem = f"cannot read {path}: {exc.strerror} (as user {_user()})"
    except OSError as exc:  # missing, a folder
        problem = f"cannot read {path}: {exc.strerror or type(exc).__name__}"
    except UnicodeDecodeError:
        problem = f"not valid UTF-8: {path}"
    else:
        if secret:
            return secret
        problem = f"file is empty: {path}"
    if report:
        sec.problems.append(f"{where}: {problem}")
    return ""


def _user() -> str:
    import pwd

    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _credential(sec: Section, key: str, mode: Credentials, *, secret: bool = False) -> str:
    """A credential's text; under CHECKED an absent or empty one is a problem unless it
    is a `${VAR}` set only inside the unit (then noted)."""
    value = sec.text(key, secret=secret, tolerate=mode is not Credentials.REQUIRED)
    if mode is Credentials.CHECKED and not value:
        raw = sec.data.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            sec.report(key, "required" if raw is None else "must not be empty")
    return value


def _secret(sec: Section, mode: Credentials, secret_file: str | None) -> str:
    if secret_file is not None:  # --secret-file: this run's secret, whatever the config says
        return _read_secret(sec, Path(secret_file).expanduser(), "--secret-file", True)
    inline, in_file = (sec.data.get(k) is not None for k in ("app_secret", "app_secret_file"))
    if inline and in_file:
        sec.report("app_secret_file", "cannot be used together with app_secret")
        return ""
    if in_file:
        name = _credential(sec, "app_secret_file", mode)
        report = mode is not Credentials.TOLERATED
        where = sec.at("app_secret_file")
        return _read_secret(sec, Path(name).expanduser(), where, report) if name else ""
    if not inline:
        if mode is not Credentials.TOLERATED:
            sec.report("app_secret", "required (or app_secret_file)")
        return ""
    return _credential(sec, "app_secret", mode, secret=True)


def read_dingtalk(
    sec: Section,
    mode: Credentials = Credentials.REQUIRED,
    secret_file: str | None = None,
    union_id: bool = True,
) -> DingTalkSettings:
    """The `dingtalk` section; `union_id=False` when the operator is not needed (`whoami
    --mobile`, which is how one finds it)."""
    sec.check_keys(_DINGTALK_KEYS)
    return DingTalkSettings(
        app_key=_credential(sec, "app_key", mode),
        app_secret=_secret(sec, mode, secret_file),
        union_id=_credential(sec, "union_id", mode if union_id else Credentials.TOLERATED),
        api_base=sec.text("api_base", DEFAULT_API_BASE, check=http_url_error).rstrip("/"),
        qps=sec.value("qps", 20.0, number(0, strict=True)),
        rate_limit=sec.text("rate_limit", "local", check=rate_limit_error),
        monthly_call_budget=sec.value("monthly_call_budget", 0, integer(0, None)),
        connect_timeout=sec.value("connect_timeout_seconds", 10.0, number(0, strict=True)),
        read_timeout=sec.value("read_timeout_seconds", 60.0, number(0, strict=True)),
    )


def _folder(sec: Section, raw: str, require: bool) -> Path | None:
    """`raw` made absolute with symlinks resolved, if it is an existing directory; with
    `require` False, a folder that does not exist (yet: a share mounted later) is kept,
    with a note: the daemon waits for it, `sync` skips it, `status` shows it."""
    try:
        path = Path(raw).expanduser().resolve()
        mode = path.stat().st_mode
    except FileNotFoundError:
        missing = f"folder does not exist: {Path(raw).expanduser().absolute()}"
        if require:
            sec.report("local", missing)
            return None
        sec.notes.append(f"{sec.at('local')}: {missing} (skipped until it appears)")
        return Path(raw).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # ValueError: an embedded NUL
        sec.report("local", f"cannot access {raw!r}: {getattr(exc, 'strerror', None) or exc}")
        return None
    if not stat.S_ISDIR(mode):
        sec.report("local", f"not a directory: {path}")
        return None
    return path


def _mapping(sec: Section, require_folders: bool) -> Mapping | None:
    sec.check_keys(_MAPPING_KEYS)
    raw = sec.text("local")
    local = _folder(sec, raw, require_folders) if raw else None
    uuid = sec.text("parent_dentry_uuid", check=uuid_error)
    exclude = sec.text_list("exclude")
    for i, pattern in enumerate(exclude):
        try:
            ExcludeRules([pattern])
        except (re.error, ValueError) as exc:
            sec.report(f"exclude[{i}]", f"invalid pattern {pattern!r}: {exc}")
    subfolders = sec.value("subfolders", True, FLAG)
    return Mapping(local, uuid, exclude, subfolders) if local and uuid else None


def _overlap(i: int, a: Mapping, j: int, b: Mapping) -> str | None:
    """Why mappings `i` and `j` (i < j) cannot both exist, or None.

    A folder nested in a top-level-only mapping (`subfolders: false`) does not overlap it.
    """
    if a.local == b.local:
        if a.parent_dentry_uuid == b.parent_dentry_uuid:
            return f"mappings[{j}]: duplicate of mappings[{i}] (same local and parent_dentry_uuid)"
        return f"mappings[{j}].local: same folder as mappings[{i}].local: {b.local}"
    if a.subfolders and b.local.is_relative_to(a.local):
        return f"mappings[{j}].local: {b.local} is inside mappings[{i}].local {a.local}"
    if b.subfolders and a.local.is_relative_to(b.local):
        return f"mappings[{j}].local: {b.local} contains mappings[{i}].local {a.local}"
    return None


def read_mappings(root: Section, require_folders: bool = True) -> tuple[Mapping, ...]:
    value = root.data.get("mappings")
    if not isinstance(value, list) or not value:
        problem = (
            "required"
            if value is None
            else "must contain at least one mapping"
            if value == []
            else f"must be a list of mappings, got {shown(value)}"
        )
        root.report("mappings", problem)
        return ()
    found: list[tuple[int, Mapping]] = []
    for i, item in enumerate(value):
        sec = root.child(f"mappings[{i}]", item)
        mapping = _mapping(sec, require_folders) if sec else None
        if mapping:
            found.append((i, mapping))
    for (i, a), (j, b) in itertools.combinations(found, 2):
        overlap = _overlap(i, a, j, b) or _same_remote(i, a, j, b)
        if overlap:
            root.problems.append(overlap)
    return tuple(m for _, m in found)


def _same_remote(i: int, a: Mapping, j: int, b: Mapping) -> str | None:
    """Two mappings may not share a remote folder: each would take the other's files for
    files deleted locally (and trash them), or for foreign ones."""
    if a.parent_dentry_uuid != b.parent_dentry_uuid:
        return None
    return (
        f"mappings[{j}].parent_dentry_uuid: the same remote folder as "
        f"mappings[{i}].parent_dentry_uuid ({a.parent_dentry_uuid}); give each mapping a "
        "remote folder of its own (a subfolder of it, from `syncd ls UUID`)"
    )


def state_dir_in_mapping(state_dir: Path, mappings: tuple[Mapping, ...]) -> str | None:
    """Why `state_dir` cannot be where it is, or None: inside a mapping, syncd would upload
    its own state files (a commit changes them, and so on forever)."""
    state = Path(os.path.realpath(state_dir))
    for i, m in enumerate(mappings):
        inside = state == m.local or (m.subfolders and state.is_relative_to(m.local))
        if inside:
            return (
                f"state_dir: {state} is inside mappings[{i}].local {m.local}; syncd would "
                "upload its own state: put state_dir outside the synced folders"
            )
    return None


def default_state_dir(source: Path | None, environ: cabc.Mapping[str, str]) -> str:
    """Where the state lives when `state_dir` is not set.

    Under systemd, its $STATE_DIRECTORY. Otherwise, for a config in `<root>/etc/syncd/`
    (normally /etc/syncd), the service's own directory, so that an operator's `syncd status
    -c /etc/syncd/reports.yaml` finds what the service synced: `<root>/var/lib/syncd` for
    config.yaml (syncd.service: StateDirectory=syncd) and `<root>/var/lib/syncd/NAME` for
    NAME.yaml (syncd@NAME.service: StateDirectory=syncd/%i). Else ~/.local/state/syncd.
    """
    from_systemd = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if from_systemd:
        return from_systemd
    if source is None or source.suffix not in (".yaml", ".yml"):
        return "~/.local/state/syncd"
    folder = source.parent
    if (folder.name, folder.parent.name) != ("syncd", "etc"):
        return "~/.local/state/syncd"
    state = folder.parent.parent / "var" / "lib" / "syncd"
    return str(state if source.stem == "config" else state / source.stem)


def read_state_dir(root: Section, source: Path | None) -> Path:
    default = default_state_dir(source, root.environ)
    return Path(os.path.abspath(os.path.expanduser(root.text("state_dir", default))))


def read_sync(sec: Section) -> SyncSettings:
    sec.check_keys(_SYNC_KEYS)
    d = SyncSettings()
    return SyncSettings(
        conflict_strategy=sec.value(
            "conflict_strategy", d.conflict_strategy, enum_value(ConflictStrategy)
        ),
        settle_seconds=sec.value("settle_seconds", d.settle_seconds, number(0, strict=False)),
        rescan_interval_seconds=sec.value(
            "rescan_interval_seconds", d.rescan_interval_seconds, number(0, strict=True)
        ),
        scan_stall_seconds=sec.value(
            "scan_stall_seconds", d.scan_stall_seconds, number(0, strict=True)
        ),
        workers=sec.value("workers", d.workers, integer(1, 64)),
        follow_symlinks=sec.value("follow_symlinks", d.follow_symlinks, FLAG),
        allow_empty_overwrite=sec.value("allow_empty_overwrite", d.allow_empty_overwrite, FLAG),
        shutdown_timeout_seconds=sec.value(
            "shutdown_timeout_seconds", d.shutdown_timeout_seconds, number(0, strict=False)
        ),
        max_queue=sec.value("max_queue", d.max_queue, integer(1, None)),
        adopt=sec.value("adopt", d.adopt, enum_value(AdoptMode)),
        on_remote_change=sec.value(
            "on_remote_change", d.on_remote_change, enum_value(RemoteChangePolicy)
        ),
        remote_check_interval_seconds=sec.value(
            "remote_check_interval_seconds",
            d.remote_check_interval_seconds,
            number(0, strict=False),
        ),
        renames=sec.value("renames", d.renames, enum_value(RenameMode)),
        deletes=sec.value("deletes", d.deletes, enum_value(DeleteMode)),
        trash_folder=sec.text("trash_folder", d.trash_folder, check=_trash_folder_error),
        trash_retention_days=sec.value(
            "trash_retention_days", d.trash_retention_days, integer(0, None)
        ),
        max_delete=sec.value("max_delete", d.max_delete, integer(0, None)),
        max_delete_percent=sec.value("max_delete_percent", d.max_delete_percent, percent()),
        bwlimit=sec.value("bwlimit", d.bwlimit, bandwidth()),
    )


def read_watch(sec: Section) -> WatchSettings:
    sec.check_keys(_WATCH_KEYS)
    d = WatchSettings()
    return WatchSettings(
        mode=sec.value("mode", d.mode, enum_value(WatchMode)),
        poll_interval_seconds=sec.value(
            "poll_interval_seconds", d.poll_interval_seconds, number(0, strict=True)
        ),
    )


def read_metrics(sec: Section) -> MetricsSettings:
    sec.check_keys(_METRICS_KEYS)
    settings = MetricsSettings(
        listen=sec.text("listen", "", check=_listen_error),
        textfile=sec.text("textfile", ""),
    )
    wanted = settings.listen or settings.textfile
    if wanted and importlib.util.find_spec("prometheus_client") is None:
        sec.report("listen" if settings.listen else "textfile", METRICS_HINT)
    if settings.textfile and not Path(settings.textfile).parent.is_dir():
        sec.report("textfile", f"folder does not exist: {Path(settings.textfile).parent}")
    return settings


def _trash_folder_error(value: str) -> str | None:
    if "/" in value or value in (".", "..") or name_problem(value) is not None:
        return f"must be a plain folder name, got {value!r}"
    return None


def _listen_error(value: str) -> str | None:
    _host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and 0 < int(port) < 65536:
        return None
    return f"must be HOST:PORT (e.g. 127.0.0.1:9464), got {value!r}"


def read_log(sec: Section) -> LogSettings:
    sec.check_keys(_LOG_KEYS)
    return LogSettings(
        format=sec.value("format", "auto", choice(LOG_FORMATS)),
        level=sec.value("level", "info", choice(LOG_LEVELS)),
    )
