"""syncd's configuration as frozen dataclasses and enums (what `syncd.config` builds)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

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
    monthly_call_budget: int = 0  # metered calls syncd may spend a month (0 = no own cap)
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
    scan_stall_seconds: float = 300.0  # a scan's helper process silent this long is killed


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
