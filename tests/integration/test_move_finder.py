"""Finding folder moves on a real tree and a real state store: an inode alone is not
enough, since a deleted folder's inode is soon given to the next new one."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from syncd.config import load
from syncd.core.model import Record
from syncd.local.trees import Trees
from syncd.reconcile.moves import MoveFinder
from syncd.state.store import StateStore
from tests.conftest import ROOT_UUID, write_config

pytestmark = pytest.mark.integration


def _record(rel: str, inode: int, path: Path | None = None) -> Record:
    """A record of `rel`; with `path`, of that file as it is now (stat and content)."""
    if path is None:
        return Record(rel, 1, 1, inode, "00" * 32, f"uuid-{rel}", f"id-{rel}", 1, 0.0)
    st, sha = os.stat(path), hashlib.sha256(path.read_bytes()).hexdigest()
    return Record(rel, st.st_size, st.st_mtime_ns, st.st_ino, sha, f"u-{rel}", f"i-{rel}", 1, 0.0)


@pytest.fixture
def setup(tmp_path, emulator):
    share = tmp_path / "share"
    share.mkdir()
    cfg = load(
        write_config(tmp_path, emulator, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
    )
    state = StateStore(cfg.state_dir)
    yield share, cfg, state, Trees(cfg)
    state.close()


def test_a_new_folder_with_a_gone_folders_inode_is_not_that_folder_moved(setup):
    """`old` (recorded with a file) is gone; `fresh`, new, has its inode number: not a move."""
    share, cfg, state, trees = setup
    m = cfg.mappings[0]
    (share / "fresh").mkdir()
    (share / "fresh" / "n.txt").write_text("new")
    ino = os.stat(share / "fresh").st_ino
    state.set_dir_inode(m.key, "old", ino)
    state.put_record(m.key, _record("old/a.txt", os.stat(share / "fresh" / "n.txt").st_ino + 99))
    finder = MoveFinder(state, trees, m, state.dirs(m.key), by_content=True)
    assert finder.folder_source("fresh", ino) is None


def test_a_folder_moved_with_what_it_holds_is_found(setup):
    """The same folder renamed: its recorded file is there, same name, same inode."""
    share, cfg, state, trees = setup
    m = cfg.mappings[0]
    (share / "old" / "sub").mkdir(parents=True)
    (share / "old" / "a.txt").write_text("a")
    state.set_dir_inode(m.key, "old", os.stat(share / "old").st_ino)
    state.set_dir_inode(m.key, "old/sub", os.stat(share / "old" / "sub").st_ino)
    state.put_record(m.key, _record("old/a.txt", 0, share / "old" / "a.txt"))
    os.rename(share / "old", share / "renamed")
    finder = MoveFinder(state, trees, m, state.dirs(m.key), by_content=True)
    assert finder.folder_source("renamed", os.stat(share / "renamed").st_ino) == "old"


def test_a_folder_whose_files_have_other_content_is_not_the_folder_moved(setup):
    """Finding 14: a new folder with a deleted folder's inode and files with the same names,
    inodes, sizes and mtimes (an unpacked archive) but other bytes is a new folder: the
    remote folder (and what colleagues put in it) is never moved under its name."""
    share, cfg, state, trees = setup
    m = cfg.mappings[0]
    (share / "fresh").mkdir()
    (share / "fresh" / "a.txt").write_bytes(b"new content")
    state.set_dir_inode(m.key, "old", os.stat(share / "fresh").st_ino)
    rec = _record("old/a.txt", 0, share / "fresh" / "a.txt")
    state.put_record(m.key, rec._replace(sha256="11" * 32))  # what old/a.txt held
    finder = MoveFinder(state, trees, m, state.dirs(m.key), by_content=True)
    assert finder.folder_source("fresh", os.stat(share / "fresh").st_ino) is None


def test_a_moved_folder_that_holds_only_folders_is_found_by_them(setup):
    share, cfg, state, trees = setup
    m = cfg.mappings[0]
    (share / "old" / "sub").mkdir(parents=True)
    state.set_dir_inode(m.key, "old", os.stat(share / "old").st_ino)
    state.set_dir_inode(m.key, "old/sub", os.stat(share / "old" / "sub").st_ino)
    state.put_record(m.key, _record("old/sub/b.txt", 12345))
    os.rename(share / "old", share / "renamed")
    finder = MoveFinder(state, trees, m, state.dirs(m.key), by_content=True)
    assert finder.folder_source("renamed", os.stat(share / "renamed").st_ino) == "old"
    (share / "renamed" / "sub").rename(share / "elsewhere")  # now nothing of it is there
    (share / "renamed" / "sub").mkdir()  # a new `sub`: another inode
    assert finder.folder_source("renamed", os.stat(share / "renamed").st_ino) is None
