"""remote: DingTalk over HTTP — `transport` (token, signing-free API calls, retries, rate
limits), the endpoints (`storage` upload/commit/folders, `dentries`, `wiki`, `contacts`,
`listings`), bounded `paging`, the OSS body (`upload_body`, `transfer`, `etag`) and the
limiters (`ratelimit`, `ratelimit_redis`).

May import: `obs`, `core` (and, by the layer contract, `config`).
"""
