"""HMAC-signed upload URLs for the local store: the server plays S3's part and only accepts a PUT
whose key, size, content type, declared SHA-256 and expiry it signed itself.

Pure functions, no I/O, so the rules are unit-tested without a server.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Mapping

_HEX64 = re.compile(r"[0-9a-f]{64}")


class SignatureInvalid(Exception):
    """Missing, malformed or forged signature parameters."""


class UploadExpired(Exception):
    """The URL was genuine but its time is up."""


@dataclass(frozen=True)
class UploadGrant:
    """What a signed upload URL allows: exactly these bytes, for this key, until ``expires_at``."""

    key: str
    content_type: str
    size: int
    sha256_hex: str | None
    expires_at: int  # unix seconds


def derive_signing_key(jwt_key: str | bytes) -> bytes:
    """A key used only for upload URLs, so a leaked URL signature says nothing about JWTs."""
    raw = jwt_key.encode() if isinstance(jwt_key, str) else jwt_key
    return hmac.new(raw, b"imagepipe/media-upload/v1", hashlib.sha256).digest()


def normalize_sha256_hex(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not _HEX64.fullmatch(value):
        raise ValueError("sha256_hex must be 64 hexadecimal characters")
    return value


def _signature(signing_key: bytes, grant: UploadGrant) -> str:
    # Newline-joined: no field may contain a newline (key alphabet, ints, hex, checked content type).
    message = "\n".join(
        ["PUT", grant.key, str(grant.expires_at), str(grant.size), grant.content_type, grant.sha256_hex or ""]
    )
    return hmac.new(signing_key, message.encode(), hashlib.sha256).hexdigest()


def sign_query(signing_key: bytes, grant: UploadGrant) -> dict[str, str]:
    """Query parameters of the upload URL (the key itself is in the path)."""
    if "\n" in grant.content_type or "\r" in grant.content_type:
        raise ValueError("content type must be a single line")
    query = {"expires": str(grant.expires_at), "size": str(grant.size), "ctype": grant.content_type}
    if grant.sha256_hex:
        query["sha256"] = grant.sha256_hex
    query["sig"] = _signature(signing_key, grant)
    return query


def verify_query(signing_key: bytes, key: str, query: Mapping[str, str], now: float) -> UploadGrant:
    """The grant a URL carries. Signature first, expiry second: a tampered expiry is a forgery."""
    try:
        grant = UploadGrant(
            key=key,
            content_type=query["ctype"],
            size=int(query["size"]),
            sha256_hex=query.get("sha256") or None,
            expires_at=int(query["expires"]),
        )
        given = query["sig"]
    except (KeyError, ValueError):
        raise SignatureInvalid("upload URL is missing signed parameters") from None
    if not hmac.compare_digest(given.encode(), _signature(signing_key, grant).encode()):
        raise SignatureInvalid("upload URL signature does not match")
    if now > grant.expires_at:
        raise UploadExpired("upload URL has expired")
    return grant
