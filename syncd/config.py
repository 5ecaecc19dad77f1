"""Load and validate syncd's YAML configuration into frozen dataclasses.

`load()` reads the file and `parse()` (pure: a plain dict and an environment in, a `Config` out)
does the rest. Validation never stops at the first problem: every one is collected with its key
path (``mappings[1].local: folder does not exist: /srv/x``) and raised together as one
`ConfigError`, borgmatic-style. ``${VAR}`` and ``${VAR:-default}`` are expanded in every string
value. The app secret never appears in a message or a repr.
"""

from __future__ import annotations

import collections.abc as cabc
import enum
import itertools
import math
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

from syncd.errors import ConfigError
from syncd.filters import ExcludeRules, name_problem

DEFAULT_API_BASE = "https://api.dingtalk.com"
SYSTEM_CONFIG = Path("/etc/syncd/config.yaml")
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConflictStrategy(enum.StrEnum):
    OVERWRITE = "OVERWRITE"
    AUTO_RENAME = "AUTO_RENAME"


class AdoptMode(enum.StrEnum):
    STAMPED = "stamped"  # adopt a remote twin only when its syncd.sha256 stamp matches
    SIZE = "size"  # also an unstamped twin of the same size (migrating a hand-made upload)


class RemoteChangePolicy(enum.StrEnum):
    OVERWRITE = "overwrite"
    KEEP_BOTH = "keep-both"
    HOLD = "hold"


class RenameMode(enum.StrEnum):
    MOVE = "move"  # server-side rename/move
    UPLOAD = "upload"  # upload again under the new name


class DeleteMode(enum.StrEnum):
    KEEP = "keep"
    TRASH = "trash"


class WatchMode(enum.StrEnum):
    AUTO = "auto"  # events, or polling on network file systems
    EVENTS = "events"
    POLL = "poll"


CONFLICT_STRATEGIES = tuple(ConflictStrategy)


@dataclass(frozen=True, slots=True)
class DingTalkSettings:
    """How to reach DingTalk; credentials are "" when absent and not required."""

    app_key: str
    app_secret: str = field(repr=False)
    union_id: str
    api_base: str = DEFAULT_API_BASE
    qps: float = 20.0
    rate_limit: str = "local"  # or a redis:// URL shared by every host on this app
    connect_timeout: float = 10.0
    read_timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class Mapping:
    """One local folder uploaded under one remote folder (`parent_dentry_uuid`)."""

    local: Path
    parent_dentry_uuid: str
    exclude: tuple[str, ...] = ()
    subfolders: bool = True
    key: str = field(init=False, repr=False, compare=False)  # its name in the state store

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.parent_dentry_uuid}:{self.local}")


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """How uploads are scheduled and guarded."""

    conflict_strategy: ConflictStrategy = ConflictStrategy.OVERWRITE
    settle_seconds: float = 2.0
    rescan_interval_seconds: float = 3600.0
    workers: int = 32  # an upper bound: the concurrency follows the latency
    follow_symlinks: bool = False
    allow_empty_overwrite: bool = False
    shutdown_timeout_seconds: float = 25.0
    max_queue: int = 10000
    adopt: AdoptMode = AdoptMode.STAMPED
    on_remote_change: RemoteChangePolicy = RemoteChangePolicy.OVERWRITE
    remote_check_interval_seconds: float = 0.0
    renames: RenameMode = RenameMode.MOVE
    deletes: DeleteMode = DeleteMode.KEEP
    trash_folder: str = ".syncd-trash"
    trash_retention_days: int = 0
    max_delete: int = 50
    max_delete_percent: float = 10.0
    bwlimit: int = 0  # bytes per second across all PUTs; 0 = unlimited


@dataclass(frozen=True, slots=True)
class WatchSettings:
    mode: WatchMode = WatchMode.AUTO
    poll_interval_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    listen: str = ""  # host:port for /metrics and /healthz
    textfile: str = ""  # or a node_exporter textfile path


@dataclass(frozen=True, slots=True)
class LogSettings:
    """Log rendering (`auto`: console on a TTY, JSON otherwise) and level (lower case)."""

    format: str = "auto"
    level: str = "info"


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    dingtalk: DingTalkSettings
    state_dir: Path
    mappings: tuple[Mapping, ...]
    sync: SyncSettings
    log: LogSettings
    source: Path | None = None
    watch: WatchSettings = field(default_factory=WatchSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    notes: tuple[str, ...] = ()  # what an offline check could not check (e.g. credentials)


_TOP_KEYS = ("dingtalk", "state_dir", "mappings", "sync", "watch", "metrics", "log")
_DINGTALK_KEYS = (
    "app_key",
    "app_secret",
    "app_secret_file",
    "union_id",
    "api_base",
    "qps",
    "rate_limit",
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
)
_WATCH_KEYS = ("mode", "poll_interval_seconds")
_METRICS_KEYS = ("listen", "textfile")
_LOG_KEYS = ("format", "level")

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ABSENT: Any = object()  # key missing or null
_BAD: Any = object()  # a problem was already reported for this value
_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.StrEnum)


def _kind(value: object) -> str:
    kinds = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }
    return kinds.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    """Describe a wrong value: repr of a short scalar, else its YAML kind."""
    short = isinstance(value, str | int | float | bool) and len(repr(value)) <= 60
    return repr(value) if short else _kind(value)


def _expand(text: str, environ: cabc.Mapping[str, str]) -> tuple[str, list[str], list[str]]:
    """Expand ``${VAR}`` and ``${VAR:-default}``; return (text, reference errors, unset names)."""
    errors: list[str] = []
    unset: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, sep, default = match.group(1).partition(":-")
        if not _NAME.fullmatch(name) or "${" in default:
            errors.append("invalid variable reference (use ${NAME} or ${NAME:-default})")
            return ""
        value = environ.get(name)
        if sep and not value:
            return default
        if value is None:
            unset.append(name)
            return ""
        return value

    result = _REFERENCE.sub(substitute, text)
    if "${" in _REFERENCE.sub("", text):
        errors.append("unterminated variable reference '${' (use ${NAME} or ${NAME:-default})")
    return result, errors, unset


def _scalar(text: str) -> object:
    """Read an expanded string as a YAML scalar, so ``workers: ${W:-8}`` gives an integer."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None else value


class _Section:
    """One YAML mapping being read: typed getters that record problems under their key path."""

    def __init__(
        self,
        data: dict[Any, Any],
        path: str,
        problems: list[str],
        environ: cabc.Mapping[str, str],
        notes: list[str] | None = None,
    ) -> None:
        self.data, self.path, self.problems, self.environ = data, path, problems, environ
        self.notes = notes if notes is not None else []

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def report(self, key: str, message: str) -> None:
        self.problems.append(f"{self.at(key)}: {message}")

    def child(self, path: str, value: object) -> _Section | None:
        """A nested section at `path` (absent counts as empty); None if it is not a mapping."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.problems.append(f"{path}: must be a mapping, got {_kind(value)}")
            return None
        return _Section(value, path, self.problems, self.environ, self.notes)

    def section(self, key: str) -> _Section:
        return self.child(self.at(key), self.data.get(key)) or _Section(
            {}, "", [], self.environ, []
        )

    def check_keys(self, known: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in known:
                self.report(str(key), f"unknown key (known keys: {', '.join(known)})")

    def expand(self, where: str, value: object, tolerate_unset: bool = False) -> tuple[Any, bool]:
        """Return (value with ${VAR}s expanded, whether it held a reference)."""
        if not isinstance(value, str) or "${" not in value:
            return (_ABSENT if value is None else value), False
        text, errors, unset = _expand(value, self.environ)
        if unset and tolerate_unset and not errors:
            names = ", ".join(f"${{{n}}}" for n in unset)
            self.notes.append(f"{where}: {names} not set here (read when the service starts)")
            return _ABSENT, True
        errors += [f"environment variable {name} is not set" for name in unset]
        self.problems.extend(f"{where}: {error}" for error in dict.fromkeys(errors))
        return (_BAD if errors else text), True

    def raw(self, key: str, tolerate_unset: bool = False) -> tuple[Any, bool]:
        return self.expand(self.at(key), self.data.get(key), tolerate_unset)

    def text(
        self,
        key: str,
        default: str | None = None,
        *,
        secret: bool = False,
        tolerate: bool = False,
        check: Callable[[str], str | None] | None = None,
    ) -> str:
        """A string; required unless `default` is given or `tolerate` (then ""); "" = default."""
        value, _ = self.raw(key, tolerate_unset=tolerate)
        fallback = default if default is not None else ""
        if value is _BAD:
            return fallback
        if value is _ABSENT or value == "":
            if default is None and not tolerate:
                self.report(key, "required" if value is _ABSENT else "must not be empty")
            return fallback
        if not isinstance(value, str):
            self.report(key, f"must be a string, got {_kind(value) if secret else _show(value)}")
            return fallback
        error = check(value) if check else None
        if error:
            self.report(key, error)
            return fallback
        return value

    def value(self, key: str, default: _T, rule: tuple[Callable[[Any], _T | None], str]) -> _T:
        """A typed value: `rule` is (convert or None, what it must be); expanded text is re-read."""
        value, expanded = self.raw(key)
        if value is _ABSENT or value is _BAD:
            return default
        if expanded and isinstance(value, str):
            value = _scalar(value)
        convert, expected = rule
        result = convert(value)
        if result is None:
            self.report(key, f"must be {expected}, got {_show(value)}")
            return default
        return result

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.report(key, f"must be a list of strings, got {_kind(value)}")
            return ()
        items = []
        for i, item in enumerate(value):
            where = f"{self.at(key)}[{i}]"
            text, _ = self.expand(where, item)
            if text is _BAD:
                continue
            if not isinstance(text, str) or not text:
                self.problems.append(f"{where}: must be a non-empty string, got {_show(item)}")
            else:
                items.append(text)
        return tuple(items)


def _number(minimum: float, *, strict: bool) -> tuple[Callable[[Any], float | None], str]:
    def convert(value: Any) -> float | None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        n = float(value) if isinstance(value, float) or abs(value) < 2**53 else math.inf
        return n if math.isfinite(n) and (n > minimum if strict else n >= minimum) else None

    return convert, f"a number {'>' if strict else '>='} {minimum:g}"


def _integer(low: int, high: int | None) -> tuple[Callable[[Any], int | None], str]:
    def convert(value: Any) -> int | None:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value if ok and low <= value and (high is None or value <= high) else None

    bounds = f"between {low} and {high}" if high is not None else f">= {low}"
    return convert, f"an integer {bounds}"


def _choice(choices: tuple[str, ...]) -> tuple[Callable[[Any], str | None], str]:
    """Matched case-insensitively, returned in the spelling of `choices`."""
    by_fold = {c.casefold(): c for c in choices}
    return (
        lambda v: by_fold.get(v.casefold()) if isinstance(v, str) else None,
        f"one of {', '.join(choices)}",
    )


def _enum(kind: type[_E]) -> tuple[Callable[[Any], _E | None], str]:
    """A StrEnum member, matched case-insensitively."""
    by_fold = {m.value.casefold(): m for m in kind}
    return (
        lambda v: by_fold.get(v.casefold()) if isinstance(v, str) else None,
        f"one of {', '.join(m.value for m in kind)}",
    )


def _percent() -> tuple[Callable[[Any], float | None], str]:
    convert, _ = _number(0, strict=False)
    return (lambda v: n if (n := convert(v)) is not None and n <= 100 else None), (
        "a number between 0 and 100"
    )


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _bandwidth() -> tuple[Callable[[Any], int | None], str]:
    """Bytes per second: an integer, or a number with K, M or G (binary), e.g. `10M`."""

    def convert(value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value if value >= 0 else None
        if not isinstance(value, str):
            return None
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B?)?(?:/s)?\s*", value, re.I)
        return int(float(m.group(1)) * _UNITS[m.group(2).upper()]) if m else None

    return convert, "bytes per second, e.g. 10M or 512K (0 = unlimited)"


_FLAG: tuple[Callable[[Any], bool | None], str] = (
    lambda v: v if isinstance(v, bool) else None,
    "true or false",
)


def _http_url_error(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return None
    return f"must be an http:// or https:// URL, got {value!r}"


def _rate_limit_error(value: str) -> str | None:
    from syncd.ratelimit_shared import url_error

    return url_error(value)


def _uuid_error(value: str) -> str | None:
    if "/" in value or ":" in value or any(c.isspace() for c in value):
        return f"must not contain '/', ':' or whitespace, got {value!r}"
    return None


def _read_secret(sec: _Section, path: Path, tolerate: bool) -> str:
    """The stripped contents of `app_secret_file`; the problem names the file, never the content."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        problem = f"cannot read {path}: {exc.strerror or type(exc).__name__}"
    except UnicodeDecodeError:
        problem = f"not valid UTF-8: {path}"
    else:
        if secret:
            return secret
        problem = f"file is empty: {path}"
    if not tolerate:
        sec.report("app_secret_file", problem)
    return ""


def _secret(sec: _Section, tolerate: bool) -> str:
    inline, in_file = (sec.data.get(k) is not None for k in ("app_secret", "app_secret_file"))
    if inline and in_file:
        sec.report("app_secret_file", "cannot be used together with app_secret")
        return ""
    if in_file:
        name = sec.text("app_secret_file", tolerate=tolerate)
        return _read_secret(sec, Path(name).expanduser(), tolerate) if name else ""
    if not inline and not tolerate:
        sec.report("app_secret", "required (or app_secret_file)")
        return ""
    return sec.text("app_secret", secret=True, tolerate=tolerate)


def _dingtalk(sec: _Section, require_credentials: bool) -> DingTalkSettings:
    sec.check_keys(_DINGTALK_KEYS)
    tolerate = not require_credentials
    return DingTalkSettings(
        app_key=sec.text("app_key", tolerate=tolerate),
        app_secret=_secret(sec, tolerate),
        union_id=sec.text("union_id", tolerate=tolerate),
        api_base=sec.text("api_base", DEFAULT_API_BASE, check=_http_url_error).rstrip("/"),
        qps=sec.value("qps", 20.0, _number(0, strict=True)),
        rate_limit=sec.text("rate_limit", "local", check=_rate_limit_error),
        connect_timeout=sec.value("connect_timeout_seconds", 10.0, _number(0, strict=True)),
        read_timeout=sec.value("read_timeout_seconds", 60.0, _number(0, strict=True)),
    )


def _folder(sec: _Section, raw: str) -> Path | None:
    """`raw` made absolute with symlinks resolved, if it is an existing directory."""
    try:
        path = Path(raw).expanduser().resolve()
        mode = path.stat().st_mode
    except FileNotFoundError:
        sec.report("local", f"folder does not exist: {Path(raw).expanduser().absolute()}")
        return None
    except (OSError, RuntimeError, ValueError) as exc:  # ValueError: an embedded NUL
        sec.report("local", f"cannot access {raw!r}: {getattr(exc, 'strerror', None) or exc}")
        return None
    if not stat.S_ISDIR(mode):
        sec.report("local", f"not a directory: {path}")
        return None
    return path


def _mapping(sec: _Section) -> Mapping | None:
    sec.check_keys(_MAPPING_KEYS)
    raw = sec.text("local")
    local = _folder(sec, raw) if raw else None
    uuid = sec.text("parent_dentry_uuid", check=_uuid_error)
    exclude = sec.text_list("exclude")
    for i, pattern in enumerate(exclude):
        try:
            ExcludeRules([pattern])
        except (re.error, ValueError) as exc:
            sec.report(f"exclude[{i}]", f"invalid pattern {pattern!r}: {exc}")
    subfolders = sec.value("subfolders", True, _FLAG)
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


def _mappings(root: _Section) -> tuple[Mapping, ...]:
    value = root.data.get("mappings")
    if not isinstance(value, list) or not value:
        problem = (
            "required"
            if value is None
            else "must contain at least one mapping"
            if value == []
            else f"must be a list of mappings, got {_show(value)}"
        )
        root.report("mappings", problem)
        return ()
    found: list[tuple[int, Mapping]] = []
    for i, item in enumerate(value):
        sec = root.child(f"mappings[{i}]", item)
        mapping = _mapping(sec) if sec else None
        if mapping:
            found.append((i, mapping))
    for (i, a), (j, b) in itertools.combinations(found, 2):
        overlap = _overlap(i, a, j, b)
        if overlap:
            root.problems.append(overlap)
    return tuple(m for _, m in found)


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


def _state_dir(root: _Section, source: Path | None) -> Path:
    default = default_state_dir(source, root.environ)
    return Path(os.path.abspath(os.path.expanduser(root.text("state_dir", default))))


def _sync(sec: _Section) -> SyncSettings:
    sec.check_keys(_SYNC_KEYS)
    d = SyncSettings()
    return SyncSettings(
        conflict_strategy=sec.value(
            "conflict_strategy", d.conflict_strategy, _enum(ConflictStrategy)
        ),
        settle_seconds=sec.value("settle_seconds", d.settle_seconds, _number(0, strict=False)),
        rescan_interval_seconds=sec.value(
            "rescan_interval_seconds", d.rescan_interval_seconds, _number(0, strict=True)
        ),
        workers=sec.value("workers", d.workers, _integer(1, 64)),
        follow_symlinks=sec.value("follow_symlinks", d.follow_symlinks, _FLAG),
        allow_empty_overwrite=sec.value("allow_empty_overwrite", d.allow_empty_overwrite, _FLAG),
        shutdown_timeout_seconds=sec.value(
            "shutdown_timeout_seconds", d.shutdown_timeout_seconds, _number(0, strict=False)
        ),
        max_queue=sec.value("max_queue", d.max_queue, _integer(1, None)),
        adopt=sec.value("adopt", d.adopt, _enum(AdoptMode)),
        on_remote_change=sec.value(
            "on_remote_change", d.on_remote_change, _enum(RemoteChangePolicy)
        ),
        remote_check_interval_seconds=sec.value(
            "remote_check_interval_seconds",
            d.remote_check_interval_seconds,
            _number(0, strict=False),
        ),
        renames=sec.value("renames", d.renames, _enum(RenameMode)),
        deletes=sec.value("deletes", d.deletes, _enum(DeleteMode)),
        trash_folder=sec.text("trash_folder", d.trash_folder, check=_trash_folder_error),
        trash_retention_days=sec.value(
            "trash_retention_days", d.trash_retention_days, _integer(0, None)
        ),
        max_delete=sec.value("max_delete", d.max_delete, _integer(0, None)),
        max_delete_percent=sec.value("max_delete_percent", d.max_delete_percent, _percent()),
        bwlimit=sec.value("bwlimit", d.bwlimit, _bandwidth()),
    )


def _watch(sec: _Section) -> WatchSettings:
    sec.check_keys(_WATCH_KEYS)
    d = WatchSettings()
    return WatchSettings(
        mode=sec.value("mode", d.mode, _enum(WatchMode)),
        poll_interval_seconds=sec.value(
            "poll_interval_seconds", d.poll_interval_seconds, _number(0, strict=True)
        ),
    )


def _metrics(sec: _Section) -> MetricsSettings:
    sec.check_keys(_METRICS_KEYS)
    settings = MetricsSettings(
        listen=sec.text("listen", "", check=_listen_error),
        textfile=sec.text("textfile", ""),
    )
    if settings.listen or settings.textfile:
        from syncd.metrics import EXTRA_HINT, available

        if not available():
            sec.report("listen" if settings.listen else "textfile", EXTRA_HINT)
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


def _log(sec: _Section) -> LogSettings:
    sec.check_keys(_LOG_KEYS)
    return LogSettings(
        format=sec.value("format", "auto", _choice(LOG_FORMATS)),
        level=sec.value("level", "info", _choice(LOG_LEVELS)),
    )


def parse(
    data: object,
    *,
    source: str | None = None,
    require_credentials: bool = True,
    environ: cabc.Mapping[str, str] | None = None,
) -> Config:
    """Validate already-loaded YAML `data` into a `Config`; raise `ConfigError` with every problem.

    With ``require_credentials=False`` (dry-run) a missing or unset app key, secret or union id
    becomes "" instead of a problem. `environ` defaults to `os.environ`.
    """
    env = os.environ if environ is None else environ
    if data is None:
        raise ConfigError(["the configuration is empty"], source)
    if not isinstance(data, dict):
        raise ConfigError([f"the top level must be a mapping of keys, got {_kind(data)}"], source)
    problems: list[str] = []
    root = _Section(data, "", problems, env)
    root.check_keys(_TOP_KEYS)
    config = Config(
        dingtalk=_dingtalk(root.section("dingtalk"), require_credentials),
        state_dir=_state_dir(root, Path(source) if source else None),
        mappings=_mappings(root),
        sync=_sync(root.section("sync")),
        log=_log(root.section("log")),
        source=Path(source) if source else None,
        watch=_watch(root.section("watch")),
        metrics=_metrics(root.section("metrics")),
        notes=tuple(root.notes),
    )
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


def load(path: Path | str, *, require_credentials: bool = True) -> Config:
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
    return parse(data, source=source, require_credentials=require_credentials)


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
