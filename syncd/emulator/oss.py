"""The emulated OSS endpoint: V1 header signatures (§5.2), PutObject, XML errors (§5.3).

``PUT /<bucket>/<object>`` is checked the way OSS checks it: Content-Length present, a valid
``x-oss-date`` (or ``Date``) within ``expirationSeconds`` of now, then the V1 signature recomputed
from the request's own method, Content-MD5, Content-Type, date, ``x-oss-*`` headers and path.
The body is streamed in chunks of at most 1 MiB and hashed (MD5, SHA-256); it is kept only
with ``store_content``. Injected faults: 5xx (500 InternalError), throttle (503 SlowDown),
throttlejson (403 JSON throttling body), html403, ban/banhtml, reset (mid-body), lost (stored,
then no answer) and etag (stored; an ETag that is not the MD5, and no Content-MD5). The
tenant variants ``etag-not-md5`` and ``no-etag`` (§15.3.4) answer every PUT of their space
like the ``etag`` fault, or with neither ETag nor Content-MD5; the space is the one of the
upload info that issued the object's URL.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from syncd.emulator import answers
from syncd.emulator.answers import RawAnswer
from syncd.emulator.common import CHUNK, QuietHandler, request_id
from syncd.emulator.signing import BUCKET, format_date, parse_date, sign, string_to_sign

__all__ = ["BUCKET", "ObjectStore", "OssHandler", "StoredObject", "format_date", "string_to_sign"]
MAX_OBJECT_SIZE = 5 * 1024**3  # OSS PutObject limit


def oss_request_id() -> str:
    return secrets.token_hex(12).upper()


@dataclass(frozen=True, slots=True)
class StoredObject:
    size: int
    md5: str  # lower-case hex
    sha256: str
    data: bytes | None


class ObjectStore:
    """Object path (``/<bucket>/<object>``) -> StoredObject; a re-PUT replaces it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, StoredObject] = {}

    def put(self, path: str, obj: StoredObject) -> None:
        with self._lock:
            self._objects[path] = obj

    def get(self, path: str) -> StoredObject | None:
        with self._lock:
            return self._objects.get(path)

    def pop(self, path: str) -> StoredObject | None:
        with self._lock:
            return self._objects.pop(path, None)


_MESSAGES = {
    "MissingContentLength": "You must provide the Content-Length HTTP header.",
    "InternalError": "We encountered an internal error. Please try again.",
    "SlowDown": "Please reduce your request rate.",
    "InvalidObjectName": "The specified object is not valid.",
    "NoSuchBucket": "The specified bucket does not exist.",
    "EntityTooLarge": "Your proposed upload exceeds the maximum allowed size.",
    "AccessDenied": "AccessDenied: anonymous access is forbidden for this operation.",
    "InvalidArgument": "Authorization header is invalid.",
    "InvalidAccessKeyId": "The OSS Access Key Id you provided does not exist in our records.",
    "RequestTimeTooSkewed": "The difference between the request time and the current time is "
    "too large.",
    "SignatureDoesNotMatch": "The request signature we calculated does not match the signature "
    "you provided. Check your key and signing method.",
    "InvalidDigest": "The Content-MD5 you specified did not match what we received.",
    "MethodNotAllowed": "The specified method is not allowed against this resource.",
}


class OssError(Exception):
    """An OSS error answer; ``extra`` becomes additional XML elements."""

    def __init__(self, status: int, code: str, message: str = "", **extra: str) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code, self.extra = status, code, extra
        self.message = message or _MESSAGES[code]


class OssHandler(QuietHandler):
    """PutObject with V1 header-signature verification; every other method is refused."""

    server_version = "AliyunOSS"

    def do_PUT(self) -> None:
        emu = self.server.emulator
        emu.counters.request("oss")
        self._body_read = False
        length = self.content_length()
        emu.latency.wait(emu.stopping)
        decision = emu.faults.decide("oss")
        if decision.kind is not None or decision.delay:
            emu.counters.fault()
        if decision.delay:
            emu.stopping.wait(decision.delay)
        if decision.kind == "reset":
            if length:
                self.rfile.read(min(length // 2, 256 * 1024))
            self.abort()
            return
        try:
            if length is None:
                self.close_connection = True  # the body's end is unknown: cannot drain it
                raise OssError(411, "MissingContentLength")
            self._fault(decision.kind, decision.status)
            path = self._check_request(emu, length)
            obj = self._receive(length, emu.store_content)
            if obj is None:
                return
        except OssError as err:
            self._send_error(err, length)
            return
        except RawAnswer as raw:
            self._send_raw(raw, length)
            return
        emu.objects.put(path, obj)
        if emu.on_put is not None:
            emu.on_put(path, obj)
        self._stored(obj, decision.kind, emu.dentries.object_root(path))

    def _fault(self, kind: str | None, status: int | None) -> None:
        """Raise the answer of an injected fault that refuses the PUT."""
        emu = self.server.emulator
        if kind == "5xx":
            raise OssError(status or 500, "InternalError")
        if kind in ("throttle", "throttlejson"):
            emu.counters.throttled()
            if kind == "throttlejson":
                raise answers.throttled_json(request_id())
            raise OssError(503, "SlowDown")
        if kind == "html403":
            raise answers.html(403, "403 Forbidden")
        if kind == "ban":
            raise answers.ban(status or 403)
        if kind == "banhtml":
            raise answers.html(status or 403, "Access Denied")

    def _stored(self, obj: StoredObject, kind: str | None, root: str | None) -> None:
        """Answer a stored PUT: 200 with the MD5 ETag, a foreign ETag ("etag" fault or
        variant), no ETag ("no-etag" variant), or no answer at all ("lost")."""
        emu = self.server.emulator
        if kind == "lost":
            emu.latency.wait(emu.stopping)
            self.abort()  # stored, but the answer never arrives
            return
        if emu.variants.active("no-etag", root):
            self._send(200, b"", None, {})
            return
        if kind == "etag" or emu.variants.active("etag-not-md5", root):
            # a proxy's ETag: 32 hex digits that are not the body's MD5
            other = secrets.token_hex(16)
            while other == obj.md5:
                other = secrets.token_hex(16)
            self._send(200, b"", None, {"ETag": f'"{other.upper()}"'})
            return
        md5_b64 = base64.b64encode(bytes.fromhex(obj.md5)).decode()
        self._send(200, b"", None, {"ETag": f'"{obj.md5.upper()}"', "Content-MD5": md5_b64})

    def _check_request(self, emu: Any, length: int) -> str:
        """Validate path, date and signature; return the object path."""
        raw_path = self.path.split("?", 1)[0]
        path = urllib.parse.unquote(raw_path)
        bucket, _, key = path.lstrip("/").partition("/")
        if not bucket or not key:
            raise OssError(400, "InvalidObjectName")
        if bucket != BUCKET:
            raise OssError(404, "NoSuchBucket", BucketName=bucket)
        if length > MAX_OBJECT_SIZE:
            self.close_connection = True
            raise OssError(400, "EntityTooLarge")
        auth = self.headers.get("Authorization")
        if not auth:
            raise OssError(403, "AccessDenied")
        if not auth.startswith("OSS ") or ":" not in auth:
            raise OssError(400, "InvalidArgument")
        access_key, _, signature = auth[4:].strip().partition(":")
        if access_key != emu.oss_access_key_id:
            raise OssError(403, "InvalidAccessKeyId", OSSAccessKeyId=access_key)
        date = self.headers.get("x-oss-date") or self.headers.get("Date") or ""
        when = parse_date(date) if date else None
        if when is None:
            raise OssError(403, "AccessDenied", "OSS authentication requires a valid Date.")
        now = time.time()
        if abs(now - when) > emu.expiration_seconds:
            fmt = "%Y-%m-%dT%H:%M:%S.000Z"
            raise OssError(
                403,
                "RequestTimeTooSkewed",
                MaxAllowedSkewMilliseconds=str(int(emu.expiration_seconds * 1000)),
                RequestTime=dt.datetime.fromtimestamp(when, dt.UTC).strftime(fmt),
                ServerTime=dt.datetime.fromtimestamp(now, dt.UTC).strftime(fmt),
            )
        to_sign = string_to_sign(
            "PUT",
            self.headers.get("Content-MD5", ""),
            self.headers.get("Content-Type", ""),
            date,
            dict(self.headers.items()),
            path,
        )
        expected = sign(emu.oss_access_key_secret, to_sign)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                StringToSignBytes=" ".join(f"{b:02X}" for b in to_sign.encode()),
                SignatureProvided=signature,
                StringToSign=to_sign,
                OSSAccessKeyId=access_key,
            )
        return path

    def _receive(self, length: int, keep: bool) -> StoredObject | None:
        """Stream the body, hashing it; None (connection dropped) if the client went away."""
        want_md5 = self.headers.get("Content-MD5", "").strip()
        if want_md5:
            try:
                if len(base64.b64decode(want_md5, validate=True)) != 16:
                    raise ValueError
            except (binascii.Error, ValueError):
                msg = "The Content-MD5 you specified is not valid."
                raise OssError(400, "InvalidDigest", msg) from None
        md5, sha256 = hashlib.md5(), hashlib.sha256()
        parts: list[bytes] = []
        buf = bytearray(min(CHUNK, max(length, 1)))
        view = memoryview(buf)
        left = length
        while left > 0:
            n = self.rfile.readinto(view[: min(left, len(buf))])
            if not n:
                self.close_connection = True
                return None
            chunk = view[:n]
            md5.update(chunk)
            sha256.update(chunk)
            if keep:
                parts.append(bytes(chunk))
            left -= n
        self._body_read = True
        digest = md5.digest()
        if want_md5 and base64.b64encode(digest).decode() != want_md5:
            calculated = base64.b64encode(digest).decode()
            raise OssError(400, "InvalidDigest", CalculatedDigest=calculated)
        data = b"".join(parts) if keep else None
        return StoredObject(length, digest.hex(), sha256.hexdigest(), data)

    def _drained(self, length: int | None) -> bool:
        """Read the unread body before an error answer; False when the client went away."""
        drain = not self.close_connection and length and not self._body_read
        if drain and not self.drain(length or 0):
            self.close_connection = True
            return False
        return True

    def _send_raw(self, raw: RawAnswer, length: int | None) -> None:
        if self._drained(length):
            self._send(raw.status, raw.body, raw.content_type, {})

    def _send_error(self, err: OssError, length: int | None) -> None:
        if not self._drained(length):
            return
        rid = oss_request_id()
        fields = {
            "Code": err.code,
            "Message": err.message,
            **err.extra,
            "RequestId": rid,
            "HostId": self.headers.get("Host", "localhost"),
        }
        xml = "".join(f"  <{k}>{escape(str(v))}</{k}>\n" for k, v in fields.items())
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n{xml}</Error>\n'.encode()
        self._send(err.status, body, "application/xml", {}, rid)

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str | None,
        headers: dict[str, str],
        rid: str | None = None,
    ) -> None:
        emu = self.server.emulator
        emu.latency.wait(emu.stopping)
        emu.counters.status("oss", status)
        headers = {"x-oss-request-id": rid or oss_request_id(), **headers}
        self.send_bytes(status, body, ctype, headers)

    _body_read = False

    def _refuse(self) -> None:
        self.server.emulator.counters.request("oss")
        self._body_read = False
        self._send_error(OssError(405, "MethodNotAllowed"), self.content_length())

    do_GET = do_POST = do_DELETE = do_HEAD = do_PATCH = _refuse
