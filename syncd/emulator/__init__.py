"""A local stand-in for the DingTalk storage API and its OSS endpoint (stdlib only).

Written from ``dingtalk-api.md``: the token, upload-info, OSS PUT (V1 header signature),
commit, queryDentryId and v1.0 add-folder calls, with their real paths, bodies, error envelopes
and codes, plus fault injection, a per-API QPS limit and read-only inspection.
"""

from syncd.emulator.server import Emulator

__all__ = ["Emulator"]
