"""Keyset-pagination cursors: an opaque token for the last row's (created_at, id).

Keyset rather than OFFSET so a page costs the same deep in a feed and rows inserted meanwhile never
shift later pages (no gaps, no repeats). The id breaks ties between equal timestamps. Opaque
(base64url) so clients do not build cursors and we may change the inside later.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime, timedelta, timezone

from ..http import ApiError

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_VERSION = "1"


def encode_cursor(created_at: datetime, post_id: uuid.UUID) -> str:
    # Integer microseconds: exactly PostgreSQL's timestamptz precision, so the round trip is lossless.
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    raw = f"{_VERSION}:{micros}:{post_id.hex}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(token: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) inside a cursor; 400 ``invalid_cursor`` for anything we did not issue."""
    try:
        if len(token) > 128:
            raise ValueError("too long")
        padded = token + "=" * (-len(token) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        version, micros, hex_id = raw.split(":")
        if version != _VERSION or not micros.lstrip("-").isdigit():
            raise ValueError("unknown cursor")
        return _EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=hex_id)
    except (ValueError, UnicodeError, binascii.Error, OverflowError):
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned",
                       details={"field": "cursor"}) from None
