"""oneshot: `syncd sync` — one pass over every mapping, then the summary and the exit code.

May import: `execute`, `reconcile`, `plan`, `local`, `state`, `remote`, `config`, `obs`, `core`.
Not `daemon` or `cli`.
"""
