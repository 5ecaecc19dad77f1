"""The monthly call budget (product.md §4.11) against the emulator's quota switch
(dingtalk-api.md §15.1): counted on the emulator's own meter, nothing mocked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from syncd.emulator import Emulator
from tests.conftest import ROOT_UUID, UNION_ID, events, run_cli, write_config

pytestmark = pytest.mark.e2e

UNLIMITED = 10**9  # a quota that never refuses, so the emulator meters every call


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tree(root: Path, folders: int, per_folder: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for d in range(folders):
        (root / f"d{d}").mkdir(parents=True, exist_ok=True)
        for i in range(per_folder):
            rel = f"d{d}/f{i:03}.txt"
            files[rel] = f"folder {d} file {i}\n".encode()
            (root / rel).write_bytes(files[rel])
    return files


def config(tmp_path: Path, emu: Emulator, share: Path, **dingtalk: object) -> Path:
    return write_config(
        tmp_path,
        emu,
        [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}],
        sync={"workers": 4},
        dingtalk=dict(dingtalk),
    )


def landed(emu: Emulator) -> dict[str, str]:
    return {p: f["sha256"] for p, f in emu.files().items() if not f.get("is_folder")}


def test_a_spent_quota_stops_calls_keeps_files_pending_and_they_land_after_the_reset(tmp_path):
    """300 files against a 120-call quota: what fits lands; after the quota answer at most
    the calls already in flight (3 other workers) are answered, one `quota.exhausted` and no
    `upload.failed`; the next sync sends one probe; status names the quota and the pending
    files; after the month is reset the rest lands, byte-identical, with no duplicate."""
    share = tmp_path / "share"
    files = make_tree(share, 3, 100)
    with Emulator(folders=[ROOT_UUID], store_content=True, monthly_quota=120) as emu:
        cfg = config(tmp_path, emu, share)
        first = run_cli("sync", "-c", str(cfg))
        ev = events(first.stderr)
        assert first.returncode == 1, first.stderr[-2000:]
        assert emu.metered() == 120
        after_answer = emu.stats()["metered"]["refused"]
        assert 1 <= after_answer <= 4, after_answer  # the answer + at most 3 in flight
        names = [e["event"] for e in ev]
        assert names.count("quota.exhausted") == 1
        assert "upload.failed" not in names and "upload.skipped" not in names
        quota = next(e for e in ev if e["event"] == "quota.exhausted")
        assert quota["month_ends"].endswith("00:00 CST") and "quota" in quota["action"]
        assert quota["calls_this_month"] >= 115
        done = next(e for e in ev if e["event"] == "sync.finished")
        uploaded = len(landed(emu))
        assert done["uploaded"] == uploaded > 50 and done["failed"] == 0
        assert done["pending"] == 300 - uploaded and done["stopped_by"] == "quota.exhausted"

        second = run_cli("sync", "-c", str(cfg))
        assert second.returncode == 1
        assert emu.stats()["metered"]["refused"] - after_answer == 1  # one probe
        assert emu.metered() == 120
        assert [e["event"] for e in events(second.stderr)].count("quota.exhausted") == 1

        status = run_cli("status", "-c", str(cfg), check=True).stdout
        assert "monthly API quota for the org is spent" in status
        assert f"pending: {300 - uploaded} files waiting for budget" in status
        data = json.loads(run_cli("status", "--json", "-c", str(cfg), check=True).stdout)
        assert data["api_calls"]["exhausted"] == "quota"
        assert len(data["mappings"][0]["pending"]) == 300 - uploaded
        assert not data["mappings"][0]["failing"] and not data["mappings"][0]["refused"]

        emu.reset_month()
        emu.set_monthly_quota(UNLIMITED)
        third = run_cli("sync", "-c", str(cfg))
        assert third.returncode == 0, third.stderr[-2000:]
        assert "quota.restored" in [e["event"] for e in events(third.stderr)]
        assert landed(emu) == {p: sha(b) for p, b in files.items()}  # no duplicate, no loss
        assert all(f["version"] == 1 for f in emu.files().values() if not f.get("is_folder"))
        data = json.loads(run_cli("status", "--json", "-c", str(cfg), check=True).stdout)
        assert data["api_calls"]["exhausted"] is None and not data["mappings"][0]["pending"]


def test_the_own_budget_is_never_overspent_and_the_dry_run_says_the_cost(tmp_path):
    """`monthly_call_budget: 100`: the dry-run's api_calls is the plan (2 per file + 1 per
    folder); the sync spends at most 100 metered calls and says the budget stopped it;
    status shows the month's calls against the budget."""
    share = tmp_path / "share"
    make_tree(share, 3, 40)
    with Emulator(folders=[ROOT_UUID], store_content=True, monthly_quota=UNLIMITED) as emu:
        cfg = config(tmp_path, emu, share, monthly_call_budget=100)
        plan = run_cli("sync", "--dry-run", "-c", str(cfg), check=True)
        finished = next(e for e in events(plan.stderr) if e["event"] == "plan.finished")
        assert finished["api_calls"] == 120 * 2 + 3 and emu.metered() == 0
        proc = run_cli("sync", "-c", str(cfg))
        assert proc.returncode == 1
        assert 95 <= emu.metered() <= 100
        assert emu.metered_calls("uploadInfo") == emu.metered_calls("commit")  # none half done
        ev = events(proc.stderr)
        assert [e["event"] for e in ev].count("budget.exhausted") == 1
        spent = next(e for e in ev if e["event"] == "budget.exhausted")
        assert spent["budget"] == 100 and "monthly_call_budget" in spent["action"]
        done = next(e for e in ev if e["event"] == "sync.finished")
        assert done["stopped_by"] == "budget.exhausted" and done["pending"] > 0
        assert "upload.failed" not in [e["event"] for e in ev]
        again = run_cli("sync", "-c", str(cfg))
        assert again.returncode == 1 and emu.metered() <= 100  # not even a probe
        status = run_cli("status", "-c", str(cfg), check=True).stdout
        spent_calls = emu.metered()
        assert f"api calls: {spent_calls} this month" in status
        assert f"of 100 budget ({100 - spent_calls} left)" in status
        assert "monthly call budget is spent" in status


def test_metered_calls_are_the_protocol_minimum(tmp_path):
    """100 new files in 5 new folders <= 208 metered calls; 20 changed files 40 (2 each:
    no get-dentry before an overwrite); a no-op 0; a rename 1."""
    share = tmp_path / "share"
    make_tree(share, 5, 20)
    with Emulator(folders=[ROOT_UUID], store_content=True, monthly_quota=UNLIMITED) as emu:
        cfg = config(tmp_path, emu, share)
        run_cli("sync", "-c", str(cfg), check=True)
        assert emu.metered() <= 208
        assert emu.metered_calls("addFolder") == 5 and emu.metered_calls("commit") == 100
        emu.reset_month()
        run_cli("sync", "-c", str(cfg), check=True)
        assert emu.metered() == 0
        for i in range(20):
            (share / "d0" / f"f{i:03}.txt").write_bytes(b"changed, and longer %d" % i)
        run_cli("sync", "-c", str(cfg), check=True)
        assert emu.metered() == 40 and emu.metered_calls("getDentry") == 0
        emu.reset_month()
        (share / "d1" / "f000.txt").rename(share / "d1" / "renamed.txt")
        run_cli("sync", "-c", str(cfg), check=True)
        assert emu.metered() == 1


def test_a_colleagues_edit_is_still_told_after_a_blind_overwrite(tmp_path):
    """Exactly 2 metered calls for a changed file as we left it; a colleague's edit is found
    from the version the commit returns and named (one version-history call, only then)."""
    share = tmp_path / "share"
    share.mkdir()
    (share / "a.txt").write_bytes(b"ours v1")
    (share / "b.txt").write_bytes(b"ours v1")
    with Emulator(folders=[ROOT_UUID], store_content=True, monthly_quota=UNLIMITED) as emu:
        cfg = config(tmp_path, emu, share)
        run_cli("sync", "-c", str(cfg), check=True)
        (share / "a.txt").write_bytes(b"ours v2, longer")
        emu.reset_month()
        proc = run_cli("sync", "-c", str(cfg), check=True)
        assert emu.metered() == 2
        assert "remote.changed" not in [e["event"] for e in events(proc.stderr)]
        emu.edit(emu.files()["b.txt"]["uuid"], b"theirs v2", modifier="colleague-union-id")
        (share / "b.txt").write_bytes(b"ours v2, longer")
        emu.reset_month()
        proc = run_cli("sync", "-c", str(cfg), check=True)
        changed = [e for e in events(proc.stderr) if e["event"] == "remote.changed"]
        assert len(changed) == 1 and changed[0]["version_overwritten"] == 2
        assert changed[0]["modifier"] == "colleague-union-id"
        assert emu.metered() == 3 and emu.metered_calls("versions") == 1
        assert emu.files()["b.txt"]["sha256"] == sha(b"ours v2, longer")


def test_hosts_on_one_app_share_the_months_count_through_redis(tmp_path, redis_server):
    """Two hosts (state stores) with `rate_limit: redis://…` and one budget of 60: together
    they spend at most 60 metered calls; the second says the budget stopped it."""
    roots = [ROOT_UUID, "hostRootFolderUuid000000000000001"]
    with Emulator(
        folders=roots, union_ids=[UNION_ID], store_content=True, monthly_quota=UNLIMITED
    ) as emu:
        cfgs = []
        for i, root in enumerate(roots):
            home = tmp_path / f"host{i}"
            share = home / "share"
            share.mkdir(parents=True)
            for n in range(20):
                (share / f"h{i}-{n:02}.txt").write_bytes(b"host %d file %d" % (i, n))
            cfgs.append(
                write_config(
                    home,
                    emu,
                    [{"local": str(share), "parent_dentry_uuid": root}],
                    sync={"workers": 4},
                    dingtalk={"rate_limit": redis_server.url, "monthly_call_budget": 60},
                )
            )
        first = run_cli("sync", "-c", str(cfgs[0]), check=True)  # 20 files: ~42 calls
        assert "budget.exhausted" not in first.stderr
        second = run_cli("sync", "-c", str(cfgs[1]))
        assert second.returncode == 1
        assert emu.metered() <= 60
        assert "budget.exhausted" in [e["event"] for e in events(second.stderr)]
        status = run_cli("status", "-c", str(cfgs[1]), check=True).stdout
        assert "every host on the app" in status and "of 60 budget" in status


def test_a_short_budget_pays_for_the_rename_then_the_oldest_changes_first(tmp_path):
    """When the budget cannot cover the plan: the rename (1 call, saves an upload) first,
    then uploads oldest change first; no upload is started that the budget cannot finish."""
    import os

    share = tmp_path / "share"
    share.mkdir()
    (share / "keep.txt").write_bytes(b"recorded")
    with Emulator(folders=[ROOT_UUID], store_content=True, monthly_quota=UNLIMITED) as emu:
        cfg = config(tmp_path, emu, share)
        run_cli("sync", "-c", str(cfg), check=True)
        spent = emu.metered()
        (share / "keep.txt").rename(share / "renamed.txt")
        for i in range(8):  # new-0 is the newest change, new-7 the oldest
            path = share / f"new-{i}.txt"
            path.write_bytes(b"file %d" % i)
            os.utime(path, (1_700_000_000 - i * 3600, 1_700_000_000 - i * 3600))
        # the rename, perhaps a listing of the root, and three or four uploads
        cfg = config(tmp_path, emu, share, monthly_call_budget=spent + 9)
        proc = run_cli("sync", "-c", str(cfg))
        assert proc.returncode == 1
        assert emu.metered() <= spent + 9
        names = sorted(landed(emu))
        assert "renamed.txt" in names and "keep.txt" not in names
        new = [n for n in names if n.startswith("new-")]
        assert 3 <= len(new) < 8  # what the budget paid for: the oldest changes, in order
        assert new == [f"new-{i}.txt" for i in range(8 - len(new), 8)]
        assert emu.metered_calls("uploadInfo") == emu.metered_calls("commit")  # none half done


def test_a_lost_commit_answer_costs_one_call_to_recover(tmp_path):
    """The commit was applied but its answer lost: one listing page (newest first) finds
    it; nothing is committed twice."""
    share = tmp_path / "share"
    share.mkdir()
    for i in range(60):  # more than one page of entries in the folder
        (share / f"f{i:02}.txt").write_bytes(b"v1 %d" % i)
    with Emulator(folders=[ROOT_UUID], store_content=True, monthly_quota=UNLIMITED) as emu:
        cfg = config(tmp_path, emu, share)
        run_cli("sync", "-c", str(cfg), check=True)
        (share / "f00.txt").write_bytes(b"v2, longer")
        emu.set_fault("commit", "lost", rate=1.0)
        emu.reset_month()
        proc = run_cli("sync", "-c", str(cfg), check=True)
        assert "commit.recovered" in [e["event"] for e in events(proc.stderr)]
        assert emu.metered() == 3  # upload-info, the commit, one listing page
        assert emu.files()["f00.txt"]["version"] == 2
        # not applied (a 5xx in its place, free): one page says so, then step 1 again
        emu.clear_faults()
        (share / "f01.txt").write_bytes(b"v2, longer")
        emu.set_fault("commit", "5xx", count=1)
        emu.reset_month()
        proc = run_cli("sync", "-c", str(cfg), check=True)
        assert "commit.not_applied" in [e["event"] for e in events(proc.stderr)]
        assert emu.metered_calls("listDentries") == 1  # not every page of the folder
        assert emu.files()["f01.txt"]["version"] == 2


@pytest.mark.parametrize("policy", ["keep-both", "hold"])
def test_keep_both_and_hold_look_first_in_batches(tmp_path, policy):
    """Only `keep-both` and `hold` pay for a look before overwriting, 30 files a call
    (BatchGetDentries): 40 changed files cost 80 + 2, and a colleague's edit among them is
    still kept beside ours / held."""
    share = tmp_path / "share"
    share.mkdir()
    for i in range(40):
        (share / f"f{i:02}.txt").write_bytes(b"v1 %d" % i)
    with Emulator(folders=[ROOT_UUID], store_content=True, monthly_quota=UNLIMITED) as emu:
        cfg = write_config(
            tmp_path,
            emu,
            [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}],
            sync={"workers": 4, "on_remote_change": policy},
        )
        run_cli("sync", "-c", str(cfg), check=True)
        emu.edit(emu.files()["f07.txt"]["uuid"], b"theirs", modifier="colleague-union-id")
        for i in range(40):
            (share / f"f{i:02}.txt").write_bytes(b"v2, longer %d" % i)
        emu.reset_month()
        proc = run_cli("sync", "-c", str(cfg))
        assert emu.metered_calls("batchGetDentries") == 2 and emu.metered_calls("getDentry") == 0
        changed = [e for e in events(proc.stderr) if e["event"] == "remote.changed"]
        assert len(changed) == 1 and changed[0]["path"] == "f07.txt"
        files = emu.files()
        assert files["f07.txt"]["sha256"] == sha(b"theirs")
        assert files["f08.txt"]["sha256"] == sha(b"v2, longer 8")
        if policy == "keep-both":
            assert proc.returncode == 0 and emu.metered() == 80 + 2
            assert any(p.startswith("f07 (conflict ") for p in files)
        else:
            assert emu.metered() == 78 + 2 and "held" in proc.stderr


def test_a_delete_waits_for_the_budget_without_an_error_per_file(tmp_path):
    """`deletes: trash` with the budget spent: the moves into the trash wait (no
    `trash.failed`), the records stay, and the pass after a raise trashes them."""
    share = tmp_path / "share"
    share.mkdir()
    for i in range(3):
        (share / f"f{i}.txt").write_bytes(b"file %d" % i)
    with Emulator(folders=[ROOT_UUID], store_content=True, monthly_quota=UNLIMITED) as emu:
        sync = {"workers": 4, "deletes": "trash", "max_delete_percent": 100}
        mapping = [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}]
        cfg = write_config(tmp_path, emu, mapping, sync=sync)
        run_cli("sync", "-c", str(cfg), check=True)
        spent = emu.metered()
        (share / "f0.txt").unlink()
        cfg = write_config(
            tmp_path, emu, mapping, sync=sync, dingtalk={"monthly_call_budget": spent}
        )
        proc = run_cli("sync", "-c", str(cfg))
        names = [e["event"] for e in events(proc.stderr)]
        assert proc.returncode == 1 and "trash.failed" not in names and emu.metered() == spent
        assert "f0.txt" in emu.files()
        cfg = write_config(tmp_path, emu, mapping, sync=sync, dingtalk={"monthly_call_budget": 0})
        run_cli("sync", "-c", str(cfg), check=True)
        assert "f0.txt" not in emu.files()
