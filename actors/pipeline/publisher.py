"""The publisher: renditions into the object store, then one transaction that makes them visible.

Order matters for crashes: objects first (same keys on a re-run, so writing twice is harmless),
then post_images upserts + post published + job succeeded together, the job update first and
lease-checked: an instance that lost its lease publishes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.runtime import Actor
from server.db import q
from server.jobs import ClaimedJob

from .config import CONTENT_TYPES, IMMUTABLE, variant_key
from .context import PipelineContext
from .decisions import classify, is_db_transient
from .tracker import PUBLISH
from .transcoder import Publish

log = logging.getLogger("actors.pipeline")

# A database blip during the final transaction is waited out here (the work is done, only the
# write is missing); past this the lease runs out and another run redoes it.
COMMIT_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def post_metadata(result: Any) -> dict[str, Any]:
    """What the post row keeps about the image: extracted facts plus placeholder and colour."""
    return {**(result.metadata or {}), "placeholder": result.placeholder, "dominant_color": result.dominant_color}


class Publisher(Actor):
    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx

    async def on_start(self) -> None:
        dropped = self.ctx.tracker.in_stages(PUBLISH)
        await self.ctx.give_back(dropped, "stage_restarted", "the publish stage restarted")  # type: ignore[arg-type]

    async def receive(self, message: Any) -> None:
        if not isinstance(message, Publish):
            raise ValueError(f"publisher got {message!r}")
        job, result = message.job, message.result
        if not self.ctx.tracker.holds(job):
            return  # given back when a stage restarted; whoever holds it now publishes it
        cfg = self.ctx.config
        try:
            await asyncio.gather(*(
                self.ctx.store.put(variant_key(job.post_id, r.variant, r.format), r.data, CONTENT_TYPES[r.format], IMMUTABLE)
                for r in result.renditions
            ))
        except Exception as exc:
            await self.ctx.settle(job, classify(exc, not_found=cfg.not_found_errors, store_errors=cfg.store_errors))
            return
        try:
            committed = await self._commit_with_retries(job, result)
        except Exception as exc:
            await self.ctx.settle(job, classify(exc))
            return
        self.ctx.tracker.release(job.id, job)
        if committed is None:
            return
        self.ctx.outage_over()
        if committed:
            self.ctx.metrics.jobs_succeeded += 1
        else:
            self.ctx.metrics.jobs_lost += 1
            log.info("job %s was taken over by another instance; not publishing", job.id)

    async def _commit_with_retries(self, job: ClaimedJob, result: Any) -> bool | None:
        """True: published. False: lease lost. None: database still down after the retries."""
        for delay in (*COMMIT_RETRY_DELAYS, None):
            try:
                return await self._commit(job, result)
            except Exception as exc:
                if not is_db_transient(exc):
                    raise
                if delay is None:
                    log.warning("could not publish job %s (%s); its lease will expire and it will run again", job.id, exc)
                    return None
                self.ctx.outage_started()
                await asyncio.sleep(delay)
        return None

    async def _commit(self, job: ClaimedJob, result: Any) -> bool:
        async with self.ctx.queue.pool.acquire() as conn, conn.transaction():
            if not await self.ctx.queue.succeed(conn, job.id, self.ctx.owner):
                return False
            for r in result.renditions:
                await conn.execute(
                    q("pipeline_upsert_image"), job.post_id, r.variant, r.format,
                    variant_key(job.post_id, r.variant, r.format), r.width, r.height, len(r.data), r.quality,
                )
            await conn.execute(q("pipeline_publish_post"), job.post_id, result.width, result.height, post_metadata(result))
            return True
