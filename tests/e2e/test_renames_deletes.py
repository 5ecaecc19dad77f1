"""Renames and moves done on the server; deletes into the trash, behind guards."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from syncd.emulator import Emulator
from tests.conftest import ROOT_UUID, events, run_as_nobody, run_cli, write_config

pytestmark = pytest.mark.e2e
OTHER_ROOT = "otherRootUuid000000000000000000002"


def make_share(tmp_path, files: dict[str, bytes], name="share"):
    root = tmp_path / name
    root.mkdir(exist_ok=True)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def cfg_for(tmp_path, emulator, root, **sync):
    return write_config(
        tmp_path, emulator, [{"local": str(root), "parent_dentry_uuid": ROOT_UUID}], sync=sync
    )


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


def test_a_renamed_file_is_renamed_remotely(tmp_path, emulator):
    """Same uuid, same version, no byte sent: one rename call."""
    root = make_share(tmp_path, {"docs/q3.xlsx": b"numbers"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    before = emulator.files()["docs/q3.xlsx"]
    (root / "docs" / "q3.xlsx").rename(root / "docs" / "q3-final.xlsx")
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg), check=True)
    after = emulator.files()
    assert list(after) == ["docs/q3-final.xlsx"]
    assert after["docs/q3-final.xlsx"]["uuid"] == before["uuid"]
    assert after["docs/q3-final.xlsx"]["version"] == before["version"]
    assert emulator.stats()["requests"].get("rename") == 1
    assert not emulator.stats()["requests"].get("oss") and not emulator.stats()["requests"].get(
        "commit"
    )
    moved = [e for e in events(proc.stderr) if e["event"] == "file.moved"]
    assert moved and moved[0]["source"] == "docs/q3.xlsx"


def test_a_file_moved_to_another_folder_keeps_its_uuid(tmp_path, emulator):
    """A move into another folder (created remotely as needed) is a server-side move."""
    root = make_share(tmp_path, {"in/a.txt": b"a", "in/keep.txt": b"k"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    uuid = emulator.files()["in/a.txt"]["uuid"]
    (root / "out" / "deep").mkdir(parents=True)
    (root / "in" / "a.txt").rename(root / "out" / "deep" / "b.txt")
    run_cli("sync", "-c", str(cfg), check=True)
    files = emulator.files()
    assert sorted(files) == ["in/keep.txt", "out/deep/b.txt"]
    assert files["out/deep/b.txt"]["uuid"] == uuid and files["out/deep/b.txt"]["version"] == 1
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0


def test_a_renamed_folder_is_one_remote_call(tmp_path, emulator):
    """A folder of 500 files renamed: one remote rename, zero uploads, records rewritten."""
    root = make_share(tmp_path, {f"reports/2026/f{i}.txt": b"%d" % i for i in range(500)})
    cfg = cfg_for(tmp_path, emulator, root, workers=8)
    run_cli("sync", "-c", str(cfg), check=True)
    folder_uuid = emulator.folders()["reports/2026"]["uuid"]
    os.rename(root / "reports" / "2026", root / "reports" / "2026-final")
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["requests"] == {"token": 1, "rename": 1}
    assert emulator.folders()["reports/2026-final"]["uuid"] == folder_uuid
    assert len([p for p in emulator.files() if p.startswith("reports/2026-final/")]) == 500
    assert next(e for e in events(proc.stderr) if e["event"] == "folder.moved")["files"] == 500
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0


def test_a_move_whose_remote_source_is_gone_falls_back_to_upload(tmp_path, emulator):
    """Source deleted remotely meanwhile: the file is uploaded at its new place, once."""
    root = make_share(tmp_path, {"a.txt": b"a"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    emulator.delete(emulator.files()["a.txt"]["uuid"])
    (root / "a.txt").rename(root / "b.txt")
    proc = run_cli("sync", "-c", str(cfg), check=True)
    assert list(emulator.files()) == ["b.txt"]
    fallback = [e for e in events(proc.stderr) if e["event"] == "move.fallback"]
    assert fallback and fallback[0]["reason"] == "the remote source is gone"


def test_a_move_onto_a_taken_name_falls_back_to_upload(tmp_path, emulator):
    """Target name taken remotely: uploaded (OVERWRITE) with the reason logged, never a copy."""
    root = make_share(tmp_path, {"a.txt": b"a"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    emulator.put_file(ROOT_UUID, "b.txt", b"theirs", modifier="colleague-union-id")
    (root / "a.txt").rename(root / "b.txt")
    proc = run_cli("sync", "-c", str(cfg), check=True)
    assert sorted(emulator.files()) == ["a.txt", "b.txt"]
    assert emulator.files()["b.txt"]["size"] == 1
    assert next(e for e in events(proc.stderr) if e["event"] == "move.fallback")["reason"] == (
        "the target name is taken remotely"
    )


def test_a_move_renamed_to_avoid_a_name_in_its_new_folder_is_a_move(tmp_path, emulator):
    """`in/report.txt` moved to `out/report-2.txt` because `out/report.txt` exists: moved
    under its old name first, it would meet that name; renamed first, it meets none. One
    rename, one move, nothing uploaded, nothing overwritten."""
    root = make_share(tmp_path, {"in/report.txt": b"mine", "out/report.txt": b"theirs"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    before = emulator.files()
    (root / "in" / "report.txt").rename(root / "out" / "report-2.txt")
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg), check=True)
    files = emulator.files()
    assert sorted(files) == ["out/report-2.txt", "out/report.txt"]
    assert files["out/report-2.txt"]["uuid"] == before["in/report.txt"]["uuid"]
    assert files["out/report.txt"] == before["out/report.txt"]
    requests = emulator.stats()["requests"]
    assert not requests.get("commit") and not requests.get("oss")
    assert not [e for e in events(proc.stderr) if e["event"] == "move.fallback"]


def test_renames_upload_mode_uploads_again(tmp_path, emulator):
    """`renames: upload` keeps the old behaviour: the new name is uploaded, the old stays."""
    root = make_share(tmp_path, {"a.txt": b"a"})
    cfg = cfg_for(tmp_path, emulator, root, renames="upload")
    run_cli("sync", "-c", str(cfg), check=True)
    (root / "a.txt").rename(root / "b.txt")
    run_cli("sync", "-c", str(cfg), check=True)
    assert sorted(emulator.files()) == ["a.txt", "b.txt"]


def test_a_rename_to_an_invalid_name_leaves_the_remote_copy(tmp_path, emulator):
    """Renamed to a name the remote refuses: refused, and the remote copy is left where it
    was (even with deletes on, it is not trashed)."""
    root = make_share(tmp_path, {"a.txt": b"a", "b.txt": b"b"})
    cfg = cfg_for(tmp_path, emulator, root, deletes="trash")
    run_cli("sync", "-c", str(cfg), check=True)
    (root / "a.txt").rename(root / "a|bad.txt")
    run_cli("sync", "-c", str(cfg), check=True)
    assert sorted(emulator.files()) == ["a.txt", "b.txt"]
    assert "a|bad.txt: invalid name" in run_cli("status", "-c", str(cfg)).stdout


def test_deletes_are_kept_by_default(tmp_path, emulator):
    """`deletes: keep`: a local delete leaves the remote copy; its record goes."""
    root = make_share(tmp_path, {"a.txt": b"a", "b.txt": b"b"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    (root / "a.txt").unlink()
    run_cli("sync", "-c", str(cfg), check=True)
    assert sorted(emulator.files()) == ["a.txt", "b.txt"]
    assert "synced: 1 files" in run_cli("status", "-c", str(cfg)).stdout


def test_trash_moves_deletes_into_the_dated_trash_folder(tmp_path, emulator):
    """`deletes: trash`: files and folders deleted locally move into
    .syncd-trash/<date>/<original path> (a folder in one move); the marker is never uploaded."""
    files = {f"keep/k{i}.txt": b"k" for i in range(40)}
    files |= {"reports/q3.xlsx": b"q3", "old/x.txt": b"x", "old/sub/y.txt": b"y"}
    root = make_share(tmp_path, files)
    cfg = cfg_for(tmp_path, emulator, root, deletes="trash")
    run_cli("sync", "-c", str(cfg), check=True)
    assert (root / ".syncd-root").exists() and ".syncd-root" not in emulator.files()
    (root / "reports" / "q3.xlsx").unlink()
    for p in (root / "old" / "sub" / "y.txt", root / "old" / "x.txt"):
        p.unlink()
    (root / "old" / "sub").rmdir()
    (root / "old").rmdir()
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    trash = f".syncd-trash/{today()}"
    remote = emulator.files()
    assert f"{trash}/reports/q3.xlsx" in remote
    assert f"{trash}/old/x.txt" in remote and f"{trash}/old/sub/y.txt" in remote
    assert "reports/q3.xlsx" not in remote and "old/x.txt" not in remote
    assert emulator.stats()["requests"].get("move") == 2
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0


def test_a_mass_delete_is_blocked_until_overridden(tmp_path, emulator):
    """More than max_delete files in one pass: nothing is trashed, one deletes.blocked says
    how to override; `--max-delete N` lets that run through."""
    root = make_share(tmp_path, {f"f{i}.txt": b"x" for i in range(60)} | {"stay.txt": b"s"})
    cfg = cfg_for(tmp_path, emulator, root, deletes="trash", max_delete_percent=100)
    run_cli("sync", "-c", str(cfg), check=True)
    for i in range(60):
        (root / f"f{i}.txt").unlink()
    proc = run_cli("sync", "-c", str(cfg))
    blocked = [e for e in events(proc.stderr) if e["event"] == "deletes.blocked"]
    assert (
        len(blocked) == 1 and blocked[0]["count"] == 60 and "--max-delete 60" in blocked[0]["hint"]
    )
    assert len(emulator.files()) == 61
    run_cli("sync", "--max-delete", "60", "-c", str(cfg), check=True)
    assert len([p for p in emulator.files() if p.startswith(".syncd-trash/")]) == 60


@pytest.mark.parametrize("how", ["emptied", "marker"])
def test_a_root_that_looks_unmounted_deletes_and_uploads_nothing(tmp_path, emulator, how):
    """An emptied root, or one without its marker: mapping.failed, nothing moved, exit 1."""
    root = make_share(tmp_path, {"a.txt": b"a", "b.txt": b"b"})
    cfg = cfg_for(
        tmp_path, emulator, root, deletes="trash", max_delete=1000, max_delete_percent=100
    )
    run_cli("sync", "-c", str(cfg), check=True)
    if how == "emptied":
        for p in list(root.iterdir()):
            p.unlink()
    else:
        (root / ".syncd-root").unlink()
        (root / "a.txt").unlink()
        (root / "new.txt").write_bytes(b"n")
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg))
    assert proc.returncode == 1
    failed = [e for e in events(proc.stderr) if e["event"] == "mapping.failed"]
    assert failed and ("empty" in failed[0]["reason"] or "marker" in failed[0]["reason"])
    assert not emulator.stats()["requests"].get("move") and not emulator.stats()["requests"].get(
        "commit"
    )
    assert sorted(emulator.files()) == ["a.txt", "b.txt"]


def test_a_folder_that_cannot_be_read_is_never_deleted(shared_tmp, emulator):
    """A scan that hit an unreadable folder deletes nothing it could not see."""
    root = make_share(shared_tmp, {"locked/a.txt": b"a", "open/b.txt": b"b", "c.txt": b"c"})
    (shared_tmp / "state").mkdir()
    os.chown(shared_tmp / "state", 65534, 65534)
    os.chown(root, 65534, 65534)  # the marker is written by the service user
    cfg = cfg_for(shared_tmp, emulator, root, deletes="trash", max_delete_percent=100)
    cfg.chmod(0o644)
    args = ["-m", "syncd", "sync", "-c", str(cfg), "--log-format", "json"]
    assert run_as_nobody(args).returncode == 0
    (root / "locked").chmod(0o000)
    (root / "c.txt").unlink()
    proc = run_as_nobody(args)
    (root / "locked").chmod(0o755)
    assert "locked/a.txt" in emulator.files() and "c.txt" in emulator.files()
    seen = events(proc.stderr)
    assert not [e for e in seen if e["event"] == "file.trashed"]
    blocked = [e for e in seen if e["event"] == "deletes.blocked"]
    assert len(blocked) == 1 and blocked[0]["count"] == 1, blocked
    assert "could not read locked" in blocked[0]["reason"] and blocked[0]["hint"]


def test_a_move_between_mappings_in_one_space_is_a_move(tmp_path, emulator):
    """Two mappings under one knowledge base: a file moved from one to the other keeps its
    uuid (one remote move)."""
    a = make_share(tmp_path, {"x.txt": b"x"}, "a")
    b = make_share(tmp_path, {}, "b")
    sub = emulator.mkdir(ROOT_UUID, "b-folder")
    cfg = write_config(
        tmp_path,
        emulator,
        [
            {"local": str(b), "parent_dentry_uuid": sub},
            {"local": str(a), "parent_dentry_uuid": ROOT_UUID},
        ],
    )
    run_cli("sync", "-c", str(cfg), check=True)
    uuid = emulator.files()["x.txt"]["uuid"]
    os.rename(a / "x.txt", b / "x.txt")
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.files()["b-folder/x.txt"]["uuid"] == uuid
    assert "x.txt" not in emulator.files()


@pytest.mark.parametrize("deletes", ["keep", "trash"])
def test_a_move_out_of_the_mapping_listed_first_is_a_move(tmp_path, emulator, deletes):
    """As the test above, with the source mapping listed first: the same move, one uuid,
    and the dry-run plans the move alone (no delete or forget of the source). Each
    mapping's deletes wait until every mapping was walked."""
    a = make_share(tmp_path, {"x.txt": b"x", "stay.txt": b"s"}, "a")
    b = make_share(tmp_path, {}, "b")
    sub = emulator.mkdir(ROOT_UUID, "b-folder")
    cfg = write_config(
        tmp_path,
        emulator,
        [
            {"local": str(a), "parent_dentry_uuid": ROOT_UUID},
            {"local": str(b), "parent_dentry_uuid": sub},
        ],
        sync={"deletes": deletes, "max_delete_percent": 100},
    )
    run_cli("sync", "-c", str(cfg), check=True)
    uuid = emulator.files()["x.txt"]["uuid"]
    os.rename(a / "x.txt", b / "x.txt")
    plan = events(run_cli("sync", "--dry-run", "-c", str(cfg), check=True).stderr)
    planned = [e["action"] for e in plan if e["event"].startswith("plan.") and "action" in e]
    assert planned == ["move x.txt -> x.txt (same inode and content)"], planned
    run_cli("sync", "-c", str(cfg), check=True)
    files = emulator.files()
    assert files["b-folder/x.txt"]["uuid"] == uuid
    assert [p for p in files if p.endswith("x.txt")] == ["b-folder/x.txt"]


def test_purge_deletes_only_what_syncd_trashed_and_only_when_due(tmp_path, emulator):
    """trash_retention_days: what syncd moved into the trash longer ago than that is deleted
    (the only permanent delete syncd makes), each logged; younger trash stays, and whatever
    else lies in the trash (a colleague's file) is never touched. A pass with nothing due
    makes no call."""
    import sqlite3

    root = make_share(tmp_path, {"a.txt": b"a", "old/q1.xlsx": b"q1", "new.txt": b"n"})
    cfg = cfg_for(
        tmp_path, emulator, root, deletes="trash", trash_retention_days=7, max_delete_percent=100
    )
    run_cli("sync", "-c", str(cfg), check=True)
    (root / "old" / "q1.xlsx").unlink()
    (root / "old").rmdir()
    run_cli("sync", "-c", str(cfg), check=True)  # old/ -> today's trash
    trash_day = emulator.folders()[f".syncd-trash/{today()}"]["uuid"]
    emulator.put_file(trash_day, "colleague.txt", b"theirs")
    db = sqlite3.connect(tmp_path / "state" / "state.db")
    with db:
        db.execute("UPDATE trashed SET day='2020-01-01'")  # as if trashed years ago
    db.close()
    (root / "new.txt").unlink()
    proc = run_cli("sync", "-c", str(cfg), check=True)  # new.txt -> trash; old/ purged
    purged = [e["path"] for e in events(proc.stderr) if e["event"] == "trash.purged"]
    assert purged == ["old/"]
    assert sorted(emulator.files()) == [
        f".syncd-trash/{today()}/colleague.txt",
        f".syncd-trash/{today()}/new.txt",
        "a.txt",
    ]
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0  # nothing due: no listing of the trash


def test_dry_run_lists_moves_trash_and_blocked_deletes_without_a_request(tmp_path, emulator):
    """With renames and deletes pending, `sync --dry-run` prints each move and trash action
    and the guard that would block, makes no request and changes nothing."""
    files = {"a.txt": b"a", "docs/b.txt": b"b", "gone.txt": b"g"} | {
        f"bulk/f{i}.txt": b"%d" % i for i in range(6)
    }
    root = make_share(tmp_path, files)
    cfg = cfg_for(tmp_path, emulator, root, deletes="trash", max_delete=3, max_delete_percent=100)
    run_cli("sync", "-c", str(cfg), check=True)
    os.rename(root / "a.txt", root / "renamed.txt")
    os.rename(root / "docs", root / "papers")
    (root / "gone.txt").unlink()
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg), "--dry-run", check=True)
    seen = events(proc.stderr)
    actions = [e.get("action", "") for e in seen if e["event"] in ("plan.move", "plan.trash")]
    assert any("renamed.txt" in a and "a.txt" in a for a in actions), actions
    assert any("papers" in a and "docs" in a for a in actions), actions
    assert any("gone.txt" in a for a in seen_trash(seen)), seen_trash(seen)
    assert emulator.stats()["total"] == 0
    for i in range(6):
        (root / "bulk" / f"f{i}.txt").unlink()
    blocked = run_cli("sync", "-c", str(cfg), "--dry-run", check=True)
    plans = [e for e in events(blocked.stderr) if e["event"] == "plan.blocked"]
    assert len(plans) == 1 and "--max-delete" in plans[0].get("hint", "")
    assert emulator.stats()["total"] == 0
    assert set(emulator.files()) == set(files)  # nothing moved, renamed or trashed


def seen_trash(seen):
    return [e.get("action", "") for e in seen if e["event"] == "plan.trash"]


def test_a_move_between_mappings_in_two_spaces_uploads_and_trashes_the_source(tmp_path):
    """Mappings in two knowledge bases (two spaces): a file moved from one to the other
    cannot be moved remotely, so it is uploaded at its new place and, with `deletes:
    trash`, the old remote copy goes to the source mapping's trash; nothing is lost."""
    emu = Emulator(folders=[ROOT_UUID, OTHER_ROOT], store_content=True).start()
    try:
        a = make_share(tmp_path, {"x.txt": b"moved across", "keep.txt": b"k"}, "a")
        b = make_share(tmp_path, {"y.txt": b"y"}, "b")
        mappings = [
            {"local": str(a), "parent_dentry_uuid": ROOT_UUID},
            {"local": str(b), "parent_dentry_uuid": OTHER_ROOT},
        ]
        cfg = write_config(
            tmp_path, emu, mappings, sync={"deletes": "trash", "max_delete_percent": 100}
        )
        run_cli("sync", "-c", str(cfg), check=True)
        os.rename(a / "x.txt", b / "x.txt")
        emu.reset_stats()
        proc = run_cli("sync", "-c", str(cfg), check=True)
        assert emu.content(emu.files(OTHER_ROOT)["x.txt"]["uuid"]) == b"moved across"
        assert sorted(emu.files(ROOT_UUID)) == [f".syncd-trash/{today()}/x.txt", "keep.txt"]
        assert emu.calls("commit") == 1  # the upload at the new place, nothing else sent
        done = [e for e in events(proc.stderr) if e["event"] == "upload.completed"]
        assert [e["path"] for e in done] == ["x.txt"]
    finally:
        emu.stop()


def test_a_local_folder_named_like_the_trash_is_never_uploaded(tmp_path, emulator):
    """The trash folder exists remotely only: a local `.syncd-trash` at the mapping root is
    neither uploaded nor taken for deleted files; one deeper down is an ordinary folder."""
    files = {
        "a.txt": b"a",
        ".syncd-trash/2020-01-01/old.txt": b"o",
        "docs/.syncd-trash/n.txt": b"n",
    }
    root = make_share(tmp_path, files)
    cfg = cfg_for(tmp_path, emulator, root, deletes="trash", max_delete_percent=100)
    run_cli("sync", "-c", str(cfg), check=True)
    assert sorted(emulator.files()) == ["a.txt", "docs/.syncd-trash/n.txt"]
    (root / ".syncd-trash" / "2020-01-01" / "old.txt").unlink()
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0


@pytest.mark.parametrize("endpoint", ["rename", "move"])
def test_a_lost_rename_or_move_answer_is_looked_up_not_redone(tmp_path, emulator, endpoint):
    """The rename/move was applied but its answer lost: syncd finds the dentry at its new
    place instead of uploading or moving again; one remote file, its uuid kept."""
    root = make_share(tmp_path, {"in/a.txt": b"a", "in/keep.txt": b"k", "out/keep.txt": b"k"})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    uuid = emulator.files()["in/a.txt"]["uuid"]
    target = "in/b.txt" if endpoint == "rename" else "out/a.txt"
    os.rename(root / "in" / "a.txt", root / target)
    emulator.set_fault(endpoint, "lost", count=1)
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    files = emulator.files()
    assert files[target]["uuid"] == uuid and "in/a.txt" not in files
    assert not emulator.stats()["requests"].get("commit")
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0  # recorded at its new place


def test_a_move_that_changed_the_inode_is_paired_by_content(tmp_path, emulator):
    """`mv` across file systems (copy, then delete: a new inode, maybe a new mtime): the
    new file with a vanished record's size and SHA-256 is that file moved; its dentry keeps
    uuid and version, no byte is sent. Same size with other content is a new upload."""
    report, other = os.urandom(5000), os.urandom(5000)
    root = make_share(tmp_path, {"docs/report.pdf": report, "docs/draft.txt": other})
    cfg = cfg_for(tmp_path, emulator, root)
    run_cli("sync", "-c", str(cfg), check=True)
    before = emulator.files()["docs/report.pdf"]
    (root / "archive").mkdir()
    (root / "archive" / "report-2026.pdf").write_bytes(report)  # a copy: another inode
    (root / "docs" / "report.pdf").unlink()
    (root / "docs" / "draft.txt").unlink()
    (root / "archive" / "notes.txt").write_bytes(os.urandom(5000))  # same size, not a copy
    emulator.reset_stats()
    proc = run_cli("sync", "-c", str(cfg), check=True)
    files = emulator.files()
    assert files["archive/report-2026.pdf"]["uuid"] == before["uuid"]
    assert files["archive/report-2026.pdf"]["version"] == before["version"]
    assert "docs/report.pdf" not in files
    assert "docs/draft.txt" in files  # deletes: keep
    assert emulator.calls("commit") == 1  # notes.txt only
    moved = [e for e in events(proc.stderr) if e["event"] == "file.moved"]
    assert [(e["source"], e["path"]) for e in moved] == [
        ("docs/report.pdf", "archive/report-2026.pdf")
    ]
    emulator.reset_stats()
    run_cli("sync", "-c", str(cfg), check=True)
    assert emulator.stats()["total"] == 0


def test_a_deleted_folder_keeps_a_colleagues_file_and_the_folder(tmp_path, emulator):
    """Finding 3: a local folder delete trashed a colleague's remote-only file in it (and the
    retention purged it later). Now syncd's own files go to the trash one by one, the folder
    and the colleague's file stay, and trash.partial says so."""
    root = make_share(tmp_path, {"keep.txt": b"k", "team/a.txt": b"a", "team/b.txt": b"b"})
    cfg = cfg_for(tmp_path, emulator, root, deletes="trash", max_delete_percent=100)
    run_cli("sync", "-c", str(cfg), check=True)
    team = emulator.folders()["team"]["uuid"]
    emulator.put_file(team, "theirs.txt", b"colleague")
    for name in ("a.txt", "b.txt"):
        (root / "team" / name).unlink()
    (root / "team").rmdir()
    proc = run_cli("sync", "-c", str(cfg), check=True)
    (partial,) = [e for e in events(proc.stderr) if e["event"] == "trash.partial"]
    assert "team/theirs.txt" in partial["reason"]
    assert sorted(emulator.files()) == [
        f".syncd-trash/{today()}/team/a.txt",
        f".syncd-trash/{today()}/team/b.txt",
        "keep.txt",
        "team/theirs.txt",
    ]
    assert emulator.folders()["team"]["uuid"] == team


def test_a_file_edited_remotely_is_not_trashed(tmp_path, emulator):
    """Only what is at the version of syncd's last commit goes to the trash: a colleague's
    later edit stays where it is."""
    root = make_share(tmp_path, {"a.txt": b"a", "b.txt": b"b", "c.txt": b"c"})
    cfg = cfg_for(tmp_path, emulator, root, deletes="trash", max_delete_percent=100)
    run_cli("sync", "-c", str(cfg), check=True)
    emulator.edit(emulator.files()["a.txt"]["uuid"], b"their edit")
    (root / "a.txt").unlink()
    (root / "b.txt").unlink()
    proc = run_cli("sync", "-c", str(cfg), check=True)
    (skipped,) = [e for e in events(proc.stderr) if e["event"] == "trash.skipped"]
    assert skipped["path"] == "a.txt" and "colleague-union-id" in skipped["reason"]
    assert sorted(emulator.files()) == [f".syncd-trash/{today()}/b.txt", "a.txt", "c.txt"]
