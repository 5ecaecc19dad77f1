"""Telling network file systems (polled) from local ones (inotify) from the mount table."""

from pathlib import Path

import pytest

from syncd.core.settings import WatchMode
from syncd.daemon.mappings import poll_reason
from syncd.local.fstype import filesystem_type, is_network, parse_mountinfo

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /srv/share rw,relatime shared:20 - nfs4 fs:/export rw,vers=4.2
41 22 0:36 / /srv/share/local\\040disk rw shared:21 - xfs /dev/sdb1 rw
42 22 0:37 / /mnt/smb rw - cifs //server/share rw
43 22 0:38 / /home/u/gdrive rw - fuse.rclone gdrive: rw
"""


@pytest.mark.parametrize(
    ("path", "kind", "network"),
    [
        ("/srv/share/reports", "nfs4", True),
        ("/srv/share/local disk/x", "xfs", False),  # a local disk mounted inside the share
        ("/srv/shared", "ext4", False),  # a prefix of a mount point is not inside it
        ("/mnt/smb/q3", "cifs", True),
        ("/home/u/gdrive/docs", "fuse.rclone", True),
        ("/var/lib/x", "ext4", False),
    ],
)
def test_the_longest_mount_point_decides(path, kind, network):
    """The mount whose point is the longest prefix of the path gives its type."""
    assert filesystem_type(Path(path), MOUNTINFO) == kind
    assert is_network(kind) is network


def test_escaped_mount_points_are_read():
    """Spaces in mount points arrive as \\040."""
    assert ("/srv/share/local disk", "xfs") in parse_mountinfo(MOUNTINFO)


@pytest.mark.parametrize(
    ("mode", "fs_kind", "polled"),
    [
        ("auto", "ext4", None),
        ("auto", "nfs4", "a nfs4 file system: writes by other machines raise no inotify event"),
        ("auto", "cifs", "a cifs file system: writes by other machines raise no inotify event"),
        (
            "auto",
            "fuse.sshfs",
            "a fuse.sshfs file system: writes by other machines raise no inotify event",
        ),
        ("events", "nfs4", None),  # the operator knows best: inotify even on a network share
        ("poll", "ext4", "watch.mode: poll"),
    ],
)
def test_auto_polls_network_file_systems_and_the_mode_can_force_either(mode, fs_kind, polled):
    assert poll_reason(WatchMode(mode), fs_kind) == polled
