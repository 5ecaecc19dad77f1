"""obs: what syncd tells people — structured logs, dry-run plan lines, progress bars,
Prometheus metrics and run statistics.

May import: `core`.
"""
