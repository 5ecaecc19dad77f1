"""state: the SQLite state store — records, issues and notes, the ledger (what syncd trashed,
the month's API calls, the tenant's capabilities, operator requests), the schema and its
migrations, and the lock one syncd per state dir holds.

May import: `core` (and, by the layer contract, `config` and `obs`).
"""
