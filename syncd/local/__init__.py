"""local: everything about the local file system, read fd-relative.

`fs` opens below a mapping root without following a renamed or swapped-in symlink; `walk` lists
a tree; `walk_shared`/`walk_forked`/`helper` run that walk in a helper process; `trees` holds
the mapped roots; `watcher` wraps watchdog; `fstype` tells file systems apart.

May import: `core` (and, by the layer contract, `config` and `obs`).
"""
