"""`syncd check --probe`: try each tenant-dependent behaviour once (dingtalk-api.md §15.3).

For each mapping, in a scratch folder it creates under the mapping's remote folder
(`syncd-probe-<random>`, made with RETURN_ERROR_IF_EXISTS so that it is known to be its own):
upload a file (three steps), overwrite it in place, ask upload info with the existing name,
read the commit answer's version and the PUT's ETag, look for our stamp in a listing and in
get-dentry, rename the file and move it into a subfolder. Then the scratch folder is deleted
(its own creation, nothing else). Without the folder API the two probe files go into the
mapping's folder itself, under the scratch name, and are deleted one by one.

About 12 API calls per mapping (at most `MAX_CALLS`, checked before each call), each
metered against the monthly quota (§15.1). The answers are kept in the state store per
remote space (source `probe`), where syncd's fallbacks read them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from syncd.cli.check import _hint
from syncd.core.capabilities import NAME_CONFLICT, NOT_SUPPORTED, Capability, Source
from syncd.core.errors import PermanentError, RemoteError
from syncd.core.model import Dentry
from syncd.core.settings import Config, Mapping
from syncd.core.text import terminal_safe as safe
from syncd.remote.capabilities import Capabilities
from syncd.remote.dentries import DentryApi
from syncd.remote.etag import EtagCheck
from syncd.remote.storage import StorageApi
from syncd.remote.transport import Transport

MAX_CALLS = 30  # the probe's budget per mapping (the monthly quota, §15.1)
EXPECTED_CALLS = 12  # what it usually takes, stated before it starts
SCRATCH_PREFIX = "syncd-probe-"

# what each answer means for syncd: (when true, when false)
MEANING: dict[Capability, tuple[str, str]] = {
    Capability.UPLOAD: (
        "files can be uploaded here (upload info, PUT, commit)",
        "nothing can be uploaded here: see the note",
    ),
    Capability.OVERWRITE_IN_PLACE: (
        "a changed file becomes a new version of the same file",
        "a changed file does not keep its identity: report this table",
    ),
    Capability.UPLOAD_INFO_ACCEPTS_EXISTING_NAME: (
        "overwrites ask upload info with the file's name",
        "overwrites ask upload info without the name (fallback, automatic)",
    ),
    Capability.COMMIT_RETURNS_VERSION: (
        "the version of each commit is recorded",
        "versions are not recorded: a remote edit is told by its modifier only",
    ),
    Capability.ETAG_IS_MD5: (
        "each PUT is checked against the MD5 of the bytes sent",
        "uploads are checked by size (the commit's option.size) instead",
    ),
    Capability.LISTING_RETURNS_STAMP: (
        "adoption and lost-commit recovery read the stamp in listings",
        "they read it with get-dentry, one call per file in doubt (fallback, automatic)",
    ),
    Capability.GET_RETURNS_STAMP: (
        "get-dentry shows syncd's stamp",
        "the stamp cannot be read back: a lost commit answer may cost a copy or a version",
    ),
    Capability.ADD_FOLDER: (
        "subfolders are created remotely",
        "subfolders fail at mapping level: set `subfolders: false` or map another space",
    ),
    Capability.RENAME: (
        "a local rename renames the remote file (keeps its history)",
        "renames are uploads at the new name (as `renames: upload`, automatic)",
    ),
    Capability.MOVE: (
        "a local move moves the remote file (keeps its history)",
        "moves are uploads at the new place (as `renames: upload`, automatic)",
    ),
}


class ProbeBudgetError(Exception):
    """The probe would exceed its calls per mapping."""


@dataclass
class Finding:
    mapping: Mapping
    space_id: str = ""
    calls: int = 0
    caps: dict[Capability, bool | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "local": str(self.mapping.local),
            "parent_dentry_uuid": self.mapping.parent_dentry_uuid,
            "api_calls": self.calls,
            "capabilities": {c.value: self.caps.get(c) for c in Capability},
            "notes": self.notes,
        }


class _Bytes:
    """A probe file's body (the `Body` an upload streams)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.md5_hex = hashlib.md5(data, usedforsecurity=False).hexdigest()
        self.sha256 = hashlib.sha256(data).hexdigest()

    def __iter__(self) -> Iterator[bytes]:
        yield self.data

    def __len__(self) -> int:
        return len(self.data)


class _Recorder(EtagCheck):
    """Takes every ETag as it comes: the probe reports it instead of judging it."""

    def check(self, host: str, etag: str | None, md5_hex: str) -> None:
        return None


class Probe:
    def __init__(self, transport: Transport) -> None:
        self.t = transport
        self.storage = StorageApi(transport)
        self.dentries = DentryApi(transport)
        transport.etags = _Recorder()

    def run(self, m: Mapping) -> Finding:
        out = Finding(m)
        start = self.t.calls
        self._start = start
        created: list[Dentry] = []  # what the probe made, deleted at the end
        scratch: Dentry | None = None
        try:
            space, parent_id = self._call(self.storage.query_dentry_id, m.parent_dentry_uuid)
            out.space_id = space
            name = SCRATCH_PREFIX + secrets.token_hex(6)
            try:
                scratch = self._call(self.storage.add_folder, space, parent_id, name, only_new=True)
                out.caps[Capability.ADD_FOLDER] = True
            except PermanentError as exc:
                if exc.code != NOT_SUPPORTED:
                    raise
                out.caps[Capability.ADD_FOLDER] = False
                out.notes.append(
                    safe(
                        f"add-folder refused ({exc.code}: {exc.message}); the probe files "
                        f"went into the mapping's folder as {name}*.txt and were deleted"
                    )
                )
            self._files(out, space, scratch, parent_id, name, created)
        except ProbeBudgetError:
            out.failed = True
            out.notes.append(f"stopped: the probe would have made more than {MAX_CALLS} calls")
        except RemoteError as exc:
            out.failed = True
            out.notes.append(safe(f"stopped: {exc.api} {exc.code}: {exc.message}{_hint(exc.code)}"))
        finally:
            self._clean(out, scratch, created)
            out.calls = self.t.calls - start
        return out

    def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        if self.t.calls - self._start >= MAX_CALLS:
            raise ProbeBudgetError
        return fn(*args, **kw)

    def _files(
        self,
        out: Finding,
        space: str,
        scratch: Dentry | None,
        parent_id: str,
        prefix: str,
        created: list[Dentry],
    ) -> None:
        folder_uuid = scratch.uuid if scratch is not None else out.mapping.parent_dentry_uuid
        folder_id = scratch.id if scratch is not None else parent_id
        name = "probe.txt" if scratch is not None else prefix + ".txt"
        caps = out.caps
        first = _Bytes(b"syncd probe: first version\n")
        try:
            info = self._call(self.storage.upload_info, folder_uuid, name, len(first))
            etag = self.storage.put(info, first)
            d1 = self._call(
                self.storage.commit,
                folder_uuid,
                info.upload_key,
                name,
                len(first),
                "AUTO_RENAME",
                first.sha256,
            )
        except PermanentError as exc:
            caps[Capability.UPLOAD] = False
            out.notes.append(safe(f"upload refused: {exc.api} {exc.code}: {exc.message}"))
            return
        created.append(d1)
        caps[Capability.UPLOAD] = True
        value = (etag or "").strip().strip('"')
        caps[Capability.ETAG_IS_MD5] = None if not value else value.lower() == first.md5_hex
        if not value:
            out.notes.append("the upload host answered the PUT without an ETag")
        listed = self._listed(space, folder_id, d1.id)
        caps[Capability.LISTING_RETURNS_STAMP] = listed is not None and listed.stamp == first.sha256
        got = self._call(self.dentries.get, space, d1.id)
        caps[Capability.GET_RETURNS_STAMP] = got is not None and got.stamp == first.sha256
        if not self.t.app_id:
            out.notes.append(
                "no answer showed syncd's app id: get-dentry asked for no app's properties"
            )
        v1 = d1.version or (got.version if got is not None else 0)
        self._overwrite(out, space, folder_uuid, name, d1, v1)
        self._rename_move(out, space, scratch, d1, name)

    def _listed(self, space: str, folder_id: str, dentry_id: str) -> Dentry | None:
        """The probe file as the folder's listing shows it (stops at the page that has it)."""
        pages = self.dentries.list(space, folder_id)
        while True:
            d: Dentry | None = self._call(next, pages, None)
            if d is None or d.id == dentry_id:
                return d

    def _overwrite(
        self, out: Finding, space: str, folder_uuid: str, name: str, d1: Dentry, v1: int
    ) -> None:
        caps = out.caps
        second = _Bytes(b"syncd probe: second version, longer\n")
        try:
            info = self._call(self.storage.upload_info, folder_uuid, name, len(second))
            caps[Capability.UPLOAD_INFO_ACCEPTS_EXISTING_NAME] = True
        except PermanentError as exc:
            if exc.code != NAME_CONFLICT:
                raise
            caps[Capability.UPLOAD_INFO_ACCEPTS_EXISTING_NAME] = False
            out.notes.append(
                safe(f"upload info refused the existing name ({exc.code}); asked again without it")
            )
            info = self._call(self.storage.upload_info, folder_uuid, "", len(second))
        self.storage.put(info, second)
        d2 = self._call(
            self.storage.commit,
            folder_uuid,
            info.upload_key,
            name,
            len(second),
            "OVERWRITE",
            second.sha256,
        )
        caps[Capability.COMMIT_RETURNS_VERSION] = d1.version > 0 and d2.version > 0
        v2 = d2.version
        if not v2:
            got = self._call(self.dentries.get, space, d2.id)
            v2 = got.version if got is not None else 0
        caps[Capability.OVERWRITE_IN_PLACE] = d2.uuid == d1.uuid and v1 > 0 and v2 == v1 + 1
        if d2.uuid != d1.uuid:
            out.notes.append(safe(f"the overwrite made another file: {d2.name}"))

    def _rename_move(
        self, out: Finding, space: str, scratch: Dentry | None, d1: Dentry, name: str
    ) -> None:
        caps = out.caps
        try:
            self._call(self.dentries.rename, space, d1.id, "renamed-" + name)
            caps[Capability.RENAME] = True
        except PermanentError as exc:
            if exc.code != NOT_SUPPORTED:
                raise
            caps[Capability.RENAME] = False
        if scratch is None:
            out.notes.append("move not tried: without add-folder there is no folder to move into")
            return
        sub = self._call(self.storage.add_folder, space, scratch.id, "moved", only_new=True)
        try:
            self._call(self.dentries.move, space, d1.id, space, sub.id)
            caps[Capability.MOVE] = True
        except PermanentError as exc:
            if exc.code != NOT_SUPPORTED:
                raise
            caps[Capability.MOVE] = False

    def _clean(self, out: Finding, scratch: Dentry | None, created: list[Dentry]) -> None:
        """Delete what the probe made: the scratch folder, or (without one) its files."""
        doomed = [scratch] if scratch is not None else created
        for d in doomed:
            try:
                self.dentries.delete(out.space_id, d.id)
            except RemoteError as exc:
                out.failed = True
                out.notes.append(
                    safe(
                        f"could not delete {d.name} ({exc.code}: {exc.message}): delete it by hand"
                    )
                )


def probe(config: Config, *, as_json: bool) -> int:
    """Probe every mapping; print the JSON object or the table; 0, or 1 when a probe failed."""
    import sys

    from syncd.core.errors import CredentialsError

    n = len(config.mappings)
    cost = (
        f"probe: about {EXPECTED_CALLS} metered API calls per mapping (at most {MAX_CALLS}), "
        f"{n * EXPECTED_CALLS} for {n} mapping{'s' if n != 1 else ''}, counted against the "
        "monthly quota; it writes only in a scratch folder it creates and deletes"
    )
    print(cost, file=sys.stderr if as_json else sys.stdout, flush=True)
    transport = Transport(config.dingtalk, max_attempts=3)
    findings: list[Finding] = []
    try:
        try:
            transport.token()
        except CredentialsError as exc:
            print(f"dingtalk.app_key/app_secret: rejected by DingTalk ({exc.code}: {exc.message})")
            return 3
        except RemoteError as exc:
            print(f"dingtalk.api_base: cannot get an access token ({exc})")
            return 1
        p = Probe(transport)
        for m in config.mappings:
            findings.append(p.run(m))
    finally:
        transport.close()
    _remember(config, findings, transport.app_id)
    if as_json:
        print(json.dumps({"mappings": [f.as_json() for f in findings]}, ensure_ascii=False))
    else:
        for f in findings:
            _table(f)
    return 1 if any(f.failed for f in findings) else 0


def _remember(config: Config, findings: list[Finding], app_id: str) -> None:
    """Keep the answers per remote space (refreshed by the next probe)."""
    from syncd.core.errors import StateError
    from syncd.state.store import StateStore

    try:
        store = StateStore.open(config.state_dir)
    except StateError as exc:
        print(f"state_dir: the answers are not kept ({exc})")
        return
    try:
        caps = Capabilities(store)
        caps.note_app_id(app_id)
        for f in findings:
            for cap, value in f.caps.items():
                if value is not None or cap is Capability.ETAG_IS_MD5:
                    caps.learn(f.space_id, cap, value, Source.PROBE)
    finally:
        store.close()


def _table(f: Finding) -> None:
    m = f.mapping
    print(
        safe(
            f"mappings: {m.local} -> {m.parent_dentry_uuid} (space {f.space_id or '?'}, "
            f"{f.calls} API calls)"
        )
    )
    width = max(len(c.value) for c in Capability)
    for cap in Capability:
        value = f.caps.get(cap)
        answer = "yes" if value is True else "no" if value is False else "?"
        if value is None and cap is Capability.ETAG_IS_MD5 and f.caps.get(Capability.UPLOAD):
            meaning = "no ETag at all: " + MEANING[cap][1]
        elif value is None:
            meaning = "not known: syncd assumes the documented behaviour, with its fallback ready"
        else:
            meaning = MEANING[cap][0 if value else 1]
        print(f"  {cap.value:<{width}}  {answer:<3}  {meaning}")
    for note in f.notes:
        print(f"  note: {note}")
