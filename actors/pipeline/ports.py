"""What the pipeline needs from the outside, as Protocols: the durable queue and its wake-ups.

The pipeline is handed an implementation (``server.jobs`` on PostgreSQL) by the glue that builds it,
as it is handed the transcode function and the store, so this package never imports the server.
Every method that writes about a job takes the ``ClaimedJob``: its ``claim`` number fences the
write, so a holder whose job was claimed again since changes nothing.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ClaimedJob:
    """One claim of one job: ``claim`` is fresh at every claim and fences every write."""

    id: int
    claim: int
    post_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    attempts: int
    max_attempts: int
    pool_breaks: int
    source_key: str
    content_type: str
    source_sha256: str | None = None  # as verified at upload/complete; the fetched bytes must match


@dataclass(frozen=True)
class RetryOutcome:
    """What a retryable failure did: the job is queued again, or dead (and its post failed)."""

    status: str  # queued | dead
    attempts: int


@dataclass(frozen=True)
class StoredImage:
    """A rendition as written to the store, for the post's image rows."""

    variant: str
    format: str
    key: str
    width: int
    height: int
    bytes: int
    quality: int | None


class Published(enum.Enum):
    PUBLISHED = "published"
    HELD = "held"  # moderation holds it for review: stored, job done, shown to owner and admins only
    REJECTED = "rejected"  # moderation rejected it: nothing stored, job failed, post failed
    LOST = "lost"  # the claim was fenced out: someone else holds the job now
    POST_DELETED = "post_deleted"  # deleted while it was processed: never shown, job closed


class Moderation(Protocol):
    """What the moderation policy decided about one result (``PipelineConfig.moderate``); the
    queue stores it with the post. The pipeline reads only these two."""

    @property
    def holds(self) -> bool: ...

    @property
    def rejects(self) -> bool: ...


@dataclass(frozen=True)
class PublishOutcome:
    outcome: Published
    queued_for_s: float | None = None  # published: seconds from upload/complete to now


class JobQueuePort(Protocol):
    async def claim(self, n: int, owner: str, lease_s: float) -> list[ClaimedJob]: ...

    async def heartbeat(self, jobs: list[ClaimedJob], lease_s: float) -> set[int]:
        """Extend the leases; the ids whose claim is still current."""
        ...

    async def fail_final(self, job: ClaimedJob, code: str, message: str, *, status: str = "failed") -> bool: ...

    async def fail_retry(self, job: ClaimedJob, code: str, message: str, delay_s: float) -> RetryOutcome | None: ...

    async def defer(self, jobs: list[ClaimedJob], delay_s: float, code: str, message: str) -> set[int]: ...

    async def add_pool_break(self, jobs: list[ClaimedJob]) -> dict[int, int]: ...

    async def release(self, owner: str) -> int: ...

    async def reap(self, dead_owner_prefix: str | None = None, *, outage: bool = False) -> dict[str, int]: ...

    async def counts(self) -> dict[str, int]: ...

    async def record_writes(self, job: ClaimedJob) -> None:
        """Before writing objects under the claim's prefix, so a claim that never publishes them
        leaves nothing unswept."""
        ...

    async def publish(
        self, job: ClaimedJob, images: list[StoredImage], width: int, height: int, metadata: dict[str, Any],
        moderation: Moderation | None = None,
    ) -> PublishOutcome:
        """Make the post visible (or, per ``moderation``, held for review or failed as rejected),
        fenced, in one transaction."""
        ...

    async def forget_writes(self, job: ClaimedJob) -> None:
        """The claim's objects are gone (deleted by the claim itself): nothing left to sweep."""
        ...


class ListenerPort(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def wait(self, timeout: float) -> None: ...

    def poke(self) -> None: ...
