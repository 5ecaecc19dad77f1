"""OSS V1 header signatures (§5.2) and the dates they cover: shared by upload-info and OSS."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac

BUCKET = "yundisk0"


def string_to_sign(
    verb: str,
    content_md5: str,
    content_type: str,
    date: str,
    headers: dict[str, str],
    resource: str,
) -> str:
    """The OSS V1 string to sign; ``headers`` may hold any headers, only x-oss-* count."""
    oss = sorted(
        (k.lower().strip(), v.strip()) for k, v in headers.items() if k.lower().startswith("x-oss-")
    )
    canonical = "".join(f"{k}:{v}\n" for k, v in oss)
    return f"{verb}\n{content_md5}\n{content_type}\n{date}\n{canonical}{resource}"


def sign(secret: str, to_sign: str) -> str:
    """base64(HMAC-SHA1(secret, to_sign))."""
    digest = hmac.new(secret.encode(), to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def format_date(when: float | None = None) -> str:
    """An RFC 1123 GMT date (``Sat, 07 Oct 2023 08:33:57 GMT``)."""
    return email.utils.formatdate(when, usegmt=True)


def parse_date(value: str) -> float | None:
    """Seconds since the epoch from an RFC 1123 or ISO-basic (``20260528T093716Z``) date."""
    value = value.strip()
    try:
        if len(value) == 16 and value[8] == "T" and value.endswith("Z"):
            parsed = dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        else:
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp()
