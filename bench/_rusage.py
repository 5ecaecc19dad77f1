"""Run a command and record its own peak RSS, free of the benchmark's.

A process forked from a large benchmark script inherits that script's high-water RSS (the
kernel keeps the larger of the pre-exec and post-exec peaks), so `wait4()` on it would
report the bench's memory, not the command's. This small launcher starts the command with
posix_spawn, so its peak starts from the launcher's few MiB. Writes "PID" at start and
"PID MAXRSS_KIB SECONDS" at the end (the command's own wall time, without this launcher's
start-up) to FILE; forwards SIGTERM/SIGINT/SIGHUP; exits as the command.
Usage: python -S _rusage.py FILE COMMAND [ARGS...]
"""

import os
import signal
import sys
import time


def main() -> int:
    out, args = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.posix_spawnp(args[0], args, os.environ)
    with open(out, "w") as f:
        f.write(f"{pid}\n")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda n, _f: os.kill(pid, n))
    _, status, usage = os.wait4(pid, 0)  # retried after a forwarded signal (PEP 475)
    seconds = time.perf_counter() - started
    with open(out, "w") as f:
        f.write(f"{pid} {usage.ru_maxrss} {seconds:.6f}\n")
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
