"""The bodies of the `syncd` commands; `cli.py` parses and calls `run_command`.

Each command loads what it needs when it runs, so a command never pays for another's
imports. Every expected failure is a message and an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

from syncd.core.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_USAGE

_last_signal = [0]


def _interrupt(signum: int, frame: Any) -> None:
    """SIGINT/SIGTERM during `sync`: remember which, stop like Ctrl-C."""
    _last_signal[0] = signum
    raise KeyboardInterrupt


def _load_config(
    args: argparse.Namespace,
    *,
    require_credentials: bool = True,
    check_credentials: bool = False,
    require_folders: bool = False,
) -> Any:
    """The config; a mapping whose folder does not exist is kept (a share mounted after the
    start) unless `require_folders` (`check`, which reports it)."""
    from syncd.config import find_config, load

    return load(
        find_config(getattr(args, "config", None)),
        require_credentials=require_credentials,
        check_credentials=check_credentials,
        require_folders=require_folders,
    )


def _setup_logging(args: argparse.Namespace, config: Any = None) -> str:
    from syncd.obs.logconfig import configure_logging

    fmt = getattr(args, "log_format", None) or (config.log.format if config else "auto")
    level = getattr(args, "log_level", None) or (config.log.level if config else "info")
    return configure_logging(level=level, fmt=fmt)


def _edge(args: argparse.Namespace) -> tuple[Any, Any, bool]:
    """Where `sync` and `run` decide their dry-run, once: the config (a dry-run needs no
    credentials), the state dir's lock (a dry-run never takes it), and the flag for the
    world they open (`execute.world`: a printing executor, a read-only store)."""
    from syncd.state.lock import state_lock

    dry_run = bool(args.dry_run)
    config = _load_config(args, require_credentials=not dry_run)
    lock = contextlib.nullcontext() if dry_run else state_lock(config.state_dir)
    return config, lock, dry_run


def fatal_text(exc: BaseException) -> str:
    from syncd.core.errors import CredentialsError

    if isinstance(exc, CredentialsError):
        return (
            f"DingTalk rejected the app credentials ({exc.code}: {exc.message}); "
            "check dingtalk.app_key and dingtalk.app_secret"
        )
    return str(exc)


def cmd_sync(args: argparse.Namespace) -> int:
    config, lock, dry_run = _edge(args)
    fmt = _setup_logging(args, config)
    with lock:
        return _sync(args, config, fmt, dry_run)


def _sync(args: argparse.Namespace, config: Any, fmt: str, dry_run: bool) -> int:
    from syncd.oneshot.summary import print_summary
    from syncd.oneshot.sync_pass import run_sync
    from syncd.state.store import StateStore

    state = StateStore.open(config.state_dir, dry_run=dry_run)
    terminal = fmt == "console" and sys.stderr.isatty()
    bars = terminal if args.progress is None else args.progress  # -P / --no-progress
    progress: Any = None
    if bars and not dry_run:  # bars for what is sent
        from syncd.obs.progress import BarProgress

        progress = BarProgress()
    try:
        with _progress_logs(progress):
            result = run_sync(
                config,
                state,
                dry_run=dry_run,
                progress=progress,
                interrupted=lambda: _last_signal[0],
                check_remote=args.check_remote,
                max_delete=args.max_delete,
            )
    finally:
        if progress is not None:
            progress.close()
        state.close()
    if terminal:
        print_summary(result)
    if result.fatal is not None:
        print(f"syncd: {fatal_text(result.fatal)}", file=sys.stderr)
    if result.interrupted and result.abandoned:
        print("syncd: interrupted; unfinished uploads are redone by the next run", file=sys.stderr)
    return result.exit_code


def _progress_logs(progress: Any) -> Any:
    if progress is None:
        return contextlib.nullcontext()
    from syncd.obs.progress import redirect_logs

    return redirect_logs()


def cmd_check(args: argparse.Namespace) -> int:
    from syncd.config import default_state_dir, state_dir_problem
    from syncd.core.errors import ConfigError

    if (args.probe and args.offline) or (args.json and not args.probe):
        print(
            "syncd check: --probe talks to DingTalk (not with --offline); --json goes with --probe",
            file=sys.stderr,
        )
        return EXIT_USAGE
    config = _load_config(
        args, require_credentials=not args.offline, check_credentials=True, require_folders=True
    )
    _setup_logging(args, config)
    notes = list(config.notes)
    service_dir = str(config.state_dir) == default_state_dir(config.source, {})
    if service_dir and not config.state_dir.exists() and str(config.state_dir).startswith("/"):
        notes.append(
            f"state_dir: {config.state_dir} is created by systemd (StateDirectory=) "
            "when the service starts"
        )
    elif (problem := state_dir_problem(config.state_dir)) is not None:
        raise ConfigError([problem], str(config.source))
    plural = "s" if len(config.mappings) != 1 else ""
    out = sys.stderr if args.json else sys.stdout  # --json: stdout is the object only
    print(f"config {config.source}: OK ({len(config.mappings)} mapping{plural})", file=out)
    for note in notes:
        print(f"  note: {note}", file=out)
    if args.offline:
        return EXIT_OK
    if args.probe:
        from syncd.cli.probe import probe

        return probe(config, as_json=args.json)
    from syncd.cli.check import check_remote

    return check_remote(config)


def cmd_status(args: argparse.Namespace) -> int:
    from syncd.cli.status import show_status

    config = _load_config(args, require_credentials=False)
    return show_status(config, as_json=args.json)


def cmd_ls(args: argparse.Namespace) -> int:
    from syncd.cli.ls import show
    from syncd.cli.remote_config import load_dingtalk
    from syncd.remote.transport import Transport

    config = load_dingtalk(args, ["ls", *([args.uuid] if args.uuid else [])])
    _setup_logging(args, config)
    client = Transport(config.dingtalk, max_attempts=3)
    try:
        return show(client, args.uuid, as_json=args.json)
    finally:
        client.close()


def cmd_whoami(args: argparse.Namespace) -> int:
    from syncd.cli.remote_config import load_dingtalk
    from syncd.cli.whoami import show
    from syncd.remote.transport import Transport

    rerun = ["whoami"]
    if args.mobile is not None:
        rerun += ["--mobile", args.mobile]
    if args.name is not None:
        rerun += ["--name", args.name]
    # finding a user needs no operator: --mobile/--name is how one finds it
    config = load_dingtalk(args, rerun, union_id=args.mobile is None and args.name is None)
    _setup_logging(args, config)
    client = Transport(config.dingtalk, max_attempts=3)
    try:
        return show(client, mobile=args.mobile, name=args.name, as_json=args.json)
    finally:
        client.close()


def cmd_retry(args: argparse.Namespace) -> int:
    from syncd.cli.act import retry

    if bool(args.paths) == bool(args.all):
        print("syncd retry: give PATH… or --all (one of them)", file=sys.stderr)
        return 2
    return retry(_load_config(args, require_credentials=False), args.paths, args.all)


def cmd_resolve(args: argparse.Namespace) -> int:
    from syncd.cli.act import resolve
    from syncd.core.actions import Resolution

    config = _load_config(args, require_credentials=False)
    return resolve(config, args.path, Resolution(args.resolution))


def cmd_example_config(args: argparse.Namespace) -> int:
    from syncd.cli.shipped import example_config

    sys.stdout.write(example_config())
    return EXIT_OK


def cmd_unit(args: argparse.Namespace) -> int:
    from syncd.cli.shipped import unit

    sys.stdout.write(unit(instance=args.instance))
    return EXIT_OK


def cmd_emulator(args: argparse.Namespace) -> int:
    from syncd.emulator.cli import run

    _setup_logging(args)
    return run(args)


def cmd_run(args: argparse.Namespace) -> int:
    from syncd.daemon.loop import run_daemon

    config, lock, dry_run = _edge(args)
    _setup_logging(args, config)
    with lock:
        return run_daemon(
            config,
            dry_run=dry_run,
            reload_config=lambda: _load_config(args, require_credentials=not dry_run),
        )


def cmd_demo(args: argparse.Namespace) -> int:
    from syncd.cli.demo import run_demo

    if getattr(args, "log_level", None) is None:
        args.log_level = "warning"  # one `landed:` line per file; problems still show
    _setup_logging(args)
    return run_demo(Path(args.dir), settle_seconds=args.settle_seconds)


def cmd_completion(args: argparse.Namespace) -> int:
    from syncd.cli.completion import script

    print(script(args.shell))
    return EXIT_OK


HANDLERS = {
    "sync": cmd_sync,
    "run": cmd_run,
    "check": cmd_check,
    "status": cmd_status,
    "ls": cmd_ls,
    "retry": cmd_retry,
    "resolve": cmd_resolve,
    "whoami": cmd_whoami,
    "example-config": cmd_example_config,
    "unit": cmd_unit,
    "emulator": cmd_emulator,
    "demo": cmd_demo,
    "completion": cmd_completion,
}


def run_command(args: argparse.Namespace) -> int:
    from syncd.core.errors import ConfigError, CredentialsError, LockedError, StateError, SyncdError

    if args.command == "sync":  # a clean stop of a one-shot pass: finish what is in flight
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
    try:
        return HANDLERS[args.command](args)
    except ConfigError as exc:
        print(f"syncd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CredentialsError as exc:
        print(f"syncd: {fatal_text(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    except (StateError, LockedError, SyncdError) as exc:
        print(f"syncd: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("syncd: interrupted; unfinished uploads are redone by the next run", file=sys.stderr)
        return 128 + (_last_signal[0] or signal.SIGINT) if args.command == "sync" else EXIT_OK
