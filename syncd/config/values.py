"""Reading one config section: `${VAR}` expansion, typed values and their checks.

Every problem is collected with its key path, never raised at the first one.
"""

from __future__ import annotations

import collections.abc as cabc
import enum
import importlib.util
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ABSENT: Any = object()  # key missing or null
BAD: Any = object()  # a problem was already reported for this value
_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.StrEnum)


def kind_of(value: object) -> str:
    kinds = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }
    return kinds.get(type(value), type(value).__name__)


def shown(value: object) -> str:
    """Describe a wrong value: repr of a short scalar, else its YAML kind."""
    short = isinstance(value, str | int | float | bool) and len(repr(value)) <= 60
    return repr(value) if short else kind_of(value)


def expand(text: str, environ: cabc.Mapping[str, str]) -> tuple[str, list[str], list[str]]:
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


def scalar(text: str) -> object:
    """Read an expanded string as a YAML scalar, so ``workers: ${W:-8}`` gives an integer."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None else value


class Section:
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

    def child(self, path: str, value: object) -> Section | None:
        """A nested section at `path` (absent counts as empty); None if it is not a mapping."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.problems.append(f"{path}: must be a mapping, got {kind_of(value)}")
            return None
        return Section(value, path, self.problems, self.environ, self.notes)

    def section(self, key: str) -> Section:
        return self.child(self.at(key), self.data.get(key)) or Section({}, "", [], self.environ, [])

    def check_keys(self, known: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in known:
                self.report(str(key), f"unknown key (known keys: {', '.join(known)})")

    def expand(self, where: str, value: object, tolerate_unset: bool = False) -> tuple[Any, bool]:
        """Return (value with ${VAR}s expanded, whether it held a reference)."""
        if not isinstance(value, str) or "${" not in value:
            return (ABSENT if value is None else value), False
        text, errors, unset = expand(value, self.environ)
        if unset and tolerate_unset and not errors:
            names = ", ".join(f"${{{n}}}" for n in unset)
            self.notes.append(f"{where}: {names} not set here (read when the service starts)")
            return ABSENT, True
        errors += [f"environment variable {name} is not set" for name in unset]
        self.problems.extend(f"{where}: {error}" for error in dict.fromkeys(errors))
        return (BAD if errors else text), True

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
        if value is BAD:
            return fallback
        if value is ABSENT or value == "":
            if default is None and not tolerate:
                self.report(key, "required" if value is ABSENT else "must not be empty")
            return fallback
        if not isinstance(value, str):
            self.report(key, f"must be a string, got {kind_of(value) if secret else shown(value)}")
            return fallback
        error = check(value) if check else None
        if error:
            self.report(key, error)
            return fallback
        return value

    def value(self, key: str, default: _T, rule: tuple[Callable[[Any], _T | None], str]) -> _T:
        """A typed value: `rule` is (convert or None, what it must be); expanded text is re-read."""
        value, expanded = self.raw(key)
        if value is ABSENT or value is BAD:
            return default
        if expanded and isinstance(value, str):
            value = scalar(value)
        convert, expected = rule
        result = convert(value)
        if result is None:
            self.report(key, f"must be {expected}, got {shown(value)}")
            return default
        return result

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.report(key, f"must be a list of strings, got {kind_of(value)}")
            return ()
        items = []
        for i, item in enumerate(value):
            where = f"{self.at(key)}[{i}]"
            text, _ = self.expand(where, item)
            if text is BAD:
                continue
            if not isinstance(text, str) or not text:
                self.problems.append(f"{where}: must be a non-empty string, got {shown(item)}")
            else:
                items.append(text)
        return tuple(items)


def number(minimum: float, *, strict: bool) -> tuple[Callable[[Any], float | None], str]:
    def convert(value: Any) -> float | None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        n = float(value) if isinstance(value, float) or abs(value) < 2**53 else math.inf
        return n if math.isfinite(n) and (n > minimum if strict else n >= minimum) else None

    return convert, f"a number {'>' if strict else '>='} {minimum:g}"


def integer(low: int, high: int | None) -> tuple[Callable[[Any], int | None], str]:
    def convert(value: Any) -> int | None:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value if ok and low <= value and (high is None or value <= high) else None

    bounds = f"between {low} and {high}" if high is not None else f">= {low}"
    return convert, f"an integer {bounds}"


def choice(choices: tuple[str, ...]) -> tuple[Callable[[Any], str | None], str]:
    """Matched case-insensitively, returned in the spelling of `choices`."""
    by_fold = {c.casefold(): c for c in choices}
    return (
        lambda v: by_fold.get(v.casefold()) if isinstance(v, str) else None,
        f"one of {', '.join(choices)}",
    )


def enum_value(kind: type[_E]) -> tuple[Callable[[Any], _E | None], str]:
    """A StrEnum member, matched case-insensitively."""
    by_fold = {m.value.casefold(): m for m in kind}
    return (
        lambda v: by_fold.get(v.casefold()) if isinstance(v, str) else None,
        f"one of {', '.join(m.value for m in kind)}",
    )


def percent() -> tuple[Callable[[Any], float | None], str]:
    convert, _ = number(0, strict=False)
    return (lambda v: n if (n := convert(v)) is not None and n <= 100 else None), (
        "a number between 0 and 100"
    )


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def bandwidth() -> tuple[Callable[[Any], int | None], str]:
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


FLAG: tuple[Callable[[Any], bool | None], str] = (
    lambda v: v if isinstance(v, bool) else None,
    "true or false",
)


def http_url_error(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return None
    return f"must be an http:// or https:// URL, got {value!r}"


REDIS_SCHEMES = ("redis", "rediss", "unix")


def rate_limit_error(value: str) -> str | None:
    """Why `value` is not a usable `dingtalk.rate_limit` (`local` or a Redis URL), or None.

    Checked whole here, so that a typo is a config error at load (exit 3), never a crash
    of `sync` or `run` when the limiter starts."""
    if value == "local":
        return None
    parts = urlsplit(value)
    if parts.scheme not in REDIS_SCHEMES:
        return "must be `local` or a redis://host:port/db URL (also rediss:// or unix://)"
    if parts.scheme == "unix":
        if not parts.path:
            return f"a unix:// URL needs the socket's path, got {value!r}"
    else:
        try:
            port = parts.port
        except ValueError:
            return f"the port must be a number between 1 and 65535, got {value!r}"
        if port == 0 or not parts.hostname:
            return f"must be redis://HOST:PORT/DB, got {value!r}"
        db = parts.path.strip("/")
        if db and not db.isdigit():
            return f"the database must be a number (redis://HOST:PORT/0), got {value!r}"
    if importlib.util.find_spec("redis") is None:
        return "needs the redis package: pip install 'syncd[redis]'"
    return None


def uuid_error(value: str) -> str | None:
    if "/" in value or ":" in value or any(c.isspace() for c in value):
        return f"must not contain '/', ':' or whitespace, got {value!r}"
    return None
