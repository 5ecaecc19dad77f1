"""cli (top layer): argument parsing and the commands an operator types.

`parser` builds the argparse tree, `commands` dispatches; `status`, `ls`, `check`, `whoami`,
`shipped` (example config, unit files) and `demo` are one command each. Exit codes come from
`syncd.core.exit_codes`; every remote string is printed through `syncd.core.text`.

May import: every layer below (`oneshot`, `daemon`, `execute`, …, `core`).
"""
