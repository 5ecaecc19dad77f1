"""Local reads beneath the mapping root: real files, symlinks and swaps in a temp dir."""

import os
from pathlib import Path

import pytest

from syncd.core.errors import FileChangedError, FileVanishedError, RootUnavailable
from syncd.core.filters import ExcludeRules
from syncd.core.model import LocalFile, Refusal
from syncd.local.fs import LocalTree, Refused, open_root
from syncd.local.walk import walk


@pytest.fixture
def share(tmp_path):
    root = tmp_path / "share"
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("a")
    (root / "docs" / "deep" / "b.txt").write_text("b")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("canary")
    return root


def files_of(tree, start=""):
    out = {}
    for folder in walk(tree, start):
        for f in folder.files:
            out[f.rel_path] = f
        for r in folder.refusals:
            out[r.rel_path] = r
    return out


def local(tree, rel):
    entry = tree.classify(rel)
    assert isinstance(entry, LocalFile), entry
    return entry


def test_a_symlinked_folder_is_never_listed_or_opened(share, tmp_path):
    """`x -> /outside`: refused as a symlink by the walk, by classify and by open."""
    (share / "x").symlink_to(tmp_path / "outside")
    tree = LocalTree(share)
    found = files_of(tree)
    assert found["x"] == Refusal("x", "symlink", "not followed (sync.follow_symlinks: false)")
    assert "x/secret.txt" not in found
    assert tree.classify("x/secret.txt") == Refusal(
        "x/secret.txt", "symlink", "not followed (sync.follow_symlinks: false)"
    )
    fake = LocalFile("x/secret.txt", 6, 0, os.stat(tmp_path / "outside" / "secret.txt").st_ino)
    with pytest.raises(FileChangedError):
        tree.open_file(fake)


def test_a_folder_swapped_for_a_symlink_after_the_scan_is_not_followed(share, tmp_path):
    """The deferred-retry case: scanned as a folder, swapped for a link before the upload."""
    tree = LocalTree(share)
    a = local(tree, "docs/a.txt")
    os.rename(share / "docs", share / "docs.old")
    (tmp_path / "outside" / "a.txt").write_text("canary")
    (share / "docs").symlink_to(tmp_path / "outside")
    with pytest.raises(FileChangedError):
        tree.open_file(a._replace(inode=os.stat(tmp_path / "outside" / "a.txt").st_ino))
    assert tree.stat_key("docs/a.txt") is None


def test_follow_symlinks_stays_inside_the_mapping(share, tmp_path):
    """Links inside (relative or absolute) are followed; outside ones and escapes are not."""
    (share / "rel").symlink_to("docs/deep")
    (share / "abs").symlink_to(share / "docs")
    (share / "out").symlink_to(tmp_path / "outside")
    (share / "up").symlink_to("../outside/secret.txt")
    (share / "docs" / "esc").symlink_to("../../outside")
    (share / "dangling").symlink_to("nowhere")
    tree = LocalTree(share, follow_symlinks=True)
    found = files_of(tree)
    assert isinstance(found["rel/b.txt"], LocalFile)
    assert isinstance(found["abs/a.txt"], LocalFile)
    assert (
        found["out"].reason == "symlink" and found["out"].detail == "target is outside the mapping"
    )
    assert found["up"].detail == "target is outside the mapping"
    assert found["docs/esc"].detail == "target is outside the mapping"
    assert found["dangling"].detail == "target does not exist"
    assert not [p for p in found if "secret" in p]
    assert tree.hash(local(tree, "rel/b.txt")) == tree.hash(local(tree, "docs/deep/b.txt"))


def test_a_followed_link_never_bypasses_the_filters(share):
    """Finding 10: a link inside the mapping to an excluded or ignored file or folder is
    refused by the walk, by classify and by open; a link to a synced file is followed."""
    (share / "drafts").mkdir()
    (share / "drafts" / "plan.txt").write_text("draft")
    (share / ".env").write_text("SECRET=1")
    (share / "cache.tmp").write_text("tmp")
    (share / "env.txt").symlink_to(".env")
    (share / "cache.txt").symlink_to(share / "cache.tmp")
    (share / "docs" / "plan.txt").symlink_to("../drafts/plan.txt")
    (share / "old").symlink_to("drafts")
    (share / "ok.txt").symlink_to("docs/a.txt")
    tree = LocalTree(share, ExcludeRules([".env", "drafts/"]), follow_symlinks=True)
    found = files_of(tree)
    for link in ("env.txt", "cache.txt", "docs/plan.txt", "old"):
        assert isinstance(found[link], Refusal), link
        assert "is excluded or ignored" in found[link].detail, found[link]
    assert not [p for p in found if p.startswith(("drafts", "old/", ".env", "cache.tmp"))]
    assert isinstance(found["ok.txt"], LocalFile)
    assert isinstance(tree.classify("env.txt"), Refusal)
    assert isinstance(tree.classify("old/plan.txt"), Refusal)
    with pytest.raises(FileChangedError):  # a link swapped in after the scan: never read
        tree.hash(found["ok.txt"]._replace(rel_path="env.txt"))


def test_a_link_loop_is_walked_once(share):
    """`ln -s . loop` (followed) never walks a folder twice."""
    (share / "docs" / "loop").symlink_to(".")
    (share / "back").symlink_to(share)
    tree = LocalTree(share, follow_symlinks=True)
    paths = [p for p in files_of(tree) if p.endswith("a.txt")]
    assert paths == ["docs/a.txt"]


def test_too_many_links_are_refused(share):
    """A chain of links longer than the kernel's own limit is refused, not followed."""
    (share / "l0").symlink_to("l1")
    (share / "l1").symlink_to("l0")
    root = open_root(share, follow=True)
    try:
        with pytest.raises(Refused, match="too many levels"):
            root.resolve("l0")
    finally:
        root.close()


def test_root_problems_are_named(tmp_path):
    """A missing root, or one replaced by a symlink, is a clear reason (mapping.failed)."""
    with pytest.raises(RootUnavailable, match="local folder missing"):
        open_root(tmp_path / "nope")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(RootUnavailable, match="replaced by a symlink"):
        open_root(tmp_path / "link")


def test_special_files_are_never_opened(share):
    """A FIFO is refused from its lstat; opening it would block."""
    os.mkfifo(share / "pipe")
    found = files_of(LocalTree(share))
    assert found["pipe"] == Refusal("pipe", "special file", "FIFO")


def test_a_path_longer_than_path_max_is_refused(tmp_path):
    """Paths too long for PATH_MAX are refused with a reason (reachable only through fds)."""
    root = tmp_path / "share"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    rel = []
    try:
        for _ in range(18):
            name = "d" * 250
            os.mkdir(name, dir_fd=fd)
            nxt = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
            rel.append(name)
        os.close(os.open("f.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    found = files_of(LocalTree(root))
    long = [r for r in found.values() if isinstance(r, Refusal) and r.reason == "path too long"]
    assert [r.rel_path for r in long] == ["/".join([*rel, "f.txt"])]


def test_excluded_and_ignored_entries_are_not_candidates(share):
    """Built-in ignores and exclude patterns drop entries (and whole folders) early."""
    (share / "docs" / "~$lock.docx").write_text("x")
    (share / "drafts").mkdir()
    (share / "drafts" / "d.txt").write_text("x")
    found = files_of(LocalTree(share, ExcludeRules(["drafts/"])))
    assert sorted(found) == ["docs/a.txt", "docs/deep/b.txt"]


def test_vanished_known_files_are_reported_per_folder(share):
    """The walk pops the names it finds from a folder's records; the rest vanished."""
    a = os.stat(share / "docs" / "a.txt")

    def known_for(rel, ino):
        if rel == "docs":
            return {"a.txt": (a.st_size, a.st_mtime_ns, a.st_ino), "gone.txt": (1, 1, 1)}
        return {}

    scans = {s.rel: s for s in walk(LocalTree(share), "", known_for)}
    assert scans["docs"].unchanged == 1
    assert scans["docs"].vanished == ["gone.txt"]
    assert scans["docs"].files == []


def test_a_vanished_file_cannot_be_opened(share):
    """A file gone before its upload is FileVanishedError (dropped quietly)."""
    tree = LocalTree(share)
    a = local(tree, "docs/a.txt")
    (share / "docs" / "a.txt").unlink()
    with pytest.raises(FileVanishedError):
        tree.open_file(a)


def test_descriptors_are_not_leaked_by_a_walk(share):
    """A full walk (and one stopped early) leaves no descriptor open."""
    for i in range(30):
        (share / f"d{i}").mkdir()
        (share / f"d{i}" / "f").write_text("x")
    before = len(os.listdir("/proc/self/fd"))
    list(walk(LocalTree(share)))
    it = walk(LocalTree(share))
    next(it)
    it.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_paths_are_relative_to_the_root_not_the_cwd(share, monkeypatch, tmp_path):
    """Nothing depends on the working directory."""
    monkeypatch.chdir(tmp_path / "outside")
    assert sorted(p for p in files_of(LocalTree(Path(share)))) == ["docs/a.txt", "docs/deep/b.txt"]
