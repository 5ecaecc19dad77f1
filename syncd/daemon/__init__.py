"""daemon: `syncd run` — watch, settle, reconcile and upload until stopped.

`loop` drives the rounds; `mappings` owns the mapped roots (present, missing, failed),
`scanner` the rescans, `settle`/`claims` when a changed file is ready, `retries` the back-off,
`report` the status file and `/healthz`, `signals`/`sdnotify` the service manager.

May import: `execute`, `reconcile`, `plan`, `local`, `state`, `remote`, `config`, `obs`, `core`.
Not `oneshot` or `cli`.
"""
