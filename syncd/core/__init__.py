"""core (bottom layer): the values every layer shares and nothing else.

Records, local files and issues (`model`), the actions reconcile yields (`actions`), the
config value types (`settings`), errors and exit codes, filters, units and terminal-safe text.
No I/O beyond what a value needs to describe itself.

May import: the standard library and the small libraries a value needs (`pathspec`,
`wcwidth`); nothing of syncd.
"""
