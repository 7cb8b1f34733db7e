"""Object keys: the one layout every backend shares, and the check that keeps keys inside it.

Keys are only ever built from ids, so a key outside the alphabet is a bug, not user input; the check
still matters because the local store maps keys to file paths (no ``..``, no absolute paths, no
hidden names, which are reserved for the store's own temp and metadata files).
"""

from __future__ import annotations

import re
import uuid

from .base import InvalidKey

_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"  # no leading dot: no ".", "..", or hidden names
_KEY_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
MAX_KEY_LENGTH = 1024

SOURCE_PREFIX = "uploads/"
VARIANT_PREFIX = "posts/"
# Variants of posts waiting for moderation: outside posts/, so neither /media nor a CDN reading
# posts/ can serve them (server/moderation streams them to the owner and admins only).
HELD_PREFIX = "held/"


def validate_key(key: str) -> str:
    """``key`` unchanged if it is a well-formed object key, else InvalidKey."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or not _KEY_RE.fullmatch(key):
        raise InvalidKey(f"invalid object key {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """A key, or a key and one trailing slash. Never empty: that would mean "everything", which no
    caller wants."""
    body = prefix[:-1] if isinstance(prefix, str) and prefix.endswith("/") else prefix
    try:
        validate_key(body)
    except InvalidKey:
        raise InvalidKey(f"invalid key prefix {prefix!r}") from None
    return prefix


def source_key(user_id: uuid.UUID, post_id: uuid.UUID) -> str:
    return f"{SOURCE_PREFIX}{user_id}/{post_id}/source"


def source_post_id(key: str) -> uuid.UUID | None:
    """The post id in a key shaped like ``source_key``'s, else None."""
    parts = key.split("/")
    if len(parts) != 4 or f"{parts[0]}/" != SOURCE_PREFIX or parts[3] != "source":
        return None
    try:
        return uuid.UUID(parts[2])
    except ValueError:
        return None


def post_variant_prefix(post_id: uuid.UUID) -> str:
    return f"{VARIANT_PREFIX}{post_id}/"


def held_variant_prefix(post_id: uuid.UUID) -> str:
    return f"{HELD_PREFIX}{post_id}/"
