"""The object-store contract every backend (local files, S3) implements.

The rest of the service talks only to ``ObjectStore``: upload handling checks sources through it and
the publisher writes variants through it, so a backend swap is a setting, not a code change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str | None


@dataclass(frozen=True)
class PresignedUpload:
    """What a client needs to PUT bytes straight to the store: every header listed is signed and
    must be sent exactly as given."""

    url: str
    method: str  # always "PUT"
    headers: dict[str, str] = field(default_factory=dict)
    expires_in: int = 0


class ObjectNotFound(Exception):
    """The key does not exist (a permanent answer, unlike StoreUnavailable)."""


class StoreUnavailable(Exception):
    """Transient: the store could not be reached or kept failing after retries; try again later."""


class InvalidKey(ValueError):
    """A key outside the allowed alphabet or shape (``..``, absolute, empty): a programming error,
    since keys are only ever built from ids."""


@runtime_checkable
class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None: ...

    async def get(self, key: str) -> bytes:
        """The whole object; raises ObjectNotFound."""
        ...

    async def head(self, key: str) -> ObjectInfo | None: ...

    async def read_prefix(self, key: str, length: int) -> bytes:
        """The first ``length`` bytes (magic-number sniffing); raises ObjectNotFound."""
        ...

    async def sha256_hex(self, key: str) -> str:
        """Streamed, never the whole object in memory; raises ObjectNotFound."""
        ...

    async def delete(self, key: str) -> None:
        """Missing keys are fine."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Number of objects deleted."""
        ...

    def presign_put(
        self, key: str, content_type: str, size: int, sha256_hex: str | None, expires_in: int
    ) -> PresignedUpload: ...

    def public_url(self, key: str) -> str: ...

    async def close(self) -> None: ...


__all__ = ["ObjectInfo", "PresignedUpload", "ObjectStore", "ObjectNotFound", "StoreUnavailable", "InvalidKey"]
