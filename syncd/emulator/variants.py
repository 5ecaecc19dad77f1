"""Tenant variants (§15.3): behaviours the docs leave open, each a switch per space.

§15.3 lists what a probe must find out about a tenant; each variant is one answer the
emulator can give, so a test can prove that syncd adapts to it. A variant is on for every
space or only for the spaces named by their root folder's uuid. The behaviours (all
inferred; the codes are the documented ones of the calls concerned):

- ``listing-without-app-properties`` (§15.3.1): ListDentries entries carry no
  ``appProperties`` at all; GetDentry with ``appIdsForAppProperties`` still shows them.
- ``upload-info-refuses-existing-name`` (§15.3.2): upload info whose
  ``option.preCheckParam.name`` is the name of a dentry in the parent folder answers 400
  ``dentryNameConflict`` and issues no key.
- ``no-folder-api`` (§15.3.3): v1.0 add-folder answers 400 ``operationNotSupported``.
- ``no-rename-move`` (§15.3.3): v1.0 rename and move answer 400 ``operationNotSupported``
  (a move when either the dentry's space or the target folder's has it).
- ``etag-not-md5`` (§15.3.4): every OSS PUT answers 200 with an ETag that is not the body's
  MD5 (and no Content-MD5); ``no-etag``: 200 with neither (it wins over ``etag-not-md5``).
- ``commit-without-version`` (§15.3.4): the commit answer's dentry has no ``version``; the
  file still gets its new version, which get and list show.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

VARIANTS = (
    "listing-without-app-properties",
    "upload-info-refuses-existing-name",
    "no-folder-api",
    "no-rename-move",
    "etag-not-md5",
    "no-etag",
    "commit-without-version",
)
NOT_SUPPORTED = "the operation is not supported for this space"


def check_name(name: str) -> str:
    """``name`` if it is a known variant, else ValueError listing the known ones."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {', '.join(VARIANTS)}")
    return name


@dataclass(slots=True)
class _Switch:
    everywhere: bool = False
    spaces: set[str] = field(default_factory=set)  # on here (root uuids)
    excluded: set[str] = field(default_factory=set)  # off here although on everywhere


class Variants:
    """Which variants are on, and where; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._switches: dict[str, _Switch] = {}

    def set(self, name: str, on: bool = True, root_uuid: str | None = None) -> None:
        """Turn ``name`` on or off for every space (``root_uuid`` None) or for one."""
        check_name(name)
        with self._lock:
            switch = self._switches.setdefault(name, _Switch())
            if root_uuid is None:
                switch.everywhere = on
                switch.spaces.clear()
                switch.excluded.clear()
            elif on:
                switch.spaces.add(root_uuid)
                switch.excluded.discard(root_uuid)
            else:
                switch.spaces.discard(root_uuid)
                switch.excluded.add(root_uuid)

    def active(self, name: str, root_uuid: str | None) -> bool:
        """Is ``name`` on in the space whose root folder is ``root_uuid`` (None: unknown
        space, where only a variant that is on everywhere applies)?"""
        with self._lock:
            switch = self._switches.get(name)
            if switch is None:
                return False
            if root_uuid is None:
                return switch.everywhere
            if switch.everywhere:
                return root_uuid not in switch.excluded
            return root_uuid in switch.spaces

    def snapshot(self) -> dict[str, str | list[str]]:
        """Each variant that is on: ``"*"`` (every space) or its root uuids."""
        with self._lock:
            out: dict[str, str | list[str]] = {}
            for name, switch in self._switches.items():
                if switch.everywhere:
                    out[name] = "*"
                elif switch.spaces:
                    out[name] = sorted(switch.spaces)
            return out
