"""syncd.config: YAML -> validated frozen dataclasses, every problem reported with its key path."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncd.config import find_config, load, parse
from syncd.core.errors import ConfigError
from syncd.core.settings import (
    Config,
    DingTalkSettings,
    LogSettings,
    Mapping,
    MetricsSettings,
    SyncSettings,
    WatchSettings,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.yaml"
SECRET = "s3cr3t-VALUE-never-shown"
UUID = "lyQod3RxJKxB07eks4o2zv3L8kb4Mw9r"


def make_dir(tmp_path: Path, name: str = "share") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def valid(tmp_path: Path, **sections: Any) -> dict[str, Any]:
    """A minimal valid config; keyword arguments replace or add top-level sections."""
    data: dict[str, Any] = {
        "dingtalk": {"app_key": "key", "app_secret": SECRET, "union_id": "union"},
        "mappings": [{"local": str(make_dir(tmp_path)), "parent_dentry_uuid": UUID}],
    }
    data.update(sections)
    return data


def error_of(call: Callable[..., object], *args: Any, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        call(*args, **kwargs)
    return info.value


def problems(data: object, **kwargs: Any) -> list[str]:
    kwargs.setdefault("environ", {})
    return error_of(parse, data, **kwargs).problems


def with_dingtalk(tmp_path: Path, **keys: Any) -> dict[str, Any]:
    data = valid(tmp_path)
    data["dingtalk"].update(keys)
    return data


# --- valid configurations and defaults -------------------------------------------------------


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    """Only credentials and one mapping are needed; everything else has its documented default."""
    config = parse(valid(tmp_path), environ={})
    assert config.dingtalk == DingTalkSettings(
        app_key="key",
        app_secret=SECRET,
        union_id="union",
        api_base="https://api.dingtalk.com",
        qps=20.0,
        connect_timeout=10.0,
        read_timeout=60.0,
    )
    assert config.mappings == (Mapping(make_dir(tmp_path).resolve(), UUID, (), True),)
    assert config.sync == SyncSettings("OVERWRITE", 2, 3600, 32, False, False, 25, 10000)
    assert config.log == LogSettings("auto", "info")
    assert config.source is None


def test_every_key_is_read(tmp_path: Path) -> None:
    """Each documented key ends up in its dataclass field."""
    data = valid(
        tmp_path,
        state_dir=str(tmp_path / "state"),
        sync={
            "conflict_strategy": "AUTO_RENAME",
            "settle_seconds": 0.5,
            "rescan_interval_seconds": 60,
            "workers": 8,
            "follow_symlinks": True,
            "allow_empty_overwrite": True,
            "shutdown_timeout_seconds": 0,
            "max_queue": 5,
        },
        log={"format": "json", "level": "debug"},
    )
    data["dingtalk"].update(
        api_base="http://127.0.0.1:8080",
        qps=5.5,
        connect_timeout_seconds=3,
        read_timeout_seconds=7.5,
    )
    data["mappings"][0].update(exclude=["*.bak", "drafts/"], subfolders=False)
    config = parse(data, source="/etc/syncd/config.yaml", environ={})
    assert (config.dingtalk.api_base, config.dingtalk.qps) == ("http://127.0.0.1:8080", 5.5)
    assert (config.dingtalk.connect_timeout, config.dingtalk.read_timeout) == (3.0, 7.5)
    assert config.state_dir == tmp_path / "state"
    assert config.mappings[0].exclude == ("*.bak", "drafts/")
    assert config.mappings[0].subfolders is False
    assert config.sync == SyncSettings("AUTO_RENAME", 0.5, 60, 8, True, True, 0, 5)
    assert config.log == LogSettings("json", "debug")
    assert config.source == Path("/etc/syncd/config.yaml")


def test_integers_are_accepted_for_float_keys(tmp_path: Path) -> None:
    """An integer where a number is expected is read as a float."""
    config = parse(valid(tmp_path, sync={"settle_seconds": 3}), environ={})
    assert config.sync.settle_seconds == 3.0
    assert isinstance(config.sync.settle_seconds, float)


def test_null_values_mean_the_default(tmp_path: Path) -> None:
    """A key or section written with no value gets its default."""
    config = parse(
        valid(tmp_path, sync=None, log={"level": None}, state_dir=None),
        environ={"STATE_DIRECTORY": "/var/lib/syncd"},
    )
    assert config.sync == SyncSettings()
    assert config.log.level == "info"
    assert config.state_dir == Path("/var/lib/syncd")


def test_state_dir_defaults_to_first_state_directory_entry(tmp_path: Path) -> None:
    """Without state_dir, the first entry of $STATE_DIRECTORY is used."""
    config = parse(valid(tmp_path), environ={"STATE_DIRECTORY": "/var/lib/syncd:/var/lib/other"})
    assert config.state_dir == Path("/var/lib/syncd")


def test_state_dir_falls_back_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without state_dir or $STATE_DIRECTORY, ~/.local/state/syncd is used."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = parse(valid(tmp_path), environ={})
    assert config.state_dir == tmp_path / "home" / ".local" / "state" / "syncd"


def test_state_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative or ~ state_dir becomes an absolute path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert parse(valid(tmp_path, state_dir="st"), environ={}).state_dir == tmp_path / "st"
    assert parse(valid(tmp_path, state_dir="~/s"), environ={}).state_dir == tmp_path / "home/s"


def test_api_base_trailing_slash_is_stripped(tmp_path: Path) -> None:
    """api_base is stored without a trailing slash."""
    config = parse(with_dingtalk(tmp_path, api_base="http://127.0.0.1:9/"), environ={})
    assert config.dingtalk.api_base == "http://127.0.0.1:9"


def test_choices_are_case_insensitive(tmp_path: Path) -> None:
    """Log format/level are stored lower case, conflict_strategy upper case, however written."""
    config = parse(
        valid(
            tmp_path,
            log={"format": "JSON", "level": "Warning"},
            sync={"conflict_strategy": "auto_rename"},
        ),
        environ={},
    )
    assert config.log == LogSettings("json", "warning")
    assert config.sync.conflict_strategy == "AUTO_RENAME"


def test_local_symlinks_are_resolved(tmp_path: Path) -> None:
    """A mapping's local folder is stored absolute with symlinks resolved."""
    target = make_dir(tmp_path, "real")
    (tmp_path / "link").symlink_to(target)
    data = valid(tmp_path, mappings=[{"local": str(tmp_path / "link"), "parent_dentry_uuid": "u"}])
    assert parse(data, environ={}).mappings[0].local == target.resolve()


def test_relative_local_is_resolved_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative local folder is resolved against the working directory."""
    make_dir(tmp_path, "rel")
    monkeypatch.chdir(tmp_path)
    data = valid(tmp_path, mappings=[{"local": "rel", "parent_dentry_uuid": "u"}])
    assert parse(data, environ={}).mappings[0].local == (tmp_path / "rel").resolve()


def test_mapping_key_combines_uuid_and_local() -> None:
    """Mapping.key is "<parent_dentry_uuid>:<local>", the state store's id for the mapping."""
    assert Mapping(Path("/srv/a"), "UUID1").key == "UUID1:/srv/a"


def test_config_is_frozen(tmp_path: Path) -> None:
    """The config cannot be modified after loading."""
    config = parse(valid(tmp_path), environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sync.workers = 9  # type: ignore[misc]


# --- ${VAR} expansion ------------------------------------------------------------------------


def test_vars_are_expanded_inside_longer_strings(tmp_path: Path) -> None:
    """Several ${VAR}s in one string are all expanded, wherever they sit."""
    env = {"HOST": "127.0.0.1", "PORT": "8080", "ROOT": str(tmp_path)}
    make_dir(tmp_path, "share")
    data = valid(
        tmp_path,
        mappings=[
            {"local": "${ROOT}/share", "parent_dentry_uuid": "u", "exclude": ["${PORT}.bak"]}
        ],
    )
    data["dingtalk"]["api_base"] = "http://${HOST}:${PORT}/api"
    config = parse(data, environ=env)
    assert config.dingtalk.api_base == "http://127.0.0.1:8080/api"
    assert config.mappings[0].local == (tmp_path / "share").resolve()
    assert config.mappings[0].exclude == ("8080.bak",)


def test_default_is_used_when_var_is_unset_or_empty(tmp_path: Path) -> None:
    """${VAR:-default} gives the default when VAR is unset or empty, else VAR's value."""
    data = with_dingtalk(tmp_path, api_base="${BASE:-http://localhost:1}", app_key="${KEY:-dflt}")
    assert parse(data, environ={}).dingtalk.api_base == "http://localhost:1"
    assert parse(data, environ={"KEY": ""}).dingtalk.app_key == "dflt"
    assert parse(data, environ={"KEY": "set"}).dingtalk.app_key == "set"


def test_unset_var_is_reported_at_its_key_path(tmp_path: Path) -> None:
    """An unset ${VAR} without default names the variable at the key that uses it."""
    data = with_dingtalk(tmp_path, app_secret="${DINGTALK_APP_SECRET}")
    assert problems(data) == [
        "dingtalk.app_secret: environment variable DINGTALK_APP_SECRET is not set"
    ]


def test_unset_var_in_a_list_item_is_reported_with_its_index(tmp_path: Path) -> None:
    """An unset variable inside a list names the item's index."""
    data = valid(tmp_path)
    data["mappings"][0]["exclude"] = ["*.bak", "${NOPE}/x"]
    assert problems(data) == ["mappings[0].exclude[1]: environment variable NOPE is not set"]


def test_expanded_value_of_a_numeric_key_is_read_as_a_number(tmp_path: Path) -> None:
    """A number or boolean written as ${VAR} is read from the expanded text."""
    data = valid(tmp_path, sync={"workers": "${W:-8}", "follow_symlinks": "${F}", "qps": None})
    data["sync"].pop("qps")
    config = parse(data, environ={"F": "true"})
    assert (config.sync.workers, config.sync.follow_symlinks) == (8, True)
    assert problems(data, environ={"W": "many", "F": "true"}) == [
        "sync.workers: must be an integer between 1 and 64, got 'many'"
    ]


@pytest.mark.parametrize("text", ["${1BAD}", "${}", "${A:-${B}}", "x${UNCLOSED"])
def test_malformed_reference_is_reported(tmp_path: Path, text: str) -> None:
    """A malformed ${...} is a problem, not a literal."""
    [problem] = problems(with_dingtalk(tmp_path, app_key=text))
    assert problem.startswith("dingtalk.app_key: ")
    assert "variable reference" in problem


def test_dollar_without_brace_is_literal(tmp_path: Path) -> None:
    """Only ${...} is expanded; a lone $ stays as written."""
    assert parse(with_dingtalk(tmp_path, app_key="a$b$"), environ={}).dingtalk.app_key == "a$b$"


# --- credentials -----------------------------------------------------------------------------


def test_missing_credentials_are_required(tmp_path: Path) -> None:
    """Without app_key, a secret and union_id, each is reported as required."""
    assert problems(valid(tmp_path, dingtalk=None)) == [
        "dingtalk.app_key: required",
        "dingtalk.app_secret: required (or app_secret_file)",
        "dingtalk.union_id: required",
    ]


def test_empty_credential_is_a_problem(tmp_path: Path) -> None:
    """An empty required credential is reported."""
    assert problems(with_dingtalk(tmp_path, app_key="")) == ["dingtalk.app_key: must not be empty"]


def test_missing_credentials_are_tolerated_without_require(tmp_path: Path) -> None:
    """With require_credentials=False absent credentials become empty strings."""
    config = parse(valid(tmp_path, dingtalk=None), require_credentials=False, environ={})
    assert (config.dingtalk.app_key, config.dingtalk.app_secret, config.dingtalk.union_id) == (
        "",
        "",
        "",
    )


def test_unset_credential_vars_are_tolerated_without_require(tmp_path: Path) -> None:
    """With require_credentials=False unset credential variables and secret files become ""."""
    data = valid(
        tmp_path,
        dingtalk={
            "app_key": "${DINGTALK_APP_KEY}",
            "union_id": "${DINGTALK_UNION_ID}",
            "app_secret_file": "${CREDENTIALS_DIRECTORY}/dingtalk-app-secret",
        },
    )
    config = parse(data, require_credentials=False, environ={})
    assert dataclasses.astuple(config.dingtalk)[:3] == ("", "", "")
    data["dingtalk"]["app_secret_file"] = str(tmp_path / "not-yet-created")
    assert parse(data, require_credentials=False, environ={}).dingtalk.app_secret == ""


def test_other_problems_are_still_reported_without_require(tmp_path: Path) -> None:
    """require_credentials=False relaxes only the credentials."""
    data = valid(tmp_path, dingtalk={"qps": 0, "api_base": "${NOPE}"}, sync={"workers": 0})
    assert problems(data, require_credentials=False) == [
        "dingtalk.api_base: environment variable NOPE is not set",
        "dingtalk.qps: must be a number > 0, got 0",
        "sync.workers: must be an integer between 1 and 64, got 0",
    ]


def test_app_secret_and_app_secret_file_are_exclusive(tmp_path: Path) -> None:
    """Giving both app_secret and app_secret_file is a problem."""
    data = with_dingtalk(tmp_path, app_secret_file=str(tmp_path / "secret"))
    assert problems(data) == ["dingtalk.app_secret_file: cannot be used together with app_secret"]


def test_secret_file_is_read_and_stripped(tmp_path: Path) -> None:
    """app_secret_file's contents, without surrounding whitespace, become the secret."""
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "dingtalk-app-secret").write_text(f"  {SECRET}\n")
    data = valid(tmp_path)
    data["dingtalk"] = {
        "app_key": "k",
        "union_id": "u",
        "app_secret_file": "${CREDENTIALS_DIRECTORY}/dingtalk-app-secret",
    }
    config = parse(data, environ={"CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})
    assert config.dingtalk.app_secret == SECRET


def test_unreadable_secret_file_names_file_and_reason(tmp_path: Path) -> None:
    """A missing secret file is reported with its path and the OS's reason."""
    missing = tmp_path / "nope"
    data = valid(
        tmp_path, dingtalk={"app_key": "k", "union_id": "u", "app_secret_file": str(missing)}
    )
    assert problems(data) == [
        f"dingtalk.app_secret_file: cannot read {missing}: No such file or directory"
    ]
    data["dingtalk"]["app_secret_file"] = str(tmp_path)
    assert problems(data) == [f"dingtalk.app_secret_file: cannot read {tmp_path}: Is a directory"]


def test_empty_secret_file_is_a_problem(tmp_path: Path) -> None:
    """A secret file holding only whitespace is reported."""
    (tmp_path / "secret").write_text("\n")
    data = valid(
        tmp_path,
        dingtalk={"app_key": "k", "union_id": "u", "app_secret_file": str(tmp_path / "secret")},
    )
    assert problems(data) == [f"dingtalk.app_secret_file: file is empty: {tmp_path / 'secret'}"]


@pytest.mark.parametrize(
    "secret_setting",
    [{"app_secret": SECRET}, {"app_secret": "${S}"}, {"app_secret_file": "${F}"}],
    ids=["inline", "from-env", "from-file"],
)
def test_secret_is_never_in_repr_or_messages(
    tmp_path: Path, secret_setting: dict[str, str]
) -> None:
    """The secret appears neither in the config's repr/str nor in any problem."""
    (tmp_path / "secret").write_text(SECRET)
    env = {"S": SECRET, "F": str(tmp_path / "secret")}
    data = valid(tmp_path, sync={"workers": "many"})
    data["dingtalk"] = {"app_key": "k", "union_id": "u", **secret_setting}
    error = error_of(parse, data, environ=env)
    assert SECRET not in str(error)
    config = parse(valid(tmp_path, dingtalk=data["dingtalk"]), environ=env)
    assert config.dingtalk.app_secret == SECRET
    assert SECRET not in repr(config)
    assert SECRET not in str(config.dingtalk)


def test_secret_of_wrong_type_is_not_quoted(tmp_path: Path) -> None:
    """A non-string secret is reported by type, without its value."""
    assert problems(with_dingtalk(tmp_path, app_secret=987654321)) == [
        "dingtalk.app_secret: must be a string, got an integer"
    ]


def test_yaml_error_on_the_secret_line_does_not_quote_it(tmp_path: Path) -> None:
    """A YAML syntax error reports line and column but not the text of the line."""
    path = tmp_path / "syncd.yaml"
    path.write_text(f"dingtalk:\n  app_secret: {SECRET}: oops\n")
    error = error_of(load, path)
    assert SECRET not in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__


# --- validation: every problem, with its key path --------------------------------------------


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    """One ConfigError lists every problem in the file, each with its key path."""
    data = {
        "dingtalk": {
            "app_key": "k",
            "app_secret": "${UNSET_SECRET}",
            "union_id": "u",
            "api_base": "ftp://example.com",
            "qps": -1,
        },
        "mappings": [
            {"local": str(tmp_path / "missing"), "parent_dentry_uuid": "a/b"},
            {"local": str(make_dir(tmp_path)), "parent_dentry_uuid": UUID, "subfolders": "yes"},
        ],
        "sync": {"workers": "many", "colour": "blue"},
        "log": {"level": "loud"},
        "extra": 1,
    }
    error = error_of(parse, data, source="/etc/x.yaml", environ={})
    assert error.source == "/etc/x.yaml"
    assert error.problems == [
        "extra: unknown key (known keys: dingtalk, state_dir, mappings, sync, watch, metrics, log)",
        "dingtalk.app_secret: environment variable UNSET_SECRET is not set",
        "dingtalk.api_base: must be an http:// or https:// URL, got 'ftp://example.com'",
        "dingtalk.qps: must be a number > 0, got -1",
        f"mappings[0].local: folder does not exist: {tmp_path / 'missing'}",
        "mappings[0].parent_dentry_uuid: must not contain '/', ':' or whitespace, got 'a/b'",
        "mappings[1].subfolders: must be true or false, got 'yes'",
        "sync.colour: unknown key (known keys: conflict_strategy, settle_seconds, "
        "rescan_interval_seconds, workers, follow_symlinks, allow_empty_overwrite, "
        "shutdown_timeout_seconds, max_queue, adopt, on_remote_change, "
        "remote_check_interval_seconds, renames, deletes, trash_folder, trash_retention_days, "
        "max_delete, max_delete_percent, bwlimit, scan_stall_seconds)",
        "sync.workers: must be an integer between 1 and 64, got 'many'",
        "log.level: must be one of debug, info, warning, error, got 'loud'",
    ]
    assert str(error).startswith("invalid configuration /etc/x.yaml:\n")
    assert "  sync.workers: must be an integer between 1 and 64, got 'many'" in str(error)


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("top", "colour"),
        ("dingtalk", "dingtalk.colour"),
        ("mapping", "mappings[0].colour"),
        ("sync", "sync.colour"),
        ("log", "log.colour"),
    ],
)
def test_unknown_keys_are_reported_everywhere(tmp_path: Path, where: str, path: str) -> None:
    """An unknown key is reported at its path with the list of known keys."""
    data = valid(tmp_path, sync={}, log={})
    target = {
        "top": data,
        "dingtalk": data["dingtalk"],
        "mapping": data["mappings"][0],
        "sync": data["sync"],
        "log": data["log"],
    }[where]
    target["colour"] = "blue"
    [problem] = problems(data)
    assert problem.startswith(f"{path}: unknown key (known keys: ")


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("sync", "workers", True, "must be an integer between 1 and 64, got True"),
        ("sync", "workers", 2.5, "must be an integer between 1 and 64, got 2.5"),
        ("sync", "workers", 0, "must be an integer between 1 and 64, got 0"),
        ("sync", "workers", 65, "must be an integer between 1 and 64, got 65"),
        ("sync", "max_queue", 0, "must be an integer >= 1, got 0"),
        ("sync", "settle_seconds", -0.1, "must be a number >= 0, got -0.1"),
        ("sync", "settle_seconds", False, "must be a number >= 0, got False"),
        ("sync", "rescan_interval_seconds", 0, "must be a number > 0, got 0"),
        ("sync", "shutdown_timeout_seconds", "25", "must be a number >= 0, got '25'"),
        ("sync", "follow_symlinks", 1, "must be true or false, got 1"),
        ("sync", "allow_empty_overwrite", "no", "must be true or false, got 'no'"),
        ("sync", "conflict_strategy", "SKIP", "must be one of OVERWRITE, AUTO_RENAME, got 'SKIP'"),
        ("log", "format", "xml", "must be one of auto, json, console, got 'xml'"),
        ("dingtalk", "qps", float("inf"), "must be a number > 0, got inf"),
        ("dingtalk", "connect_timeout_seconds", 0, "must be a number > 0, got 0"),
        ("dingtalk", "read_timeout_seconds", [1], "must be a number > 0, got a list"),
        ("dingtalk", "union_id", 42, "must be a string, got 42"),
        (
            "dingtalk",
            "api_base",
            "api.dingtalk.com",
            "must be an http:// or https:// URL, got 'api.dingtalk.com'",
        ),
    ],
)
def test_wrong_values_are_reported_with_their_key_path(
    tmp_path: Path, section: str, key: str, value: object, message: str
) -> None:
    """A wrong-typed or out-of-range value is reported at its key path; a bool is no number."""
    data = valid(tmp_path, sync={}, log={})
    data[section][key] = value
    assert problems(data) == [f"{section}.{key}: {message}"]


def test_sections_must_be_mappings(tmp_path: Path) -> None:
    """A section that is not a mapping is reported."""
    assert problems(valid(tmp_path, sync=[1], log="debug")) == [
        "sync: must be a mapping, got a list",
        "log: must be a mapping, got a string",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "mappings: required"),
        ([], "mappings: must contain at least one mapping"),
        ({"local": "/x"}, "mappings: must be a list of mappings, got a mapping"),
    ],
)
def test_at_least_one_mapping_is_required(tmp_path: Path, value: object, message: str) -> None:
    """mappings must be a non-empty list."""
    assert problems(valid(tmp_path, mappings=value)) == [message]


def test_mapping_items_are_checked(tmp_path: Path) -> None:
    """A mapping that is not a mapping, or lacks its keys, is reported at its index."""
    assert problems(valid(tmp_path, mappings=["/srv/x", {}])) == [
        "mappings[0]: must be a mapping, got a string",
        "mappings[1].local: required",
        "mappings[1].parent_dentry_uuid: required",
    ]


def test_local_must_be_an_existing_directory(tmp_path: Path) -> None:
    """A missing local folder or a file in its place is reported."""
    (tmp_path / "file").write_text("x")
    data = valid(
        tmp_path,
        mappings=[
            {"local": str(tmp_path / "srv" / "x"), "parent_dentry_uuid": "u1"},
            {"local": str(tmp_path / "file"), "parent_dentry_uuid": "u2"},
        ],
    )
    assert problems(data) == [
        f"mappings[0].local: folder does not exist: {tmp_path / 'srv' / 'x'}",
        f"mappings[1].local: not a directory: {(tmp_path / 'file').resolve()}",
    ]


@pytest.mark.parametrize(
    ("uuid", "message"),
    [
        ("", "must not be empty"),
        ("a b", "must not contain '/', ':' or whitespace, got 'a b'"),
        ("x/y", "must not contain '/', ':' or whitespace, got 'x/y'"),
        (123, "must be a string, got 123"),
    ],
)
def test_parent_dentry_uuid_rules(tmp_path: Path, uuid: object, message: str) -> None:
    """parent_dentry_uuid must be a non-empty string without '/' or whitespace."""
    data = valid(tmp_path)
    data["mappings"][0]["parent_dentry_uuid"] = uuid
    assert problems(data) == [f"mappings[0].parent_dentry_uuid: {message}"]


def test_exclude_must_be_a_list_of_strings(tmp_path: Path) -> None:
    """exclude must be a list of non-empty strings."""
    data = valid(tmp_path)
    data["mappings"][0]["exclude"] = "*.bak"
    assert problems(data) == ["mappings[0].exclude: must be a list of strings, got a string"]
    data["mappings"][0]["exclude"] = ["*.bak", "", 3]
    assert problems(data) == [
        "mappings[0].exclude[1]: must be a non-empty string, got ''",
        "mappings[0].exclude[2]: must be a non-empty string, got 3",
    ]


def two_mappings(outer: Path, inner: Path, **second: Any) -> list[dict[str, Any]]:
    return [
        {"local": str(outer), "parent_dentry_uuid": "U1"},
        {"local": str(inner), "parent_dentry_uuid": "U2", **second},
    ]


def test_same_local_folder_twice_is_an_overlap(tmp_path: Path) -> None:
    """Two mappings of the same folder (even spelled differently) are reported with both indices."""
    share = make_dir(tmp_path).resolve()
    data = valid(tmp_path, mappings=two_mappings(share, tmp_path / "share" / "."))
    assert problems(data) == [f"mappings[1].local: same folder as mappings[0].local: {share}"]


def test_nested_local_folders_are_an_overlap(tmp_path: Path) -> None:
    """A folder inside another mapping's folder is reported, whichever comes first."""
    outer, inner = make_dir(tmp_path).resolve(), make_dir(tmp_path, "share/sub").resolve()
    assert problems(valid(tmp_path, mappings=two_mappings(outer, inner))) == [
        f"mappings[1].local: {inner} is inside mappings[0].local {outer}"
    ]
    assert problems(valid(tmp_path, mappings=two_mappings(inner, outer))) == [
        f"mappings[1].local: {outer} contains mappings[0].local {inner}"
    ]


def test_folder_inside_a_top_level_only_mapping_is_allowed(tmp_path: Path) -> None:
    """With subfolders: false the outer mapping does not cover its subfolders, so no overlap."""
    outer, inner = make_dir(tmp_path).resolve(), make_dir(tmp_path, "share/sub").resolve()
    data = valid(tmp_path, mappings=two_mappings(inner, outer, subfolders=False))
    assert [m.local for m in parse(data, environ={}).mappings] == [inner, outer]


def test_two_mappings_on_one_remote_folder_are_refused(tmp_path: Path) -> None:
    """Two local folders into one remote folder: each would see the other's files as its
    own deletes (and trash them): a config error naming both keys."""
    a, b = make_dir(tmp_path, "a").resolve(), make_dir(tmp_path, "b").resolve()
    data = valid(tmp_path)
    data["mappings"] = [
        {"local": str(a), "parent_dentry_uuid": UUID},
        {"local": str(b), "parent_dentry_uuid": UUID},
    ]
    (problem,) = problems(data)
    assert problem.startswith(
        f"mappings[1].parent_dentry_uuid: the same remote folder as "
        f"mappings[0].parent_dentry_uuid ({UUID})"
    )


def test_a_state_dir_inside_a_mapping_is_refused(tmp_path: Path) -> None:
    """syncd would upload its own state files, forever: a config error."""
    share = make_dir(tmp_path).resolve()
    data = valid(tmp_path, state_dir=str(share / ".state"))
    (problem,) = problems(data)
    assert problem.startswith(f"state_dir: {share / '.state'} is inside mappings[0].local {share}")
    data = valid(tmp_path, state_dir=str(tmp_path / "elsewhere"))
    assert parse(data, environ={}).state_dir == tmp_path / "elsewhere"


def test_a_bad_redis_url_is_a_config_error(tmp_path: Path) -> None:
    """A typo in the shared limiter's URL is found at load (exit 3), not as a crash later."""
    for url, wanted in (
        ("redis://localhost:99999/0", "the port must be a number"),
        ("redis://localhost:port/0", "the port must be a number"),
        ("redis://localhost:6379/x", "the database must be a number"),
        ("http://localhost:6379", "must be `local` or a redis://"),
        ("unix://", "needs the socket's path"),
    ):
        (problem,) = problems(with_dingtalk(tmp_path, rate_limit=url))
        assert problem.startswith("dingtalk.rate_limit: ") and wanted in problem, problem


def test_duplicate_mapping_is_reported(tmp_path: Path) -> None:
    """The same local folder and parent uuid twice is reported as a duplicate."""
    data = valid(tmp_path)
    data["mappings"].append(dict(data["mappings"][0]))
    assert problems(data) == [
        "mappings[1]: duplicate of mappings[0] (same local and parent_dentry_uuid)"
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "the configuration is empty"),
        ([1, 2], "the top level must be a mapping of keys, got a list"),
        ("text", "the top level must be a mapping of keys, got a string"),
    ],
)
def test_top_level_must_be_a_mapping(data: object, message: str) -> None:
    """An empty document or a non-mapping top level is reported."""
    assert problems(data) == [message]


# --- load() ----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncd.yaml"
    path.write_text(text)
    return path


def test_load_reads_and_validates_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load() parses the file, expands variables from the environment and records the source."""
    monkeypatch.setenv("SECRET_FOR_TEST", SECRET)
    share = make_dir(tmp_path)
    path = write(
        tmp_path,
        f"""
dingtalk: {{app_key: k, app_secret: "${{SECRET_FOR_TEST}}", union_id: u}}
mappings:
  - {{local: {share}, parent_dentry_uuid: {UUID}}}
""",
    )
    config = load(path)
    assert isinstance(config, Config)
    assert (config.source, config.dingtalk.app_secret) == (path, SECRET)


def test_load_without_credentials(tmp_path: Path) -> None:
    """load(require_credentials=False) accepts a file without credentials."""
    path = write(tmp_path, f"mappings: [{{local: {make_dir(tmp_path)}, parent_dentry_uuid: U}}]\n")
    assert load(path, require_credentials=False).dingtalk.app_key == ""
    assert error_of(load, path).problems[0] == "dingtalk.app_key: required"


def test_load_reports_the_source_file(tmp_path: Path) -> None:
    """Problems from load() carry the file name."""
    path = write(tmp_path, "log: {level: loud}\n")
    error = error_of(load, path)
    assert error.source == str(path)
    assert str(error).startswith(f"invalid configuration {path}:")


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_load_empty_file(tmp_path: Path, text: str) -> None:
    """An empty config file is reported as such."""
    error = error_of(load, write(tmp_path, text))
    assert error.problems == ["the configuration is empty"]


def test_load_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    """A YAML syntax error names line and column, with no traceback in the message."""
    path = write(tmp_path, "sync:\n  workers: 4\n\tlevel: x\n")
    [problem] = error_of(load, path).problems
    assert re.fullmatch(r"invalid YAML at line 3, column 1: .*", problem)
    assert "Traceback" not in problem
    assert "\n" not in problem


def test_load_rejects_duplicate_keys(tmp_path: Path) -> None:
    """A key given twice in one mapping is an error, not a silent override."""
    path = write(tmp_path, "sync: {workers: 4}\nlog: {}\nsync: {workers: 8}\n")
    [problem] = error_of(load, path).problems
    assert problem == "invalid YAML at line 3, column 1: duplicate key 'sync'"


def test_load_accepts_yaml_merge_keys(tmp_path: Path) -> None:
    """YAML anchors and merge keys work (a merged key is not a duplicate)."""
    share = make_dir(tmp_path)
    path = write(
        tmp_path,
        f"""
dingtalk: {{app_key: k, app_secret: s, union_id: u}}
mappings:
  - &m {{local: {share}, parent_dentry_uuid: U1, subfolders: false}}
sync: {{<<: {{workers: 2, settle_seconds: 1}}, workers: 3}}
""",
    )
    assert load(path).sync.workers == 3


def test_load_unreadable_file(tmp_path: Path) -> None:
    """A missing config file or a directory is reported with the OS's reason."""
    error = error_of(load, tmp_path / "missing.yaml")
    assert error.problems == ["cannot read config file: No such file or directory"]
    assert error.source == str(tmp_path / "missing.yaml")
    assert error_of(load, tmp_path).problems == ["cannot read config file: Is a directory"]


# --- find_config() ---------------------------------------------------------------------------


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A working directory with ./syncd.yaml, plus explicit and $SYNCD_CONFIG files."""
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    files = {name: tmp_path / f"{name}.yaml" for name in ("explicit", "env")}
    files["cwd"] = tmp_path / "syncd.yaml"
    for path in files.values():
        path.write_text("{}\n")
    return files


def test_find_config_prefers_explicit(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """-c wins over $SYNCD_CONFIG and ./syncd.yaml."""
    monkeypatch.setenv("SYNCD_CONFIG", str(places["env"]))
    assert find_config(str(places["explicit"])) == places["explicit"]


def test_find_config_env_before_cwd(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """$SYNCD_CONFIG wins over ./syncd.yaml."""
    monkeypatch.setenv("SYNCD_CONFIG", str(places["env"]))
    assert find_config(None) == places["env"]


def test_find_config_uses_cwd_file(places: dict[str, Path]) -> None:
    """Without -c or $SYNCD_CONFIG, ./syncd.yaml is used (as an absolute path)."""
    assert find_config(None) == places["cwd"]
    assert find_config(None).is_absolute()


def test_find_config_explicit_that_does_not_exist(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A missing -c or $SYNCD_CONFIG file is an error, not a fall-through to the defaults."""
    with pytest.raises(ConfigError, match=r"config file .*nope\.yaml \(from -c\) does not exist"):
        find_config(str(tmp_path / "nope.yaml"))
    monkeypatch.setenv("SYNCD_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match=r"\(from \$SYNCD_CONFIG\) does not exist"):
        find_config(None)


@pytest.mark.skipif(Path("/etc/syncd/config.yaml").exists(), reason="system config present")
def test_find_config_names_every_place_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When no config exists, the error names every place that was looked at."""
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    [problem] = error_of(find_config, None).problems
    for place in ("-c", "$SYNCD_CONFIG", str(tmp_path / "syncd.yaml"), "/etc/syncd/config.yaml"):
        assert place in problem


# --- config.example.yaml ---------------------------------------------------------------------

EXAMPLE_ENV = {
    "DINGTALK_APP_KEY": "key",
    "DINGTALK_APP_SECRET": SECRET,
    "DINGTALK_UNION_ID": "union",
}


def test_example_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config.example.yaml loads with its documented variables set."""
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dingtalk-app-secret").write_text(SECRET + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("SYNCD_EXAMPLE_DIR", str(tmp_path))
    monkeypatch.delenv("DINGTALK_API_BASE", raising=False)
    config = load(EXAMPLE)
    assert config.mappings[0].local == tmp_path.resolve()
    assert config.dingtalk.api_base == "https://api.dingtalk.com"
    assert (config.sync, config.log) == (SyncSettings(), LogSettings())


def test_example_config_documents_every_key() -> None:
    """Every dataclass field has its key in config.example.yaml, each preceded by a comment."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    renamed = {
        "connect_timeout": "connect_timeout_seconds",
        "read_timeout": "read_timeout_seconds",
        "app_secret": "app_secret_file",  # app_secret itself is documented, commented out
    }
    sections = {
        DingTalkSettings: raw["dingtalk"],
        Mapping: raw["mappings"][0],
        SyncSettings: raw["sync"],
        WatchSettings: raw["watch"],
        MetricsSettings: raw["metrics"],
        LogSettings: raw["log"],
        Config: raw,
    }
    for cls, section in sections.items():
        for f in dataclasses.fields(cls):
            if f.init and f.name not in ("source", "notes"):
                assert renamed.get(f.name, f.name) in section, f"{cls.__name__}.{f.name}"
    lines = EXAMPLE.read_text().splitlines()
    keys = [i for i, line in enumerate(lines) if re.match(r"\s*(- )?[a-z_]+:", line)]
    assert keys
    for i in keys:
        assert lines[i - 1].lstrip().startswith("#"), f"undocumented: {lines[i]}"
    assert any(re.match(r"\s*# app_secret: ", line) for line in lines)


def test_invalid_exclude_pattern_is_a_config_problem(tmp_path):
    """A pattern that cannot be compiled is reported at load with its key path."""
    from syncd.config import parse
    from syncd.core.errors import ConfigError

    data = {
        "dingtalk": {"app_key": "k", "app_secret": "s", "union_id": "u"},
        "mappings": [{"local": str(tmp_path), "parent_dentry_uuid": "x", "exclude": ["[z-a]"]}],
    }
    with pytest.raises(ConfigError) as err:
        parse(data, environ={})
    assert any(p.startswith("mappings[0].exclude[0]: invalid pattern") for p in err.value.problems)


def test_nul_in_local_is_a_config_problem():
    """A NUL byte in a path is reported, not a traceback."""
    from syncd.config import parse
    from syncd.core.errors import ConfigError

    data = {
        "dingtalk": {"app_key": "k", "app_secret": "s", "union_id": "u"},
        "mappings": [{"local": "/tmp/a\x00b", "parent_dentry_uuid": "x"}],
    }
    with pytest.raises(ConfigError) as err:
        parse(data, environ={})
    assert any(p.startswith("mappings[0].local: cannot access") for p in err.value.problems)


def test_the_new_sync_keys_are_read(tmp_path: Path) -> None:
    """adopt, on_remote_change, renames, deletes, guards and bwlimit (with units)."""
    from syncd.core.settings import AdoptMode, DeleteMode, RemoteChangePolicy, RenameMode

    sync = {
        "adopt": "size",
        "on_remote_change": "KEEP-BOTH",
        "renames": "upload",
        "deletes": "trash",
        "trash_folder": "old",
        "max_delete": 5,
        "max_delete_percent": 2.5,
        "bwlimit": "10M",
    }
    config = parse(valid(tmp_path, sync=sync), environ={})
    s = config.sync
    assert (s.adopt, s.on_remote_change) == (AdoptMode.SIZE, RemoteChangePolicy.KEEP_BOTH)
    assert (s.renames, s.deletes, s.trash_folder) == (RenameMode.UPLOAD, DeleteMode.TRASH, "old")
    assert (s.max_delete, s.max_delete_percent, s.bwlimit) == (5, 2.5, 10 << 20)
    bad = {"bwlimit": "fast", "trash_folder": "a/b", "max_delete_percent": 101, "deletes": "yes"}
    with pytest.raises(ConfigError) as err:
        parse(valid(tmp_path, sync=bad), environ={})
    problems = "\n".join(err.value.problems)
    for key in ("bwlimit", "trash_folder", "max_delete_percent", "deletes"):
        assert f"sync.{key}:" in problems


def test_rate_limit_is_local_or_a_redis_url(tmp_path: Path) -> None:
    """`dingtalk.rate_limit` takes `local` or a redis/rediss/unix URL; anything else is named."""
    for url in ("local", "redis://cache:6379/0", "rediss://:pw@cache:6380/2", "unix:///r.sock"):
        config = parse(with_dingtalk(tmp_path, rate_limit=url), environ={})
        assert config.dingtalk.rate_limit == url
    assert parse(valid(tmp_path), environ={}).dingtalk.rate_limit == "local"
    [problem] = problems(with_dingtalk(tmp_path, rate_limit="memcached://cache:11211"))
    assert problem.startswith("dingtalk.rate_limit: must be `local` or a redis://host:port/db")


def test_monthly_call_budget_is_a_whole_number_of_calls(tmp_path: Path) -> None:
    """`dingtalk.monthly_call_budget`: 0 (default, no own cap) or a positive integer."""
    assert parse(valid(tmp_path), environ={}).dingtalk.monthly_call_budget == 0
    config = parse(with_dingtalk(tmp_path, monthly_call_budget=2000), environ={})
    assert config.dingtalk.monthly_call_budget == 2000
    for bad in (-1, 2.5, "lots", True):
        [problem] = problems(with_dingtalk(tmp_path, monthly_call_budget=bad))
        assert problem.startswith("dingtalk.monthly_call_budget: "), problem
        assert "integer >= 0" in problem, problem


@pytest.mark.parametrize(
    ("config", "state"),
    [
        ("/etc/syncd/config.yaml", "/var/lib/syncd"),  # syncd.service: StateDirectory=syncd
        ("/etc/syncd/reports.yaml", "/var/lib/syncd/reports"),  # syncd@reports.service
        ("/opt/x/etc/syncd/reports.yml", "/opt/x/var/lib/syncd/reports"),  # a prefix
        ("/home/ann/syncd.yaml", "~/.local/state/syncd"),
        ("/etc/other/config.yaml", "~/.local/state/syncd"),
    ],
)
def test_an_operator_finds_the_services_state_without_extra_environment(config, state):
    """Without state_dir or $STATE_DIRECTORY, a config in <root>/etc/syncd/ points at the
    directory the matching unit gives the service."""
    from syncd.config import default_state_dir

    assert default_state_dir(Path(config), {}) == state
    assert default_state_dir(Path(config), {"STATE_DIRECTORY": "/run/x"}) == "/run/x"
