"""What the pipeline needs to run, as plain values: built from the server's Settings by the glue
(``server/pipeline_ctx.py``) so this package stays free of aiohttp and of the config loader."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

# Variant keys: posts/{post_id}/{claim}/{variant}.{ext}. Each claim of a job writes under its own
# prefix, so no attempt can overwrite the bytes another one published. A post that moderation holds
# for review is written under held/ instead, which nothing serves publicly.
EXTENSIONS = {"jpeg": "jpg", "webp": "webp", "avif": "avif"}
CONTENT_TYPES = {"jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}
# Variant bytes never change under a key (every claim has its own keys), so caches may keep them.
IMMUTABLE = "public, max-age=31536000, immutable"


def default_owner() -> str:
    """A lease owner name unique to this process life: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_prefix(post_id: uuid.UUID, claim: int, *, held: bool = False) -> str:
    return f"{'held' if held else 'posts'}/{post_id}/{claim}/"


def variant_key(post_id: uuid.UUID, claim: int, variant: str, fmt: str, *, held: bool = False) -> str:
    return f"{claim_prefix(post_id, claim, held=held)}{variant}.{EXTENSIONS[fmt]}"


@dataclass(frozen=True)
class PipelineConfig:
    workers: int = 1
    start_method: str = "spawn"  # spawn | forkserver; fork is refused (libvips threads)
    recycle_after: int = 200
    vips_concurrency: int = 1
    job_timeout_s: float = 60.0
    lease_s: float = 30.0
    poll_interval_s: float = 2.0
    drain_timeout_s: float = 30.0
    # The longest one object-store call may legitimately take (timeouts times attempts): a job held
    # longer than this in a stage that only waits on the store is not progressing.
    io_timeout_s: float = 120.0
    mailbox_size: int = 0  # 0: twice the workers
    # The picklable top-level callables run in the pool; tests swap in a hostile one.
    transcode: Callable[..., Any] | None = None
    transcode_options: Any = None
    worker_init: Callable[..., None] | None = None
    owner: str = field(default_factory=default_owner)
    retry_base_s: float = 2.0
    retry_cap_s: float = 300.0
    poison_breaks: int = 3  # a job in flight at this many pool breaks is set aside as poison
    # Errors of the object store: "the source is gone" (final) and "try later" (transient).
    not_found_errors: tuple[type[BaseException], ...] = (FileNotFoundError,)
    store_errors: tuple[type[BaseException], ...] = ()
    # Periodic chores of other areas (expire uploads...), run by the reaper.
    housekeeping: tuple[Callable[[], Awaitable[Any]], ...] = ()
    # Observers the server hands in for its metrics (this package knows no metrics library):
    # a successful transcode's result, and the seconds from upload/complete to published.
    on_transcoded: Callable[[Any], None] | None = None
    on_published: Callable[[float], None] | None = None
    # The moderation policy (server glue: actors.moderation.decide with the configured scores):
    # a transcode result -> an object with ``holds`` / ``rejects`` (ports.Moderation), or None: off.
    moderate: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.start_method not in ("spawn", "forkserver"):
            raise ValueError(f"worker start method must be spawn or forkserver, not {self.start_method!r}")

    @property
    def capacity(self) -> int:
        """Jobs held at once: the pool's workers plus as many staged (fetching, publishing)."""
        return self.mailbox_size or 2 * self.workers

    @property
    def heartbeat_s(self) -> float:
        return max(0.2, self.lease_s / 3)

    @property
    def reap_interval_s(self) -> float:
        return max(0.5, min(self.lease_s / 2, 10.0))
