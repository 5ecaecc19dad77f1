"""What a space was found to do: probed answers win over traffic, news is stored once."""

from __future__ import annotations

from typing import Any

from syncd.core.capabilities import Capability, Source
from syncd.remote.capabilities import Capabilities


class FakeStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[bool | None, str]] = {}
        self.writes = 0
        self.meta_rows: dict[str, Any] = {}

    def set_capability(self, space_id: str, name: str, value: bool | None, source: str) -> None:
        self.rows[(space_id, name)] = (value, source)
        self.writes += 1

    def capabilities(self, space_id: str) -> dict[str, tuple[bool | None, str]]:
        return {n: v for (s, n), v in self.rows.items() if s == space_id}

    def set_meta(self, key: str, value: Any) -> None:
        self.meta_rows[key] = value

    def meta(self, key: str) -> Any:
        return self.meta_rows.get(key)


def test_traffic_never_replaces_a_probed_answer() -> None:
    store = FakeStore()
    caps = Capabilities(store)
    caps.learn("s1", Capability.RENAME, True, Source.PROBE)
    assert not caps.learn("s1", Capability.RENAME, False)
    assert caps.known("s1", Capability.RENAME) is True
    caps.learn("s1", Capability.RENAME, False, Source.PROBE)  # the next probe refreshes it
    assert store.rows[("s1", "rename")] == (False, "probe")


def test_an_answer_is_stored_once_and_read_back_per_space() -> None:
    store = FakeStore()
    caps = Capabilities(store)
    assert caps.learn("s1", Capability.ADD_FOLDER, False)
    assert not caps.learn("s1", Capability.ADD_FOLDER, False)
    assert store.writes == 1
    again = Capabilities(store)  # a later run
    assert again.known("s1", Capability.ADD_FOLDER) is False
    assert again.known("s2", Capability.ADD_FOLDER) is None


def test_the_app_id_is_kept_for_a_later_run() -> None:
    store = FakeStore()
    Capabilities(store).note_app_id("1000001")
    assert Capabilities(store).app_id() == "1000001"
    assert Capabilities().app_id() == ""
