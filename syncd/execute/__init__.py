"""execute: the only layer that changes the remote and writes state.

`world` opens the world (state read-write, or read-only for a dry-run), `executor` dispatches
each action to its handler (`files` uploads, `tree` folders and moves, `trash`/`ownership`/
`purge` deletes, `marker`, `issues`), sharing one `context.Context`; `dry_run` is the executor
that prints instead; `consume` and `pool` are the one consumer and worker pool `sync` and
`run` share.

May import: `reconcile`, `plan`, `local`, `state`, `remote`, `config`, `obs`, `core`.
"""
