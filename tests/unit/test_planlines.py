"""The dry-run's `plan.*` lines written directly: the same line structlog would render."""

import json
import logging
import re

import pytest
import structlog

from syncd.obs import plan_lines as planlines
from syncd.obs.logconfig import configure_logging

FIELDS = {
    "mapping": '/srv/共享/a "quoted" dir',
    "path": "报告/naïve\\back\tslash.txt",
    "remote_folder": "uuid123/报告",
    "reason": "new",
    "size": 12345,
}


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    planlines.flush()
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_direct_upload_line_matches_structlog(capsys):
    configure_logging(level="info", fmt="json")
    structlog.get_logger("t").info("plan.upload", **FIELDS)
    planlines.emit_upload(**FIELDS)  # type: ignore[arg-type]
    planlines.emit("plan.mkdir", mapping=FIELDS["mapping"], remote_folder="uuid123/报告")
    planlines.flush()
    by_structlog, direct, mkdir = _lines(capsys.readouterr().err)
    a, b = json.loads(by_structlog), json.loads(direct)
    assert list(a) == list(b)  # same keys in the same order
    assert a.pop("timestamp") and b.pop("timestamp")
    assert a == b
    assert "报告" in direct  # not \u-escaped, as structlog's JSONRenderer(ensure_ascii=False)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", json.loads(direct)["timestamp"])
    assert json.loads(mkdir)["event"] == "plan.mkdir"


def test_lines_are_batched_until_flushed(capsys):
    configure_logging(level="info", fmt="json")
    planlines.emit_upload(**FIELDS)  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""
    planlines.flush()
    assert json.loads(capsys.readouterr().err)["path"] == FIELDS["path"]


def test_each_line_has_its_own_folder_and_reason(capsys):
    """The fixed parts are kept per folder: a line never carries the previous one's."""
    configure_logging(level="info", fmt="json")
    cases = [("a/1", "u/a", "new"), ("a/2", "u/a", "new"), ("b/1", "u/b", "new")]
    cases += [("b/2", "u/b", "changed"), ("a/3", "u/a", "new")]
    for path, folder, reason in cases:
        planlines.emit_upload("/m", path, folder, reason, 1)
    planlines.flush()
    got = [json.loads(x) for x in _lines(capsys.readouterr().err)]
    assert [(e["path"], e["remote_folder"], e["reason"]) for e in got] == cases


def test_console_and_warning_level_go_through_structlog(capsys):
    configure_logging(level="warning", fmt="json")
    planlines.emit_upload(**FIELDS)  # type: ignore[arg-type]
    planlines.flush()
    assert capsys.readouterr().err == ""  # below the level: not written at all
    configure_logging(level="info", fmt="console")
    planlines.emit_upload(**FIELDS)  # type: ignore[arg-type]
    out = capsys.readouterr().err
    assert "plan.upload" in out and "{" not in out.splitlines()[0][:1]
