"""Device tokens (OWASP's "device cookies"): proof that a client has logged in to an account before.

A successful login hands the client a token bound to the account; presenting it on a later login
gives that client a failure budget of its own, so an attacker hammering the account from elsewhere
cannot lock its owner out (``lockout``). The token is stateless: the account id, when it was
issued and a random nonce, signed with a key derived from the JWT key. It grants nothing by itself
(the password is still checked) and is no secret of the account's: a stolen one only buys its
holder the owner's separate, equally small budget of guesses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import time
import uuid
from dataclasses import dataclass

PREFIX = "d1"
MAX_AGE_S = 180 * 24 * 3600  # an old device token is just not trusted any more
_PAYLOAD = struct.Struct(">16sQ8s")  # user id, issued at (unix s), nonce
_SIG_BYTES = 16


@dataclass(frozen=True)
class Device:
    user_id: uuid.UUID
    issued_at: int
    nonce: str  # hex; names this device's failure counter


def _key(jwt_key: str) -> bytes:
    return hmac.new(jwt_key.encode("utf-8"), b"imagepipe device token v1", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(jwt_key: str, user_id: uuid.UUID, now: float | None = None) -> str:
    payload = _PAYLOAD.pack(user_id.bytes, int(time.time() if now is None else now), secrets.token_bytes(8))
    signature = hmac.new(_key(jwt_key), payload, hashlib.sha256).digest()[:_SIG_BYTES]
    return f"{PREFIX}.{_b64(payload)}.{_b64(signature)}"


def read(jwt_key: str, token: str, now: float | None = None) -> Device | None:
    """The device, if ``token`` is one of ours, intact and not too old; else None. Pure."""
    parts = token.split(".") if isinstance(token, str) and len(token) < 200 else []
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    try:
        payload, signature = _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError):
        return None
    expected = hmac.new(_key(jwt_key), payload, hashlib.sha256).digest()[:_SIG_BYTES]
    if len(payload) != _PAYLOAD.size or not hmac.compare_digest(signature, expected):
        return None
    user, issued_at, nonce = _PAYLOAD.unpack(payload)
    age = (time.time() if now is None else now) - issued_at
    if not -60 <= age <= MAX_AGE_S:
        return None
    return Device(uuid.UUID(bytes=user), issued_at, nonce.hex())
