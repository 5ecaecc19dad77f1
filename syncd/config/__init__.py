"""config (layer 1): the YAML file -> a validated `Config` (the value types live in
`syncd.core.settings` and are re-exported here for the layers above).

May import: `syncd.core`. Never imports the layers above it.
"""

from syncd.config.load import find_config, load, parse, state_dir_problem
from syncd.config.sections import default_state_dir
from syncd.core.settings import (
    CONFLICT_STRATEGIES,
    DEFAULT_API_BASE,
    LOG_FORMATS,
    LOG_LEVELS,
    SYSTEM_CONFIG,
    AdoptMode,
    Config,
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

__all__ = [
    "CONFLICT_STRATEGIES",
    "DEFAULT_API_BASE",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "SYSTEM_CONFIG",
    "AdoptMode",
    "Config",
    "ConflictStrategy",
    "DeleteMode",
    "DingTalkSettings",
    "LogSettings",
    "Mapping",
    "MetricsSettings",
    "RemoteChangePolicy",
    "RenameMode",
    "SyncSettings",
    "WatchMode",
    "WatchSettings",
    "default_state_dir",
    "find_config",
    "load",
    "parse",
    "state_dir_problem",
]
