"""Every loop over the remote is bounded: a listing whose nextToken repeats (the emulator's
`loop` fault) ends with one clear error after a couple of pages, never calls without end."""

from __future__ import annotations

import pytest

from syncd.remote.dentries import DentryApi
from syncd.remote.paging import ListingLoopError, pages
from syncd.remote.wiki import nodes
from tests.conftest import ROOT_UUID, events, run_cli, write_config
from tests.contract.api_client import ApiClient
from tests.contract.test_client import settings

pytestmark = pytest.mark.contract


def test_a_repeated_next_token_stops_a_folder_listing(emulator):
    c = ApiClient(settings(emulator), sleep=lambda s: None)
    try:
        space, root_id = c.query_dentry_id(ROOT_UUID)
        emulator.set_fault("listDentries", "loop")
        emulator.reset_stats()
        with pytest.raises(ListingLoopError) as info:
            list(DentryApi(c).list(space, root_id))
        assert info.value.code == "listingLoop"
        assert "came back after 2 pages" in info.value.message
        assert emulator.calls("listDentries") == 2
        emulator.set_fault("nodes", "loop")
        with pytest.raises(ListingLoopError):
            nodes(c, ROOT_UUID)
        assert emulator.calls("nodes") == 2
    finally:
        c.close()


def test_a_cycling_or_endless_listing_is_stopped_too():
    """Tokens A, B, A… and a listing past its page bound, as plain values."""
    answers = iter([{"nextToken": "A"}, {"nextToken": "B"}, {"nextToken": "A"}])
    with pytest.raises(ListingLoopError, match="after 3 pages"):
        list(pages(lambda token: next(answers), "test"))
    count = iter(range(100))
    with pytest.raises(ListingLoopError, match="did not end after 5 pages"):
        list(pages(lambda token: {"nextToken": str(next(count))}, "test", max_pages=5))


def test_ls_of_an_endless_folder_exits_with_a_message(tmp_path, emulator):
    emulator.set_fault("nodes", "loop")
    (tmp_path / "share").mkdir()
    mapping = {"local": str(tmp_path / "share"), "parent_dentry_uuid": ROOT_UUID}
    cfg = write_config(tmp_path, emulator, [mapping])
    proc = run_cli("ls", ROOT_UUID, "-c", str(cfg), timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "listingLoop" in proc.stderr and "nextToken came back" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sync_with_an_endless_adoption_listing_ends(tmp_path, emulator):
    """The adoption listing of a new file's folder loops: sync says so and uploads anyway."""
    share = tmp_path / "share"
    share.mkdir()
    (share / "a.txt").write_bytes(b"a")
    emulator.set_fault("listDentries", "loop")
    cfg = write_config(tmp_path, emulator, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
    proc = run_cli("sync", "-c", str(cfg), timeout=60)
    failed = [e for e in events(proc.stderr) if e["event"] == "remote.list_failed"]
    assert failed and failed[0]["error_code"] == "listingLoop"
    assert emulator.calls("listDentries") <= 3
    assert "a.txt" in emulator.files()
