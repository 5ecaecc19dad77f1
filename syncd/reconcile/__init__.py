"""reconcile: a walk, the records and the listings → actions. It yields and never executes.

`loop.Reconciler` compares one mapping's scan with its records (through `plan.ports`), pairs
moves (`moves`), checks the root marker (`root_marker`) and remote drift (`drift`).

May import: `plan`, `local`, `core`; not `state`, `remote` or `execute`
(one reviewed exception: `helper_records` gives the rescan helper read-only records).
"""
