"""`syncd check --probe`: each tenant variant (dingtalk-api.md §15.3) is reported, the probe
stays within its calls, leaves the remote as it found it, and its answers are remembered."""

from __future__ import annotations

import json

import pytest

from syncd.state.store import StateStore
from tests.conftest import ROOT_UUID, run_cli, write_config

pytestmark = pytest.mark.e2e

CAPS = (
    "upload",
    "overwrite_in_place",
    "upload_info_accepts_existing_name",
    "commit_returns_version",
    "etag_is_md5",
    "listing_returns_stamp",
    "get_returns_stamp",
    "add_folder",
    "rename",
    "move",
)


def _config(tmp_path, emulator, roots=(ROOT_UUID,)):
    mappings = []
    for i, root in enumerate(roots):
        local = tmp_path / f"share{i}"
        local.mkdir()
        mappings.append({"local": str(local), "parent_dentry_uuid": root})
    return write_config(tmp_path, emulator, mappings)


def _probe(cfg, *extra: str):
    proc = run_cli("check", "--probe", "--json", "-c", str(cfg), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout), proc


def test_the_default_tenant_does_everything_within_the_budget(tmp_path, emulator):
    """Every capability true, ≤ 30 metered calls (the count it reports is the count the
    emulator metered), nothing outside the scratch folder touched, the scratch folder gone,
    and the answers kept for the space."""
    emulator.put_file(ROOT_UUID, "theirs.txt", b"a colleague's file")
    cfg = _config(tmp_path, emulator)
    before, metered = emulator.tree(), emulator.metered()
    out, proc = _probe(cfg)
    assert "metered API calls per mapping" in proc.stderr  # the cost, said first
    [m] = out["mappings"]
    assert m["parent_dentry_uuid"] == ROOT_UUID and m["local"] == str(tmp_path / "share0")
    assert m["capabilities"] == dict.fromkeys(CAPS, True) and m["notes"] == []
    assert m["api_calls"] == emulator.metered() - metered <= 30
    assert emulator.tree() == before
    store = StateStore.open(tmp_path / "state")
    try:
        space = emulator.dentries.by_uuid[ROOT_UUID].space_id
        assert store.capabilities(space) == dict.fromkeys(CAPS, (True, "probe"))
    finally:
        store.close()


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("listing-without-app-properties", {"listing_returns_stamp": False}),
        ("upload-info-refuses-existing-name", {"upload_info_accepts_existing_name": False}),
        ("no-folder-api", {"add_folder": False, "move": None}),
        ("no-rename-move", {"rename": False, "move": False}),
        ("etag-not-md5", {"etag_is_md5": False}),
        ("no-etag", {"etag_is_md5": None}),
        ("commit-without-version", {"commit_returns_version": False}),
    ],
)
def test_each_variant_is_reported(tmp_path, emulator, variant, expected):
    """The probe tells the variant and nothing else; the overwrite still lands in place
    (upload info asked again without the name), and the remote is left as found."""
    emulator.set_variant(variant)
    cfg = _config(tmp_path, emulator)
    before, metered = emulator.tree(), emulator.metered()
    out, _ = _probe(cfg)
    [m] = out["mappings"]
    assert m["capabilities"] == {**dict.fromkeys(CAPS, True), **expected}
    assert m["api_calls"] == emulator.metered() - metered <= 30
    assert emulator.tree() == before


def test_a_second_probe_refreshes_the_answers(tmp_path, emulator):
    """Fixed on the tenant's side, a capability is true again after the next probe."""
    emulator.set_variant("no-rename-move")
    cfg = _config(tmp_path, emulator)
    assert _probe(cfg)[0]["mappings"][0]["capabilities"]["rename"] is False
    emulator.set_variant("no-rename-move", on=False)
    assert _probe(cfg)[0]["mappings"][0]["capabilities"]["rename"] is True
    store = StateStore.open(tmp_path / "state")
    try:
        space = emulator.dentries.by_uuid[ROOT_UUID].space_id
        assert store.capabilities(space)["rename"] == (True, "probe")
    finally:
        store.close()


def test_the_table_says_what_each_answer_means(tmp_path, emulator):
    """The human form: the cost first, then one line per capability with its meaning."""
    emulator.set_variant("no-folder-api")
    cfg = _config(tmp_path, emulator)
    proc = run_cli("check", "--probe", "-c", str(cfg))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    cost = next(i for i, line in enumerate(lines) if line.startswith("probe: about"))
    table = next(i for i, line in enumerate(lines) if line.startswith("mappings: "))
    assert cost < table
    add_folder = next(line for line in lines if line.split()[:2] == ["add_folder", "no"])
    assert "subfolders: false" in add_folder
    assert any(line.split()[:2] == ["move", "?"] for line in lines)
    assert any("note: add-folder refused (operationNotSupported" in line for line in lines)


def test_a_refused_folder_is_a_clear_failure(tmp_path, emulator):
    """A mapping the operator may not write to: exit 1, a note naming the code and the
    fix, no traceback, and the other mapping still probed."""
    cfg = _config(tmp_path, emulator, roots=(ROOT_UUID, "noSuchFolderUuid0000000000000009"))
    proc = run_cli("check", "--probe", "--json", "-c", str(cfg))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first, second = json.loads(proc.stdout)["mappings"]
    assert first["capabilities"]["upload"] is True
    assert second["capabilities"]["upload"] is None
    assert second["notes"] and "check parent_dentry_uuid" in second["notes"][-1]


def test_probe_usage_errors(tmp_path, emulator):
    cfg = _config(tmp_path, emulator)
    assert run_cli("check", "--probe", "--offline", "-c", str(cfg)).returncode == 2
    assert run_cli("check", "--json", "-c", str(cfg)).returncode == 2
