"""Which file system a mapping lives on, and whether inotify can see other machines' writes.

inotify reports only changes made through this kernel: on NFS, SMB/CIFS, FUSE and similar
mounts, files written by other machines raise no event. Such mappings are polled instead
(`watch.mode: auto`). The type comes from the mount table (/proc/self/mountinfo): the
mount whose mount point is the longest prefix of the mapping's path.
"""

from __future__ import annotations

from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
NETWORK = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre",
        "gpfs", "ocfs2", "gfs2", "davfs", "fuse", "fuseblk", "virtiofs", "vboxsf", "vmhgfs",
        "beegfs", "orangefs", "pvfs2",
    }
)  # fmt: skip


def _unescape(field: str) -> str:
    """Mount table fields escape space, tab, newline and backslash as \\ooo."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[tuple[str, str]]:
    """`(mount point, file system type)` of every line of /proc/self/mountinfo."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right:
            continue
        mounts.append((_unescape(fields[4]), right.split()[0]))
    return mounts


def filesystem_type(path: Path, mountinfo: str | None = None) -> str:
    """The type of the file system holding `path` ("" when it cannot be told)."""
    try:
        text = mountinfo if mountinfo is not None else MOUNTINFO.read_text()
    except OSError:
        return ""
    target = str(path.resolve()) if mountinfo is None else str(path)
    best, kind = -1, ""
    for point, fstype in parse_mountinfo(text):
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best:
            best, kind = len(point), fstype
    return kind


def is_network(fstype: str) -> bool:
    """True for file systems where writes by other machines raise no inotify event."""
    return fstype in NETWORK or fstype.startswith("fuse.") or fstype.startswith("nfs")
