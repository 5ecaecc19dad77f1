"""Finding folder moves on a real tree and a real state store: an inode alone is not
enough, since a deleted folder's inode is soon given to the next new one."""

from __future__ import annotations

import os

import pytest

from syncd.config import load
from syncd.core.model import Record
from syncd.local.trees import Trees
from syncd.reconcile.moves import MoveFinder
from syncd.state.store import StateStore
from tests.conftest import ROOT_UUID, write_config

pytestmark = pytest.mark.integration


def _record(rel: str, inode: int) -> Record:
    return Record(rel, 1, 1, inode, "00" * 32, f"uuid-{rel}", f"id-{rel}", 1, 0.0)


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
    state.put_record(m.key, _record("old/a.txt", os.stat(share / "old" / "a.txt").st_ino))
    os.rename(share / "old", share / "renamed")
    finder = MoveFinder(state, trees, m, state.dirs(m.key), by_content=True)
    assert finder.folder_source("renamed", os.stat(share / "renamed").st_ino) == "old"


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
