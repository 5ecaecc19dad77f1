"""Whose is a remote folder? Proof, before syncd moves or trashes one as a whole.

A remote folder is moved or trashed in one call only when everything in it is this
mapping's own: each file a record of this mapping (by its dentry id) at the version of our
last commit, each folder one of this mapping's folders, all the way down. A stamp proves
nothing (an edit inside DingTalk may keep it; another host's syncd writes the same one).
The proof is a listing of the folder and of every folder in it (bounded: pages per folder
by `remote.paging`, folders by `MAX_FOLDERS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd.core.errors import PermanentError
from syncd.core.settings import Mapping
from syncd.execute.context import Context

MAX_FOLDERS = 10_000  # folders looked into for one proof


@dataclass
class Survey:
    foreign: list[str] = field(default_factory=list)  # not put there by this mapping
    changed: list[str] = field(default_factory=list)  # ours, changed remotely since
    files: dict[str, str] = field(default_factory=dict)  # dentry id -> path, of ours seen

    @property
    def ours(self) -> bool:
        return not self.foreign and not self.changed

    def summary(self, limit: int = 3) -> str:
        parts = []
        if self.foreign:
            shown = ", ".join(self.foreign[:limit]) + (" …" if len(self.foreign) > limit else "")
            parts.append(f"{len(self.foreign)} not put there by syncd ({shown})")
        if self.changed:
            shown = ", ".join(self.changed[:limit]) + (" …" if len(self.changed) > limit else "")
            parts.append(f"{len(self.changed)} changed remotely since syncd's upload ({shown})")
        return "; ".join(parts)


def survey(ctx: Context, m: Mapping, folder: str, dentry_id: str) -> Survey:
    """What remote folder `folder` (dentry `dentry_id`) of mapping `m` holds, against the
    records (raises RemoteError when the remote cannot tell)."""
    remote = ctx.remote()
    space = remote.folders.root(ctx.target(m)).space_id
    records = {r.dentry_id: r for r in ctx.state.records_under(m.key, folder) if r.dentry_id}
    folders = {
        row.dentry_id
        for path, row in ctx.state.dirs(m.key).items()
        if row.dentry_id and (path == folder or path.startswith(folder + "/"))
    }
    out = Survey()
    stack = [(folder, dentry_id)]
    looked = 0
    while stack:
        path, did = stack.pop()
        looked += 1
        if looked > MAX_FOLDERS:
            raise PermanentError(
                f"more than {MAX_FOLDERS} folders under {folder}", code="tooManyFolders"
            )
        for d in remote.dentries.list(space, did):
            rel = f"{path}/{d.name}"
            if d.is_folder:
                if d.id in folders:
                    stack.append((rel, d.id))
                else:
                    out.foreign.append(rel + "/")
                continue
            rec = records.get(d.id)
            if rec is None:
                out.foreign.append(rel)
            elif rec.version and d.version != rec.version:
                out.changed.append(rel)
            else:
                out.files[d.id] = rec.rel_path
    return out
