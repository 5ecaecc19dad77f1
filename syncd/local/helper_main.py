"""The entry point of a rescan's helper process where it cannot be forked (`walk_shared`
in `syncd run`, which has threads): `python -P -m syncd.local.helper_main FD`, its work pickled on
stdin by the parent, FD the pipe back to it; the descriptors the work names are passed under
their own numbers."""

from __future__ import annotations

import pickle
import sys

from syncd.local import helper as proc


def main() -> None:  # pragma: no cover - runs as its own process; checked through the parent
    fd = int(sys.argv[1])
    work = pickle.load(sys.stdin.buffer)
    proc.serve(work, fd)


if __name__ == "__main__":  # pragma: no cover
    main()
