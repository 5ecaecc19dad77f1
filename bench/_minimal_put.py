"""B2's baseline: the least a client can do to upload one file the way syncd must.

Token, uploadInfos/query, one streamed PUT of the file to the signed URL (exact signed
headers, empty Content-Type) computing MD5 (checked against the ETag) and SHA-256 (what
syncd stores and stamps) over the same bytes in the same 1 MiB reads, then the commit.
No state, no logging, no retries. Prints the seconds from upload info to commit (the span of
syncd's `upload.completed` duration_ms) and the SHA-256.
Usage: _minimal_put.py API_BASE PARENT_UUID FILE
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

import requests

APP_KEY, APP_SECRET, UNION_ID = "emulator-app-key", "emulator-app-secret", "emulator-union-id"
CHUNK = 1 << 20


class Body:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self.fd).st_size
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()

    def __len__(self) -> int:
        return self.size

    def __iter__(self):  # type: ignore[no-untyped-def]
        buf = memoryview(bytearray(CHUNK))
        while n := os.readv(self.fd, [buf]):
            chunk = buf[:n]
            self.md5.update(chunk)
            self.sha256.update(chunk)
            yield chunk


def main(base: str, parent: str, path: str) -> None:
    s = requests.Session()
    token = s.post(
        f"{base}/v1.0/oauth2/accessToken", json={"appKey": APP_KEY, "appSecret": APP_SECRET}
    ).json()["accessToken"]
    api = {"x-acs-dingtalk-access-token": token}
    started = time.perf_counter()  # the span syncd's upload.completed duration_ms covers
    body = Body(path)
    name = os.path.basename(path)
    files = f"{base}/v2.0/storage/spaces/files/{parent}"
    info = s.post(
        f"{files}/uploadInfos/query?unionId={UNION_ID}",
        headers=api,
        json={
            "protocol": "HEADER_SIGNATURE",
            "option": {"storageDriver": "DINGTALK", "preCheckParam": {"size": body.size}},
        },
    ).json()
    sig = info["headerSignatureInfo"]
    headers = {**sig["headers"], "Content-Type": "", "Content-Length": str(body.size)}
    put = s.put(sig["resourceUrls"][0], data=body, headers=headers)
    put.raise_for_status()
    assert put.headers["ETag"].strip('"').lower() == body.md5.hexdigest(), "ETag mismatch"
    done = s.post(
        f"{files}/commit?unionId={UNION_ID}",
        headers=api,
        json={"uploadKey": info["uploadKey"], "name": name, "option": {"size": body.size}},
    )
    done.raise_for_status()
    print(f"{time.perf_counter() - started:.6f} {body.sha256.hexdigest()}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
