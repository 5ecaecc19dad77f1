"""plan (pure): decisions from plain values — upload or not (`decide`), what a local delete
means (`deletes`), the delete guards (`guards`) — and the ports (`ports`) through which
reconcile reads records and listings.

May import: `core` only (an import-linter contract keeps it so). No I/O.
"""
