"""Logging: JSON lines with the canonical fields, secrets redacted, no locals in tracebacks."""

import io
import json
import logging

import pytest
import structlog

from syncd.obs.logconfig import configure_logging, redact_text, register_secret


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _capture(fmt="json"):
    stream = io.StringIO()
    configure_logging(level="debug", fmt=fmt, stream=stream)
    return stream


def test_registered_secrets_and_oss_signatures_are_redacted():
    """App secret, tokens, OSS Authorization values and URL queries never reach a line."""
    register_secret("app-secret-value-123", pinned=True)
    register_secret("token-abcdef-987")
    text = (
        "secret=app-secret-value-123 token=token-abcdef-987 "
        "auth=OSS LTAIdeadbeef01:Zm9vYmFyYmF6cXV4== url=https://h/a/b?Signature=xyz&k=v"
    )
    out = redact_text(text)
    for leak in ("app-secret-value-123", "token-abcdef-987", "Zm9vYmFyYmF6cXV4", "Signature=xyz"):
        assert leak not in out
    assert "https://h/a/b?<redacted>" in out


def test_json_lines_carry_event_level_timestamp_and_are_redacted():
    """Off a TTY each event is one JSON object with event, level and an ISO timestamp."""
    register_secret("another-secret-xyz", pinned=True)
    stream = _capture("json")
    structlog.get_logger("t").info("upload.completed", path="a.txt", note="another-secret-xyz")
    logging.getLogger("urllib3.connectionpool").warning("GET https://x/y?token=abc")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "upload.completed"
    assert lines[0]["level"] == "info"
    assert lines[0]["timestamp"].endswith("Z")
    assert lines[0]["note"] == "<redacted>"
    assert "token=abc" not in lines[1]["event"]  # stdlib records go through the same chain


def test_exception_tracebacks_have_no_locals():
    """A logged exception shows frames but not the local variables holding secrets."""
    stream = _capture("json")
    try:
        signed_url_query = "Signature=local-secret"  # noqa: F841 - the local under test
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("t").exception("upload.crashed")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert "local-secret" not in json.dumps(line)
    assert line["exception"][0]["exc_type"] == "ValueError"


def test_console_rendering_is_redacted_too():
    """On a terminal, the rendered text (tracebacks included) is scrubbed as well."""
    register_secret("console-secret-42", pinned=True)
    stream = _capture("console")
    try:
        raise RuntimeError("failed with console-secret-42")
    except RuntimeError:
        structlog.get_logger("t").exception("x.failed")
    assert "console-secret-42" not in stream.getvalue()
    assert "RuntimeError" in stream.getvalue()


def test_console_lines_escape_what_a_terminal_would_obey_and_json_keeps_it_exact():
    """A remote-derived value (a colleague's name) with an escape sequence and a bidi
    override is shown escaped on the console and exact in JSON (issue 19, item 11)."""
    evil = "Eve\x1b]0;owned\x07\u202eexe.txt"
    console = _capture("console")
    structlog.get_logger("t").warning("remote.changed", path="a.txt", modifier=evil)
    text = console.getvalue()
    assert "\x1b]0;owned" not in text and "\x07" not in text and "\u202e" not in text
    assert "Eve\\x1b]0;owned\\x07\\u202eexe.txt" in text
    stream = _capture("json")
    structlog.get_logger("t").warning("remote.changed", path="a.txt", modifier=evil)
    assert json.loads(stream.getvalue())["modifier"] == evil
