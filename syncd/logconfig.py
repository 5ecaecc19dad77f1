"""structlog + stdlib logging in one formatter, with secret redaction.

JSON lines to stderr when not on a TTY (journald), console rendering on a TTY. watchdog's
and urllib3's stdlib records go through the same processors. Tracebacks never carry
locals (structlog's default would put tokens and signed URLs held in locals into the
journal). A redaction processor removes registered secrets (app secret, access tokens,
OSS Authorization values) and query strings of URLs from every string in every event.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_secret_re: re.Pattern[str] | None = None
_QUERY_RE = re.compile(r"(https?://[^\s?#\"']+)\?[^\s\"']*")
REDACTED = "<redacted>"


def register_secret(value: str) -> None:
    """Never let `value` reach a log line (min. 6 characters, shorter values are ignored)."""
    global _secret_re
    if not value or len(value) < 6:
        return
    with _secrets_lock:
        if value in _secrets:
            return
        _secrets.add(value)
        _secret_re = re.compile("|".join(re.escape(s) for s in sorted(_secrets, key=len,
                                                                        reverse=True)))


def redact_text(text: str) -> str:
    """`text` with registered secrets and URL query strings replaced."""
    pattern = _secret_re
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
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


def redact(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: scrub secrets from every value (runs after exceptions render)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact_value(value)
    return event_dict


class _RedactingConsoleRenderer:
    """ConsoleRenderer whose finished text (tracebacks included) is scrubbed too."""

    def __init__(self, colors: bool) -> None:
        self._inner = structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=structlog.dev.plain_traceback)

    def __call__(self, logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> str:
        return redact_text(self._inner(logger, name, event_dict))


def resolve_format(fmt: str) -> str:
    if fmt == "auto":
        return "console" if sys.stderr.isatty() else "json"
    return fmt


def configure_logging(*, level: str = "info", fmt: str = "auto",
                      stream: Any = None) -> str:
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
        final = [redact, _RedactingConsoleRenderer(colors=stream.isatty())]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "watchdog"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return fmt
