"""Every remote failure mode classified right, each produced by the emulator over HTTP."""

from __future__ import annotations

import hashlib
import os

import pytest
from structlog.testing import capture_logs

from syncd.core.errors import (
    AuthError,
    CredentialsError,
    ThrottledError,
    TooSlowError,
    TransientError,
    UploadExpiredError,
)
from syncd.core.model import LocalFile
from syncd.local.fs import LocalTree
from syncd.remote.dentries import DentryApi
from syncd.remote.errors import api_error, oss_error
from syncd.remote.folders import FolderResolver, Target
from syncd.remote.transfer import Transfer
from syncd.remote.wire import as_int, dentry_from_json
from syncd.state.store import StateStore
from tests.conftest import ROOT_UUID
from tests.contract.api_client import ApiClient
from tests.contract.test_client import settings

pytestmark = pytest.mark.contract


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake():
    return FakeTime()


@pytest.fixture
def client(emulator, fake):
    c = ApiClient(settings(emulator), sleep=fake.sleep, clock=fake.clock)
    yield c
    c.close()


@pytest.fixture
def store(tmp_path):
    s = StateStore(tmp_path / "state")
    yield s
    s.close()


def transfer(client, store, fake):
    return Transfer(
        client.storage, DentryApi(client), FolderResolver(client.storage, store), sleep=fake.sleep
    )


def send(tr, root, name, data=b"payload", clock=None):
    (root / name).write_bytes(data)
    st = os.stat(root / name)
    f = LocalFile(name, st.st_size, st.st_mtime_ns, st.st_ino)
    t = Target(f"{ROOT_UUID}:{root}", ROOT_UUID)
    return tr.send(LocalTree(root), t, f, strategy="OVERWRITE")


def test_oss_throttling_with_a_json_body_is_throttling(client, store, fake, emulator, tmp_path):
    """A throttling 403 with a JSON body on the OSS PUT is retried, not a permanent error."""
    emulator.set_fault("oss", "throttlejson", count=2)
    sent = send(transfer(client, store, fake), tmp_path, "t.txt")
    assert sent.dentry.version == 1
    err = oss_error(403, b'{"code":"Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"}', {})
    assert isinstance(err, ThrottledError) and err.floor == 1.0


def test_any_throttling_code_on_any_endpoint_is_throttling(client, emulator, fake):
    """QpsLimitForApi and the per-minute Qpm limit are throttling; Qpm waits a minute."""
    emulator.set_fault("uploadInfo", "qpsapi", count=1)
    emulator.set_fault("queryDentryId", "qpm", count=1)
    client.upload_info(ROOT_UUID, "a.txt", 1)
    client.query_dentry_id(ROOT_UUID)
    assert max(fake.sleeps) >= 60.0
    assert (
        api_error(403, b'{"code":"Forbidden.AccessDenied.QpmLimitForAppkeyAndApi"}', {}, "x").floor
        == 60.0
    )


@pytest.mark.parametrize("repeat", [1, 2])
def test_http_401_with_any_body_is_an_auth_failure(client, emulator, repeat):
    """401 (empty body or another code) refreshes the token once; rejected again, the
    credentials are refused (exit 3), not a per-file permanent error."""
    client.token()
    emulator.set_fault("uploadInfo", "401", count=repeat)
    if repeat == 1:
        assert client.upload_info(ROOT_UUID, "a.txt", 1).upload_key
        assert emulator.calls("token") == 2
    else:
        with pytest.raises(CredentialsError):
            client.upload_info(ROOT_UUID, "a.txt", 1)
    assert isinstance(api_error(401, b"", {}, "x"), AuthError)


@pytest.mark.parametrize(("kind", "status"), [("ban", 200), ("ban", 403), ("banhtml", 403)])
def test_the_per_ip_ban_pauses_every_call_once(client, emulator, fake, kind, status):
    """The ban body (JSON status 1111 or an HTML page, at any status, even 200) pauses all
    API calls for the wait it gives (5 minutes), with one remote.banned warning."""
    client.token()
    emulator.set_fault("uploadInfo", kind, count=1, status=status)
    with capture_logs() as logs:
        assert client.upload_info(ROOT_UUID, "a.txt", 1).upload_key
    banned = [e for e in logs if e["event"] == "remote.banned"]
    assert len(banned) == 1
    assert sum(fake.sleeps) >= 300.0
    assert banned[0]["pause_seconds"] == 300


def test_an_etag_that_is_never_the_md5_falls_back_to_size(client, store, fake, emulator, tmp_path):
    """A proxy whose ETag is never the MD5: one warning, then uploads verified by size."""
    emulator.set_fault("oss", "etag")
    tr = transfer(client, store, fake)
    with capture_logs() as logs:
        for i in range(4):
            send(tr, tmp_path, f"e{i}.txt", f"etag {i}".encode())
    assert len(emulator.files()) == 4
    assert [e["event"] for e in logs].count("etag.unverifiable") == 1


def test_an_etag_mismatch_after_matches_is_corruption(client, store, fake, emulator, tmp_path):
    """Once a host's ETags matched, a mismatch is a corrupt transfer: the file is re-sent."""
    tr = transfer(client, store, fake)
    send(tr, tmp_path, "good.txt")
    emulator.set_fault("oss", "etag", count=1)
    sent = send(tr, tmp_path, "bad.txt")
    assert sent.attempts == 2


def test_an_oss_403_that_is_not_xml_restarts_from_step_one(client, store, fake, emulator, tmp_path):
    """An HTML 403 from the OSS host gets a fresh signed URL (restart from step 1)."""
    emulator.set_fault("oss", "html403", count=1)
    sent = send(transfer(client, store, fake), tmp_path, "h.txt")
    assert sent.attempts == 2
    assert isinstance(oss_error(403, b"<html><body>denied</body></html>", {}), UploadExpiredError)


def test_a_short_lived_token_is_refreshed_at_half_its_life(emulator, fake):
    """A token with expireIn under 20 minutes is refreshed at half its life, not every call."""
    emu_ttl = 600
    emulator.token_ttl = emu_ttl
    c = ApiClient(settings(emulator), sleep=fake.sleep, clock=fake.clock)
    for _ in range(5):
        c.upload_info(ROOT_UUID, "a.txt", 1)
    assert emulator.calls("token") == 1
    fake.now += emu_ttl / 2 + 1
    c.upload_info(ROOT_UUID, "a.txt", 1)
    assert emulator.calls("token") == 2
    c.close()


def test_malformed_numbers_over_http_are_errors_and_a_commit_is_never_replayed(
    client, store, fake, emulator, tmp_path
):
    """Integers sent as text (`expireIn: "7200.0"`) are a RemoteError naming the field, never
    a crash; a commit whose answer cannot be read was applied, so it is looked up, not sent
    again (one version, no copy)."""
    emulator.set_fault("token", "badnumbers", count=10)
    with pytest.raises(TransientError, match="malformed expireIn"):
        client.token(force=True)
    emulator.clear_faults()
    emulator.set_fault("commit", "badnumbers", count=1)
    sent = send(transfer(client, store, fake), tmp_path, "a.txt", b"abc")
    assert sent.recovered and sent.dentry.version == 1
    assert emulator.calls("commit") == 1
    assert emulator.files()["a.txt"]["version"] == 1


def test_malformed_numbers_in_answers_are_remote_errors():
    """`expireIn: "abc"` or `version: "1.0"` is a RemoteError naming the field."""
    with pytest.raises(TransientError, match="malformed expireIn"):
        as_int("abc", "expireIn", "oauth2.accessToken")
    with pytest.raises(TransientError, match="malformed version"):
        dentry_from_json({"uuid": "u", "id": "1", "version": "1.0"}, "storage.commit")
    assert as_int("7200", "expireIn", "x") == 7200


def test_prefer_intranet_false_and_the_next_url(client, store, fake, emulator, tmp_path):
    """syncd asks for public URLs (preferIntranet: false); when a URL cannot be reached the
    next returned one is tried before starting over from step 1."""
    emulator.intranet_first = True
    info = client.upload_info(ROOT_UUID, "probe.txt", 1)
    intranet = sum("/intranet" in url for url in info.urls)
    assert intranet == 0, "an intranet URL was offered: preferIntranet: false was not sent"
    sent = send(transfer(client, store, fake), tmp_path, "i.txt")
    assert sent.attempts == 1
    emulator.unreachable_urls = 2
    sent = send(transfer(client, store, fake), tmp_path, "j.txt")
    assert sent.attempts == 1 and emulator.calls("uploadInfo") == 3  # probe, i, j


def test_a_put_slower_than_the_upload_window_is_reported_once(emulator, store, fake, tmp_path):
    """A PUT that outlasts expirationSeconds is not retried again and again: after a second
    overrun it is 'too slow for the upload window' with the measured rate."""
    from syncd.emulator import Emulator

    emu = Emulator(folders=[ROOT_UUID], expiration_seconds=2).start()
    try:
        c = ApiClient(settings(emu), sleep=fake.sleep)
        emu.set_fault("oss", "slow", delay=3.0)
        with pytest.raises(TooSlowError, match=r"too slow for the upload window \(3 s > 2 s at"):
            send(transfer(c, store, fake), tmp_path, "slow.bin")
        assert emu.calls("oss") == 2
        c.close()
    finally:
        emu.stop()


def test_lost_commit_answers_are_never_replayed(client, store, fake, emulator, tmp_path):
    """Commit answers lost after the commit was applied (reset or 5xx): the file is looked
    up and recorded, never committed twice, under either conflict strategy."""
    tr = transfer(client, store, fake)
    emulator.set_fault("commit", "lost", rate=1.0, count=1)
    sent = send(tr, tmp_path, "l.txt", b"v1")
    assert sent.recovered and emulator.files()["l.txt"]["version"] == 1
    emulator.set_fault("commit", "lost5xx", rate=1.0, count=1)
    sent = send(tr, tmp_path, "l.txt", b"v2 longer")
    assert sent.recovered and emulator.files()["l.txt"]["version"] == 2
    assert emulator.calls("commit") == 2
    assert sent.sha256 == hashlib.sha256(b"v2 longer").hexdigest()
