"""Pure rules about names and paths: built-in ignores, `exclude` patterns, remote name rules.

Nothing here touches the file system, so every rule is tested with plain strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import translate
from typing import Any

# Lock, temp and partial files of office suites, editors, browsers and file systems
# (Nextcloud's sync-exclude.lst is the model): never uploaded, never reported above debug.
BUILTIN_IGNORES: tuple[str, ...] = (
    "*~",
    ".~lock.*#",
    "~$*",
    ".*.sw?",
    "*.swp",
    "*.tmp",
    "*.part",
    "*.partial",
    "*.crdownload",
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    ".fuse_hidden*",
    ".nfs*",
)

# A single PUT stores at most 5 GiB (dingtalk-api.md §8.8); multipart is a later feature.
MAX_SINGLE_UPLOAD = 5 * 1024**3
TOO_LARGE_REASON = "too large for single upload (limit 5 GiB)"

_FORBIDDEN_CHARS = {"\t": "tab", "*": "'*'", '"': "'\"'", "<": "'<'", ">": "'>'", "|": "'|'"}


IGNORE_RE = re.compile("|".join(f"(?:{translate(p)})" for p in BUILTIN_IGNORES))
# one pass over the name finds every candidate problem; the slow path says which rule
SUSPECT_RE = re.compile('[\t*"<>|\x00-\x1f\x7f\udc80-\udcff]|\\.\\Z|\\A | \\Z')


def is_builtin_ignored(name: str) -> bool:
    """True when `name` (a base name) matches one of the built-in ignore patterns."""
    return IGNORE_RE.match(name) is not None


def name_problem(name: str) -> str | None:
    """Return which remote naming rule `name` breaks, or None when it is acceptable.

    The remote trims leading/trailing spaces and rejects tab, ``* " < > |`` and a trailing
    dot (dingtalk-api.md §4.1); syncd refuses such names itself, together with control
    characters and names that are not valid UTF-8 (they arrive as surrogate escapes).
    """
    if SUSPECT_RE.search(name) is None:
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8"
    if name != name.strip(" "):
        return "leading or trailing space"
    for char, label in _FORBIDDEN_CHARS.items():
        if char in name:
            return f"contains {label}"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains a control character"
    if name.endswith("."):
        return "ends with '.'"
    return None


def _translate(pattern: str) -> str:
    """Translate a gitignore-like glob (without anchoring) into a regex body."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def has_gitignore() -> bool:
    """Whether the `gitignore` extra (pathspec) is installed."""
    import importlib.util

    return importlib.util.find_spec("pathspec") is not None


class ExcludeRules:
    """A mapping's `exclude` patterns, with .gitignore's meaning.

    With the `gitignore` extra (pathspec, a well-kept implementation of git's rules) every
    .gitignore rule applies, negation (`!keep.bak`) included. Without it, the same rules
    minus negation:
    - a pattern without ``/`` matches a file or directory name at any depth (``*.bak``);
    - a trailing ``/`` restricts it to directories (``drafts/``);
    - a pattern with a ``/`` inside (or a leading one) is anchored at the mapping root;
    - ``**`` matches any number of directories.
    A directory that matches is not descended into (as in git, a file below it cannot be
    re-included).
    """

    def __reduce__(self) -> tuple[type[ExcludeRules], tuple[tuple[str, ...]]]:
        """Pickled as its patterns (a rescan's helper process builds the rules again)."""
        return (ExcludeRules, (self.patterns,))

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p for p in patterns if p.strip())
        self._spec: Any = None
        if self.patterns and has_gitignore():
            import pathspec

            self._spec = pathspec.GitIgnoreSpec.from_lines(self.patterns)
        elif any(p.strip().startswith("!") for p in self.patterns):
            raise ValueError(
                "a '!' pattern needs the gitignore extra: pip install 'syncd[gitignore]'"
            )
        self._rules: list[tuple[re.Pattern[str], bool, bool]] = []
        for raw in self.patterns:
            pattern = raw.strip()
            if not pattern:
                continue
            dir_only = pattern.endswith("/")
            pattern = pattern.rstrip("/")
            anchored = "/" in pattern
            pattern = pattern.lstrip("/")
            regex = re.compile(_translate(pattern) + r"\Z", re.DOTALL)
            self._rules.append((regex, dir_only, anchored))

    def __bool__(self) -> bool:
        return bool(self._rules) or self._spec is not None

    def excluded(self, rel_path: str, *, is_dir: bool) -> bool:
        """True when the entry at `rel_path` ("/"-separated, relative to the root) is excluded."""
        if self._spec is not None:
            return bool(self._spec.match_file(rel_path + "/" if is_dir else rel_path))
        name = rel_path.rsplit("/", 1)[-1]
        for regex, dir_only, anchored in self._rules:
            if dir_only and not is_dir:
                continue
            if regex.match(rel_path if anchored else name):
                return True
        return False
