"""The DingTalk client and uploader against the emulator over real HTTP (no mocks)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from syncd.core.errors import (
    CredentialsError,
    FileChangedError,
    ParentMissingError,
    PermanentError,
    RootMissingError,
    UploadExpiredError,
)
from syncd.core.model import LocalFile
from syncd.core.settings import DingTalkSettings
from syncd.emulator import Emulator
from syncd.local.fs import LocalTree
from syncd.remote.dentries import DentryApi
from syncd.remote.folders import FolderResolver, Target
from syncd.remote.transfer import Transfer
from syncd.remote.upload_body import HashingBody
from syncd.state.store import StateStore
from tests.conftest import ROOT_UUID, UNION_ID
from tests.contract.api_client import ApiClient

pytestmark = pytest.mark.contract


def settings(emu: Emulator, **kw) -> DingTalkSettings:
    base = {
        "app_key": "emulator-app-key",
        "app_secret": "emulator-app-secret",
        "union_id": UNION_ID,
        "api_base": emu.base_url,
        "qps": 1000.0,
        "connect_timeout": 5.0,
        "read_timeout": 10.0,
    }
    return DingTalkSettings(**{**base, **kw})


@pytest.fixture
def client(emulator):
    c = ApiClient(settings(emulator), sleep=lambda s: None)
    yield c
    c.close()


@pytest.fixture
def store(tmp_path):
    s = StateStore(tmp_path / "state")
    yield s
    s.close()


def local_file(path, rel):
    st = os.stat(path)
    return LocalFile(rel, st.st_size, st.st_mtime_ns, st.st_ino)


def make_transfer(client, store, **kw):
    folders = FolderResolver(client.storage, store)
    return Transfer(client.storage, DentryApi(client), folders, sleep=lambda s: None, **kw)


def send(transfer, root, rel, target_uuid=ROOT_UUID, on_bytes=None):
    """Upload the file `rel` under folder `root` through the transfer (no state written)."""
    f = local_file(root / rel, rel)
    t = Target(f"{target_uuid}:{root}", target_uuid)
    return transfer.send(LocalTree(root), t, f, strategy="OVERWRITE", on_bytes=on_bytes)


def upload_bytes(client, name, data, parent=ROOT_UUID, strategy="OVERWRITE", tmp=None):
    info = client.upload_info(parent, name, len(data))
    path = tmp / name
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        body = HashingBody(fd, len(data))
        client.put(info, body)
    finally:
        os.close(fd)
    sha = hashlib.sha256(data).hexdigest()
    return client.commit(parent, info.upload_key, name, len(data), strategy, sha)


def test_three_steps_store_the_exact_bytes(client, emulator, tmp_path):
    """upload info -> PUT (empty Content-Type) -> commit lands the file with its bytes."""
    data = os.urandom(300_000)
    dentry = upload_bytes(client, "报告.bin", data, tmp=tmp_path)
    assert dentry.version == 1
    remote = emulator.files()["报告.bin"]
    assert remote["sha256"] == hashlib.sha256(data).hexdigest()
    assert remote["size"] == len(data)
    assert emulator.content(dentry.uuid) == data


def test_overwrite_makes_version_two_without_duplicate(client, emulator, tmp_path):
    """Committing the same name with OVERWRITE bumps the version, no name(1) appears."""
    upload_bytes(client, "a.txt", b"one", tmp=tmp_path)
    d2 = upload_bytes(client, "a.txt", b"two!", tmp=tmp_path)
    assert d2.version == 2
    assert sorted(emulator.files()) == ["a.txt"]


def test_zero_byte_file_uploads(client, emulator, tmp_path):
    """An empty file goes up with Content-Length 0 (not chunked)."""
    upload_bytes(client, "empty.txt", b"", tmp=tmp_path)
    assert emulator.files()["empty.txt"]["size"] == 0


def test_token_is_cached_and_refreshed_once_on_invalid_authentication(client, emulator, tmp_path):
    """One token call for many requests; an expired token is refreshed once and the call retried."""
    upload_bytes(client, "a.txt", b"1", tmp=tmp_path)
    upload_bytes(client, "b.txt", b"2", tmp=tmp_path)
    assert emulator.stats()["requests"]["token"] == 1
    emulator.expire_tokens()
    upload_bytes(client, "c.txt", b"3", tmp=tmp_path)
    assert emulator.stats()["requests"]["token"] == 2
    assert "c.txt" in emulator.files()


def test_wrong_app_secret_is_a_credentials_error(emulator):
    """invalidClientIdOrSecret becomes CredentialsError; the secret is not in the message."""
    c = ApiClient(settings(emulator, app_secret="wrong-secret-value"))
    with pytest.raises(CredentialsError) as info:
        c.token()
    assert info.value.code == "invalidClientIdOrSecret"
    assert "wrong-secret-value" not in str(info.value)
    c.close()


def test_reused_upload_key_is_rejected_for_a_restart(client, emulator, tmp_path):
    """An uploadKey is single-use: the second commit asks for a restart from step 1."""
    info = client.upload_info(ROOT_UUID, "x.txt", 1)
    (tmp_path / "x").write_bytes(b"x")
    fd = os.open(tmp_path / "x", os.O_RDONLY)
    client.put(info, HashingBody(fd, 1))
    os.close(fd)
    client.commit(ROOT_UUID, info.upload_key, "x.txt", 1, "OVERWRITE", "")
    with pytest.raises(UploadExpiredError) as err:
        client.commit(ROOT_UUID, info.upload_key, "x.txt", 1, "OVERWRITE", "")
    assert err.value.restart_upload
    assert err.value.code == "paramError.uploadKey"


def test_rejected_upload_key_is_not_retried_by_the_client(client, emulator, tmp_path):
    """A dead upload key goes straight back to the uploader: one call, not five."""
    upload_bytes(client, "k.txt", b"k", tmp=tmp_path)
    info = client.upload_info(ROOT_UUID, "k.txt", 1)
    emulator.reset_stats()
    with pytest.raises(UploadExpiredError):
        client.commit(ROOT_UUID, info.upload_key, "k.txt", 1, "OVERWRITE", "")
    assert emulator.stats()["requests"]["commit"] == 1


def test_commit_without_put_asks_for_restart(client):
    """Committing a key whose object was never PUT restarts the file."""
    info = client.upload_info(ROOT_UUID, "y.txt", 1)
    with pytest.raises(UploadExpiredError):
        client.commit(ROOT_UUID, info.upload_key, "y.txt", 1, "OVERWRITE", "")


@pytest.mark.parametrize("kind", ["5xx", "throttle", "reset"])
@pytest.mark.parametrize("endpoint", ["uploadInfo", "commit", "token"])
def test_transient_faults_are_retried(client, store, emulator, tmp_path, kind, endpoint):
    """5xx, 403 QpsLimit and connection resets are retried until the file lands, once."""
    emulator.set_fault(endpoint, kind, count=2)
    (tmp_path / "t.txt").write_bytes(b"data")
    send(make_transfer(client, store), tmp_path, "t.txt")
    assert emulator.files()["t.txt"]["version"] == 1
    assert emulator.stats()["faults"] == 2


def test_slow_answer_times_out_and_is_retried(emulator, store, tmp_path):
    """A read timeout of an idempotent call is retried; a commit's is looked up, not replayed."""
    c = ApiClient(settings(emulator, read_timeout=0.3), sleep=lambda s: None)
    emulator.set_fault("uploadInfo", "slow", count=1, delay=1.0)
    emulator.set_fault("commit", "slow", count=1, delay=1.0)
    (tmp_path / "s.txt").write_bytes(b"slow")
    send(make_transfer(c, store), tmp_path, "s.txt")
    assert emulator.files()["s.txt"]["version"] == 1
    c.close()


def test_throttling_is_retried_and_client_limit_prevents_it(emulator, tmp_path):
    """With the emulator enforcing 5 calls/s and the client limited to 5/s, nothing is throttled."""
    emu = Emulator(folders=[ROOT_UUID], qps=5).start()
    try:
        c = ApiClient(settings(emu, qps=5.0))
        for i in range(12):
            c.upload_info(ROOT_UUID, f"f{i}.txt", 1)
        assert emu.stats()["throttled"] == 0
        c.close()
    finally:
        emu.stop()


def test_missing_parent_is_parent_missing(client):
    """An unknown parentDentryUuid is reported as a missing parent."""
    with pytest.raises(ParentMissingError):
        client.upload_info("noSuchFolderUuid000000000000000000", "a.txt", 1)


def test_invalid_name_is_a_permanent_refusal(client):
    """A name the remote rejects is permanent, with the remote code."""
    with pytest.raises(PermanentError) as err:
        client.upload_info(ROOT_UUID, "bad|name.txt", 1)
    assert err.value.code == "dentryNameIllegal"
    assert not err.value.retryable


def test_uploader_restarts_on_expired_signature(emulator, store, tmp_path):
    """A PUT that arrives after expirationSeconds gets RequestTimeTooSkewed; the file restarts."""
    # 2 s, not 1: x-oss-date has whole seconds, so a signature is up to 1 s "old" at birth
    emu = Emulator(folders=[ROOT_UUID], expiration_seconds=2).start()
    try:
        c = ApiClient(settings(emu), sleep=lambda s: None)
        emu.set_fault("oss", "slow", count=1, delay=3.5)  # the delay outlives the signature
        (tmp_path / "late.txt").write_bytes(b"late bytes")
        result = send(make_transfer(c, store), tmp_path, "late.txt")
        assert result.attempts == 2
        assert emu.stats()["status"]["oss"].get("403") == 1
        assert emu.files()["late.txt"]["size"] == 10
        c.close()
    finally:
        emu.stop()


def test_uploader_creates_subfolders_once_and_recreates_deleted_ones(
    client, emulator, store, tmp_path
):
    """Subfolders are created level by level, cached, and recreated when deleted remotely."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("c", "d", "e"):
        (tmp_path / "a" / "b" / f"{name}.txt").write_bytes(name.encode())
    tr = make_transfer(client, store)
    send(tr, tmp_path, "a/b/c.txt")
    assert set(emulator.folders()) == {"a", "a/b"}
    calls = emulator.stats()["requests"].get("addFolder", 0)
    send(tr, tmp_path, "a/b/d.txt")
    assert emulator.stats()["requests"].get("addFolder", 0) == calls  # cached
    emulator.remove(emulator.folders()["a"]["uuid"])
    send(tr, tmp_path, "a/b/e.txt")
    assert "a/b/e.txt" in emulator.files()


def test_create_new_makes_only_folders_that_are_not_there(client, emulator, store, tmp_path):
    """`create_new` (RETURN_ERROR_IF_EXISTS) marks what it made as fresh (empty, nothing to
    adopt); a name that is taken is `dentryAlreadyExist`, nothing is doubled, and `ensure`
    then finds the folder that is there."""
    folders = FolderResolver(client.storage, store)
    t = Target(f"{ROOT_UUID}:{tmp_path}", ROOT_UUID)
    folders.create_new(t, "a/b")
    assert set(emulator.folders()) == {"a", "a/b"}
    assert folders.fresh(t, "a") and folders.fresh(t, "a/b")
    other = FolderResolver(client.storage, StateStore(None))  # another process: knows nothing
    with pytest.raises(PermanentError) as err:
        other.create_new(t, "a/c")
    assert err.value.code == "dentryAlreadyExist"
    assert set(emulator.folders()) == {"a", "a/b"} and not other.fresh(t, "a")
    assert other.ensure(t, "a").uuid == emulator.folders()["a"]["uuid"]
    assert not other.fresh(t, "a")


def test_missing_mapping_root_is_reported_as_such(client, store, tmp_path):
    """A parent_dentry_uuid that does not exist is a RootMissingError for subfolders."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_bytes(b"x")
    with pytest.raises(RootMissingError):
        send(
            make_transfer(client, store),
            tmp_path,
            "sub/x.txt",
            "noSuchRoot000000000000000000000000",
        )


def test_file_changed_during_upload_is_not_committed(client, emulator, store, tmp_path):
    """If the file changes while it is being sent, the commit is skipped."""
    p = tmp_path / "grow.bin"
    p.write_bytes(os.urandom(3 * 1024 * 1024))
    f = local_file(p, "grow.bin")
    calls = {"n": 0}

    def on_bytes(n):
        calls["n"] += 1
        if calls["n"] == 1:
            with open(p, "ab") as fh:
                fh.write(b"more")

    with pytest.raises(FileChangedError):
        send(make_transfer(client, store), tmp_path, "grow.bin", on_bytes=on_bytes)
    assert "grow.bin" not in emulator.files()
    assert f.size == 3 * 1024 * 1024


def test_commit_carries_the_content_stamp(client, store, tmp_path, emulator):
    """Every commit stamps the file with a PRIVATE syncd.sha256 app property (no extra call)."""
    (tmp_path / "r.txt").write_bytes(b"record me")
    sent = send(make_transfer(client, store), tmp_path, "r.txt")
    assert sent.sha256 == hashlib.sha256(b"record me").hexdigest()
    assert sent.dentry.stamp == sent.sha256
    assert sent.dentry.uuid == emulator.files()["r.txt"]["uuid"]
    assert emulator.stats()["requests"]["commit"] == 1


def test_executor_skips_an_upload_that_another_one_already_did(emulator, tmp_path):
    """An upload decided from an older view (e.g. a long scan) does not upload the file again;
    the record is written only after the commit."""
    from syncd.config import load
    from syncd.core.actions import Outcome, Reason, Upload
    from syncd.execute.context import Context
    from syncd.execute.executor import Executor
    from tests.conftest import write_config

    share = tmp_path / "share"
    share.mkdir()
    p = share / "once.txt"
    p.write_bytes(b"once")
    cfg = load(
        write_config(tmp_path, emulator, [{"local": str(share), "parent_dentry_uuid": ROOT_UUID}])
    )
    state = StateStore(cfg.state_dir)
    ctx = Context(cfg, state)
    ex = Executor(ctx)
    m = cfg.mappings[0]
    action = Upload(m, local_file(p, "once.txt"), Reason.NEW)
    try:
        assert ex.execute(action) is Outcome.COMPLETED
        assert ex.execute(action) is Outcome.UNCHANGED
        rec = state.record(m.key, "once.txt")
        assert rec.sha256 == hashlib.sha256(b"once").hexdigest()
        assert rec.dentry_uuid == emulator.files()["once.txt"]["uuid"]
        assert rec.version == 1
    finally:
        ctx.close()
        state.close()
    assert emulator.stats()["requests"]["commit"] == 1


def test_environment_proxies_are_honoured(emulator, monkeypatch):
    """HTTP(S)_PROXY and NO_PROXY from the environment apply (read once per host)."""
    from syncd.core.errors import TransientError

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    c = ApiClient(settings(emulator), max_attempts=1, sleep=lambda s: None)
    with pytest.raises(TransientError):
        c.token()
    c.close()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    c = ApiClient(settings(emulator), sleep=lambda s: None)
    assert c.token()
    assert c.upload_info(ROOT_UUID, "p.txt", 1).upload_key  # cached settings, still direct
    c.close()


def test_a_netrc_entry_for_the_hosts_changes_no_header(emulator, tmp_path, monkeypatch):
    """A ~/.netrc listing the API or OSS host adds no Basic auth: the token header and the
    signed OSS Authorization are the only credentials sent."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    c = ApiClient(settings(emulator), sleep=lambda s: None)
    try:
        dentry = upload_bytes(c, "n.txt", b"netrc", tmp=tmp_path)
    finally:
        c.close()
    assert emulator.content(dentry.uuid) == b"netrc"


def test_listing_pages_through_more_than_fifty_entries(client, emulator):
    """syncd's own listing follows nextToken (50 per page): 120 files, 3 calls, each once."""
    for i in range(120):
        emulator.put_file(ROOT_UUID, f"f{i:03d}.txt", b"x")
    space, root_id = client.query_dentry_id(ROOT_UUID)
    emulator.reset_stats()
    names = [d.name for d in DentryApi(client).list(space, root_id)]
    assert sorted(names) == [f"f{i:03d}.txt" for i in range(120)]
    assert emulator.calls("listDentries") == 3


def test_get_dentry_sees_a_colleagues_version_and_none_once_deleted(client, emulator):
    """get: the current version and modifier of one file; None (no error) when it is gone."""
    uuid = emulator.put_file(ROOT_UUID, "q.txt", b"one")
    emulator.edit(uuid, b"two, by a colleague")
    space, root_id = client.query_dentry_id(ROOT_UUID)
    api = DentryApi(client)
    listed = next(d for d in api.list(space, root_id) if d.uuid == uuid)
    got = api.get(space, listed.id)
    assert got is not None and got.uuid == uuid and got.version == 2 and got.modifier
    emulator.delete(uuid)
    assert api.get(space, listed.id) is None


def test_bwlimit_caps_all_concurrent_puts_together(client, store, emulator, tmp_path):
    """sync.bwlimit is one budget for every PUT at once: four 1 MiB files sent side by side
    at 2 MiB/s cannot finish before (4 MiB - the quarter-second burst) / 2 MiB/s. A lower
    bound only: a slow machine passes, a limiter per PUT (or none) does not."""
    from concurrent.futures import ThreadPoolExecutor

    transfer = make_transfer(client, store, bwlimit=2 << 20)
    for i in range(4):
        (tmp_path / f"f{i}.bin").write_bytes(os.urandom(1 << 20))
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        sent = list(pool.map(lambda i: send(transfer, tmp_path, f"f{i}.bin"), range(4)))
    elapsed = time.monotonic() - started
    assert all(s.dentry.size == 1 << 20 for s in sent)
    assert elapsed >= (4 - 0.5) / 2 * 0.95, elapsed


def test_get_dentry_asks_for_our_app_properties_once_the_app_id_is_known(
    client, store, emulator, tmp_path
):
    """GetDentry shows app properties only for the apps named in appIdsForAppProperties:
    the client learns its app id from where its PRIVATE stamp shows in a commit answer and
    asks for it, so `get` carries the stamp too."""
    (tmp_path / "s.txt").write_bytes(b"stamped")
    sent = send(make_transfer(client, store), tmp_path, "s.txt")
    assert client.app_id == emulator.app_id
    space, _ = client.query_dentry_id(ROOT_UUID)
    got = DentryApi(client).get(space, sent.dentry.id)
    assert got is not None and got.stamp == hashlib.sha256(b"stamped").hexdigest()
