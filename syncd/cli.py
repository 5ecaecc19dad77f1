"""The `syncd` command line: parse arguments, load the config, set up logging, dispatch.

Exit codes: 0 success (and a clean stop on SIGINT/SIGTERM); 1 runtime failure, or `sync`
finished with files that failed to upload; 2 usage error; 3 invalid configuration or
rejected credentials (the systemd unit uses RestartPreventExitStatus=3).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 3


def _common(p: argparse.ArgumentParser, *, config: bool = True) -> None:
    if config:
        p.add_argument(
            "-c",
            "--config",
            metavar="FILE",
            help="config file (default: $SYNCD_CONFIG, ./syncd.yaml, /etc/syncd/config.yaml)",
        )
    p.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        help="log rendering (default: the config's log.format, else auto: "
        "console on a terminal, JSON otherwise)",
    )
    p.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="log level (default: the config's log.level, else info)",
    )


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number of files, got {value!r}")
    return int(value)


def build_parser(*, with_emulator: bool = True) -> argparse.ArgumentParser:
    from syncd import __version__

    parser = argparse.ArgumentParser(
        prog="syncd", description="Keep local folders uploaded to DingTalk storage."
    )
    parser.add_argument("--version", action="version", version=f"syncd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for name, help_text, planned in (
        ("sync", "one pass: upload what is new or changed, then exit", "scan and plan"),
        ("run", "the daemon: watch and upload continuously", "watch and plan"),
    ):
        p = sub.add_parser(name, help=help_text)
        _common(p)
        p.add_argument(
            "--dry-run",
            action="store_true",
            help=f"{planned} only: no network request, no state write",
        )
        if name == "sync":
            p.add_argument(
                "--max-delete",
                type=_count,
                metavar="N",
                help="with sync.deletes: trash, allow up to N deletes in this run "
                "(lifts max_delete and max_delete_percent)",
            )
            p.add_argument(
                "--check-remote",
                action="store_true",
                help="also list the mapped remote tree and repair drift (files deleted or "
                "changed remotely)",
            )
    p = sub.add_parser("check", help="validate the config (and, online, credentials and folders)")
    _common(p)
    p.add_argument("--offline", action="store_true", help="only validate the config file")
    p = sub.add_parser("status", help="what the state store knows, per mapping")
    _common(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser(
        "emulator", help="a local stand-in for the DingTalk API (for trials and tests)"
    )
    _common(p, config=False)
    if with_emulator:  # its options are only built when asked for (start-up time of `sync`)
        from syncd.emulator.cli import add_arguments

        add_arguments(p)
    p = sub.add_parser("demo", help="zero-setup trial: emulator + daemon on a demo folder")
    _common(p, config=False)
    p.add_argument(
        "dir", nargs="?", default="./syncd-demo", help="folder to sync (default ./syncd-demo)"
    )
    p.add_argument(
        "--settle-seconds",
        type=float,
        default=1.0,
        help="quiet time before a file is uploaded (default 1)",
    )
    return parser


def _load_config(args: argparse.Namespace, *, require_credentials: bool = True) -> Any:
    from syncd.config import find_config, load

    return load(find_config(args.config), require_credentials=require_credentials)


def _setup_logging(args: argparse.Namespace, config: Any = None) -> str:
    from syncd.logconfig import configure_logging

    fmt = args.log_format or (config.log.format if config else "auto")
    level = args.log_level or (config.log.level if config else "info")
    return configure_logging(level=level, fmt=fmt)


_last_signal = [0]


def _interrupt(signum: int, frame: Any) -> None:
    """SIGINT/SIGTERM during `sync`: remember which, stop like Ctrl-C."""
    _last_signal[0] = signum
    raise KeyboardInterrupt


def _cmd_sync(args: argparse.Namespace) -> int:
    config = _load_config(args, require_credentials=not args.dry_run)
    fmt = _setup_logging(args, config)
    with _locked(config, args.dry_run):
        return _sync(args, config, fmt)


def _locked(config: Any, dry_run: bool) -> Any:
    """The state dir's lock for `sync`/`run`; a dry-run never takes it."""
    import contextlib

    from syncd.lock import state_lock

    return contextlib.nullcontext() if dry_run else state_lock(config.state_dir)


def _sync(args: argparse.Namespace, config: Any, fmt: str) -> int:
    from syncd.state import StateStore
    from syncd.sync_pass import run_sync

    state = StateStore.open(config.state_dir, dry_run=args.dry_run)
    progress: Any = None
    if fmt == "console" and sys.stderr.isatty():
        from syncd.progress import BarProgress

        progress = BarProgress()
    try:
        with _progress_logs(progress):
            result = run_sync(
                config,
                state,
                dry_run=args.dry_run,
                progress=progress,
                interrupted=lambda: _last_signal[0],
                check_remote=args.check_remote,
                max_delete=args.max_delete,
            )
    finally:
        if progress is not None:
            progress.close()
        state.close()
    if result.fatal is not None:
        print(f"syncd: {_fatal_text(result.fatal)}", file=sys.stderr)
    if result.interrupted and result.abandoned:
        print("syncd: interrupted; unfinished uploads are redone by the next run", file=sys.stderr)
    return result.exit_code


def _progress_logs(progress: Any) -> Any:
    import contextlib

    if progress is None:
        return contextlib.nullcontext()
    from syncd.progress import redirect_logs

    return redirect_logs()


def _fatal_text(exc: BaseException) -> str:
    from syncd.errors import CredentialsError

    if isinstance(exc, CredentialsError):
        return (
            f"DingTalk rejected the app credentials ({exc.code}: {exc.message}); "
            "check dingtalk.app_key and dingtalk.app_secret"
        )
    return str(exc)


def _cmd_check(args: argparse.Namespace) -> int:
    from syncd.config import state_dir_problem
    from syncd.errors import ConfigError

    config = _load_config(args)
    _setup_logging(args, config)
    if (problem := state_dir_problem(config.state_dir)) is not None:
        raise ConfigError([problem], str(config.source))
    print(
        f"config {config.source}: OK ({len(config.mappings)} mapping"
        f"{'s' if len(config.mappings) != 1 else ''})"
    )
    if args.offline:
        return EXIT_OK
    from syncd.check import check_remote

    return check_remote(config)


def _cmd_status(args: argparse.Namespace) -> int:
    from syncd.status import show_status

    config = _load_config(args, require_credentials=False)
    return show_status(config, as_json=args.json)


def _cmd_emulator(args: argparse.Namespace) -> int:
    from syncd.emulator.cli import run

    _setup_logging(args)
    return run(args)


def _cmd_run(args: argparse.Namespace) -> int:
    from syncd.daemon import run_daemon

    config = _load_config(args, require_credentials=not args.dry_run)
    _setup_logging(args, config)
    with _locked(config, args.dry_run):
        return run_daemon(
            config,
            dry_run=args.dry_run,
            reload_config=lambda: _load_config(args, require_credentials=not args.dry_run),
        )


def _cmd_demo(args: argparse.Namespace) -> int:
    from syncd.demo import run_demo

    _setup_logging(args)
    return run_demo(Path(args.dir), settle_seconds=args.settle_seconds)


COMMANDS = {
    "sync": _cmd_sync,
    "run": _cmd_run,
    "check": _cmd_check,
    "status": _cmd_status,
    "emulator": _cmd_emulator,
    "demo": _cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    from syncd.errors import ConfigError, CredentialsError, StateError
    from syncd.lock import LockedError

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(with_emulator=bool(argv) and argv[0] == "emulator").parse_args(argv)
    if args.command == "sync":  # a clean stop of a one-shot pass: finish what is in flight
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"syncd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CredentialsError as exc:
        print(f"syncd: {_fatal_text(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    except (StateError, LockedError) as exc:
        print(f"syncd: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("syncd: interrupted; unfinished uploads are redone by the next run", file=sys.stderr)
        return 128 + (_last_signal[0] or signal.SIGINT) if args.command == "sync" else EXIT_OK
