"""structlog + stdlib logging in one formatter, with secret redaction.

JSON lines to stderr when not on a TTY (journald), console rendering on a TTY. watchdog's
and urllib3's stdlib records go through the same processors. Tracebacks never carry
locals (structlog's default would put tokens and signed URLs held in locals into the
journal). A redaction processor removes registered secrets (app secret, access tokens,
OSS Authorization values) and query strings of URLs from every string in every event. On
the console, control characters and escape sequences in values are shown escaped.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer

from syncd.core.text import terminal_safe

_pinned: set[str] = set()  # the app secret: kept for the life of the process
_recent: dict[str, None] = {}  # access tokens, oldest first; bounded
_secrets_lock = threading.Lock()
_secret_re: re.Pattern[str] | None = None
_QUERY_RE = re.compile(r"(https?://[^\s?#\"']+)\?[^\s\"']*")
# OSS V1 Authorization values ("OSS <AccessKeyId>:<base64 signature>"): new for every upload,
# so they are matched by shape instead of being registered one by one.
_OSS_AUTH_RE = re.compile(r"OSS [A-Za-z0-9._-]{6,}:[A-Za-z0-9+/=]{8,}")
MAX_RECENT = 16
REDACTED = "<redacted>"


def register_secret(value: str, *, pinned: bool = False) -> None:
    """Never let `value` reach a log line (values under 6 characters are ignored).

    Pinned values (the app secret) stay for the life of the process; others (access
    tokens, refreshed every two hours) are kept for the last MAX_RECENT of them.
    """
    global _secret_re
    if not value or len(value) < 6:
        return
    with _secrets_lock:
        if value in _pinned or value in _recent:
            return
        if pinned:
            _pinned.add(value)
        else:
            _recent[value] = None
            while len(_recent) > MAX_RECENT:
                del _recent[next(iter(_recent))]
        every = sorted(_pinned | set(_recent), key=len, reverse=True)
        _secret_re = re.compile("|".join(re.escape(s) for s in every))


def redact_text(text: str) -> str:
    """`text` with registered secrets and URL query strings replaced."""
    pattern = _secret_re
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if "OSS " in text:
        text = _OSS_AUTH_RE.sub("OSS " + REDACTED, text)
    if "?" in text and "://" in text:
        text = _QUERY_RE.sub(r"\1?" + REDACTED, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, BaseException):
        return redact_text(str(value))
    return value


def redact(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: scrub secrets from every value (runs after exceptions render)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact_value(value)
    return event_dict


class _RedactingConsoleRenderer:
    """ConsoleRenderer whose finished text (tracebacks included) is scrubbed too."""

    def __init__(self, colors: bool) -> None:
        self._inner = structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=structlog.dev.plain_traceback
        )

    def __call__(self, logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> str:
        return redact_text(self._inner(logger, name, event_dict))


_RENDERED_APART = frozenset({"exc_info", "exception", "stack"})  # tracebacks: kept as they are


def terminal_fields(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor for the console: every string value made terminal-safe (a
    remote name, a modifier, a remote message may hold escape sequences; the JSON lines
    keep them exact)."""
    for key, value in event_dict.items():
        if isinstance(value, str) and key not in _RENDERED_APART:
            event_dict[key] = terminal_safe(value)
    return event_dict


_QUIET_ON_CONSOLE = ("remote_path", "remote_folder", "dentry_uuid", "parent_dentry_uuid", "root")


def readable(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor for the console: at info and below, no uuids or remote paths,
    and a mapping shown by its folder name (the JSON lines keep everything)."""
    if event_dict.get("level") in ("info", "debug"):
        for key in _QUIET_ON_CONSOLE:
            event_dict.pop(key, None)
        mapping = event_dict.get("mapping")
        if isinstance(mapping, str) and "/" in mapping:
            event_dict["mapping"] = mapping.rstrip("/").rsplit("/", 1)[-1]
    return event_dict


def resolve_format(fmt: str) -> str:
    if fmt == "auto":
        return "console" if sys.stderr.isatty() else "json"
    return fmt


def configure_logging(*, level: str = "info", fmt: str = "auto", stream: Any = None) -> str:
    """Route structlog and stdlib logging through one formatter; return the format used."""
    fmt = resolve_format(fmt)
    stream = stream if stream is not None else sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final: list[Any]
    if fmt == "json":
        final = [
            ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            redact,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ]
    else:
        final = [
            readable,
            terminal_fields,
            redact,
            _RedactingConsoleRenderer(colors=stream.isatty()),
        ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # not cached: structlog.testing.capture_logs cannot see a cached logger, and the
        # proxy's rebuild is lost in the noise next to rendering the line (measured)
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = _Handler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "watchdog"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    global _FORMAT
    _FORMAT = fmt
    return fmt


_FORMAT = "json"
# called before each log line is written: lines written around the logging chain (the
# dry-run's batched plan lines) go out first, so the order of lines is kept
_before_write: list[Callable[[], None]] = []


def before_write(hook: Callable[[], None]) -> None:
    """Call `hook` before every log line is written (once registered, for good)."""
    if hook not in _before_write:
        _before_write.append(hook)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    def emit(self, record: logging.LogRecord) -> None:
        for hook in _before_write:
            hook()
        super().emit(record)


def current_format() -> str:
    """The format `configure_logging` chose ("json" or "console")."""
    return _FORMAT
