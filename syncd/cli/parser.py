"""The `syncd` command line: the parser, its help texts, and the dispatch.

Exit codes: 0 success; 1 runtime failure, or `sync` finished with files that failed to
upload; 2 usage error; 3 invalid configuration or rejected credentials (the systemd unit uses
RestartPreventExitStatus=3); a `sync` interrupted with work left exits 128+signal.
The commands themselves are in `commands.py`; this module imports nothing heavy.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

from syncd.core.exit_codes import EXIT_OK

CODES = "exit codes: 0 success, 1 failure, 2 usage error, 3 invalid config or credentials"
CONFIG_HELP = "config file (default: $SYNCD_CONFIG, ./syncd.yaml, /etc/syncd/config.yaml)"

# name -> (one-line description, exit codes, example)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "sync": (
        "one pass: upload what is new or changed, then exit (like rclone copy)",
        CODES + "; 130/143 when interrupted with work left",
        "syncd sync -c /etc/syncd/reports.yaml --dry-run",
    ),
    "run": (
        "the daemon: watch the folders and upload continuously (SIGHUP reloads)",
        CODES + "; 0 on SIGTERM/SIGINT",
        "syncd run -c /etc/syncd/reports.yaml",
    ),
    "check": (
        "validate the config; online, also the credentials and each mapping's folder",
        CODES,
        "syncd check -c /etc/syncd/reports.yaml --offline",
    ),
    "status": (
        "what is synced, failing, held or refused, per mapping; whether the daemon runs",
        "exit codes: 0 success, 1 the state cannot be read, 3 invalid config",
        "syncd status -c /etc/syncd/reports.yaml --json",
    ),
    "ls": (
        "list the knowledge bases (with the uuid to paste), or what is inside a folder",
        "exit codes: 0 success, 1 the remote refused, 3 invalid config or credentials",
        "syncd ls && syncd ls MNDoBb60VLBPraakI1Ywxyyn8lemrZQ3",
    ),
    "retry": (
        "retry failing files now, past their back-off (works while `run` runs)",
        "exit codes: 0 done or queued, 1 no such failing file or no state, 3 invalid config",
        "syncd retry -c /etc/syncd/reports.yaml /srv/share/report.xlsx   (or --all)",
    ),
    "resolve": (
        "end a hold on a file: keep ours, keep theirs, or keep both (works while `run` runs)",
        "exit codes: 0 done or queued, 1 the file is not held or no state, 2 usage error, "
        "3 invalid config",
        "syncd resolve -c /etc/syncd/reports.yaml /srv/share/report.xlsx --keep-local",
    ),
    "whoami": (
        "the operator's unionId: find a user by mobile or name, or resolve dingtalk.union_id",
        "exit codes: 0 found, 1 no such user or the remote refused, 2 usage error, "
        "3 invalid config or credentials (or an unknown dingtalk.union_id)",
        "syncd whoami --mobile 13800000000",
    ),
    "example-config": (
        "print the example config shipped in the package (every key, commented)",
        "exit codes: 0 success",
        "syncd example-config > /etc/syncd/reports.yaml",
    ),
    "unit": (
        "print the systemd unit shipped in the package (syncd.service, or syncd@.service)",
        "exit codes: 0 success",
        "syncd unit --instance > /etc/systemd/system/syncd@.service",
    ),
    "emulator": (
        "a local stand-in for the DingTalk API and its OSS endpoint (trials and tests)",
        "exit codes: 0 on Ctrl-C, 1 cannot listen, 2 usage error",
        "syncd emulator --port 8765 --folder rootFolderUuid0000000000000000001",
    ),
    "demo": (
        "zero-setup trial: the emulator and the daemon on a demo folder",
        "exit codes: 0 on Ctrl-C",
        "syncd demo ./syncd-demo",
    ),
    "completion": (
        "print a shell completion script",
        "exit codes: 0 success, 2 unknown shell",
        "syncd completion bash > /etc/bash_completion.d/syncd",
    ),
}


def _common(p: argparse.ArgumentParser, *, config: bool, top: bool = False) -> None:
    """Options accepted before or after the subcommand (`syncd -c F sync` = `syncd sync -c F`)."""
    keep = {} if top else {"default": argparse.SUPPRESS}
    if config:
        p.add_argument("-c", "--config", metavar="FILE", help=CONFIG_HELP, **keep)  # type: ignore[arg-type]
    p.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        help="log rendering (default: the config's log.format, else auto)",
        **keep,  # type: ignore[arg-type]
    )
    level = p.add_mutually_exclusive_group()
    level.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="log level (default: the config's log.level, else info)",
        **keep,  # type: ignore[arg-type]
    )
    level.add_argument(
        "-v",
        "--verbose",
        dest="log_level",
        action="store_const",
        const="debug",
        help="log level debug",
        **keep,  # type: ignore[arg-type]
    )
    level.add_argument(
        "-q",
        "--quiet",
        dest="log_level",
        action="store_const",
        const="warning",
        help="log level warning: only problems",
        **keep,  # type: ignore[arg-type]
    )


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number of files, got {value!r}")
    return int(value)


def _sub(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, *, config: bool = True
) -> argparse.ArgumentParser:
    line, codes, example = COMMANDS[name]
    p = sub.add_parser(
        name,
        help=line,
        description=line,
        epilog=f"{codes}\nexample: {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p, config=config)
    return p


def build_parser(*, with_emulator: bool = True) -> argparse.ArgumentParser:
    from syncd import __version__

    parser = argparse.ArgumentParser(
        prog="syncd",
        description="Keep local folders uploaded to DingTalk storage.",
        epilog=CODES + "\nstart with: syncd demo   (no account needed)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"syncd {__version__}")
    _common(parser, config=True, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _sync_and_run(sub)
    p = _sub(sub, "check")
    p.add_argument("--offline", action="store_true", help="only validate the config file")
    p.add_argument(
        "--probe",
        action="store_true",
        help="try each tenant-dependent behaviour once in a scratch folder under each "
        "mapping (about 12 metered calls per mapping) and remember the answers",
    )
    p.add_argument("--json", action="store_true", help="with --probe: one JSON object")
    _sub(sub, "status").add_argument("--json", action="store_true", help="machine-readable output")
    p = _sub(sub, "ls")
    p.add_argument(
        "uuid", nargs="?", metavar="UUID", help="a folder's uuid (default: list knowledge bases)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _secret_file(p)
    _act(sub)
    _whoami(_sub(sub, "whoami"))
    _sub(sub, "example-config", config=False)
    _sub(sub, "unit", config=False).add_argument(
        "--instance",
        action="store_true",
        help="the template syncd@.service (one instance per /etc/syncd/NAME.yaml)",
    )
    p = _sub(sub, "emulator", config=False)
    if with_emulator:  # its options are only built when asked for (start-up time of `sync`)
        from syncd.emulator.cli import add_arguments

        add_arguments(p)
    _demo(_sub(sub, "demo", config=False))
    _sub(sub, "completion", config=False).add_argument("shell", choices=("bash", "zsh", "fish"))
    return parser


def _secret_file(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--secret-file",
        metavar="FILE",
        help="read the app secret from FILE for this run (instead of the config's; e.g. the "
        "service's /etc/syncd/NAME.secret, whose ${CREDENTIALS_DIRECTORY} only systemd sets)",
    )


def _act(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _sub(sub, "retry")
    p.add_argument("paths", nargs="*", metavar="PATH", help="a failing file, or a folder")
    p.add_argument("--all", action="store_true", help="every failing file of every mapping")
    p = _sub(sub, "resolve")
    p.add_argument("path", metavar="PATH", help="the held file (as `syncd status` lists it)")
    how = p.add_mutually_exclusive_group(required=True)
    for value, text in (
        ("keep-local", "upload ours over theirs (the log names their version to restore)"),
        ("keep-remote", "accept theirs: nothing is uploaded until ours changes again"),
        ("keep-both", "upload ours beside theirs, as the conflict copy"),
    ):
        how.add_argument(
            f"--{value}", dest="resolution", action="store_const", const=value, help=text
        )


def _whoami(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--mobile", metavar="N", help="the user's mobile number")
    which.add_argument(
        "--name", metavar="TEXT", help="the user's name, pinyin or English name (or part of it)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _secret_file(p)


def _sync_and_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name in ("sync", "run"):
        _sub(sub, name).add_argument(
            "-n",
            "--dry-run",
            action="store_true",
            help="scan and plan only: no network request, no state write",
        )
    p = sub.choices["sync"]
    bars = p.add_mutually_exclusive_group()
    bars.add_argument(
        "-P",
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        help="progress bars (files, bytes) even when stderr is not a terminal",
    )
    bars.add_argument(
        "--no-progress",
        dest="progress",
        action="store_const",
        const=False,
        help="no progress bars (default: bars on a terminal with console logs)",
    )
    p.add_argument(
        "--check-remote",
        action="store_true",
        help="also list the mapped remote tree and repair drift",
    )
    p.add_argument(
        "--max-delete",
        type=_count,
        metavar="N",
        help="with sync.deletes: trash, allow up to N deletes in this run",
    )


def _demo(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dir", nargs="?", default="./syncd-demo", help="folder to sync (default ./syncd-demo)"
    )
    p.add_argument(
        "--settle-seconds",
        type=float,
        default=1.0,
        help="quiet time before a file is uploaded (default 1)",
    )


def entry() -> NoReturn:
    """The `syncd` console script and `python -m syncd`: `main()`, then a quick exit.

    Tearing the interpreter down (freeing some 450 modules) takes 50-100 ms, as long as a
    small upload; once the command has returned, its state store is closed and no other
    thread runs, there is nothing left for it to do, so the process leaves with
    `os._exit` after flushing the log and its output. Otherwise it exits normally.
    """
    code = main()
    if threading.active_count() == 1:
        logging.shutdown()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: let the normal exit report it
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(with_emulator="emulator" in argv)
    args = parser.parse_args(argv)
    if args.command is None:  # bare `syncd`: show what there is
        parser.print_help()
        return EXIT_OK
    from syncd.cli.commands import run_command

    return run_command(args)
