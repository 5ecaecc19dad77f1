"""The entry point of a rescan's helper process where it cannot be forked (`walk_split`
in `syncd run`, which has threads): `python -m syncd.walk_helper`, its work pickled on stdin
by the parent, its descriptors passed under the numbers the work names."""

from __future__ import annotations

import pickle
import sys

from syncd import walk_child


def main() -> None:  # pragma: no cover - runs as its own process; checked through the parent
    work, fd = pickle.load(sys.stdin.buffer)
    walk_child.serve(work, fd)


if __name__ == "__main__":  # pragma: no cover
    main()
