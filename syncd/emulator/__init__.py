"""A local stand-in for the DingTalk storage API and its OSS endpoint (stdlib only).

Written from ``dingtalk-api.md``: the token, upload-info, OSS PUT (V1 header signature),
commit (with app properties), queryDentryId, v1.0 add-folder, list/get/rename/move/delete
dentries, app properties and version history, and wiki 2.0 workspaces and nodes, with their
real paths, bodies, error envelopes and codes; plus fault injection, a per-API QPS limit,
added latency, test-side colleague operations and read-only inspection; the monthly API
quota (§15.1), the contact calls that find the operator (§15.2) and tenant variants (§15.3).

Modules: ``server`` (the :class:`Emulator`), ``api`` and ``oss`` (the two HTTP servers),
``routes*`` (the route table and handlers), ``tree``/``names``/``props``/``views``/``paging``
(the remote state and its JSON), ``faults``/``answers`` (faults, QPS limit, latency),
``quota`` (the monthly quota), ``variants`` (tenant variants), ``contacts``/``oapi`` (the
address book and old-style answers), ``colleague``/``inspection`` (test-side operations),
``cli`` (``syncd emulator``).
"""

from syncd.emulator.server import Emulator

__all__ = ["Emulator"]
