"""The publisher: renditions into the object store, then one transaction that makes them visible.

Published objects are immutable: each claim writes under a prefix of its own
(``posts/{post}/{claim}/``), so a holder that was fenced out, or an older attempt that resumes late,
can never overwrite bytes a post already points at (and a CDN caching them for a year never sees a
key change content). Order matters for crashes: the claim's writes are recorded first (so a claim
that never publishes is swept), then the objects, then one fenced transaction: job succeeded, image
rows, post published. A claim that lost its job, or whose post was deleted meanwhile, removes what
it wrote at once.

With moderation on (``PipelineConfig.moderate``), its decision on the result comes first: a post
held for review is written under ``held/`` and committed as held; a rejected one writes nothing and
is committed as failed, its scores kept. Either way in the same fenced transaction.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.runtime import Actor

from .config import CONTENT_TYPES, IMMUTABLE, claim_prefix, variant_key
from .context import PipelineContext
from .decisions import classify, is_db_transient
from .ports import ClaimedJob, Published, PublishOutcome, StoredImage
from .tracker import PUBLISH
from .transcoder import Publish

log = logging.getLogger("actors.pipeline")

# A database blip during the final transaction is waited out here (the work is done, only the
# write is missing); past this the lease runs out and another run redoes it.
COMMIT_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def post_metadata(result: Any) -> dict[str, Any]:
    """What the post row keeps about the image: extracted facts plus placeholder and colour."""
    return {**(result.metadata or {}), "placeholder": result.placeholder, "dominant_color": result.dominant_color}


def stored_images(job: ClaimedJob, result: Any, *, held: bool = False) -> list[StoredImage]:
    return [
        StoredImage(r.variant, r.format, variant_key(job.post_id, job.claim, r.variant, r.format, held=held),
                    r.width, r.height, len(r.data), r.quality)
        for r in result.renditions
    ]


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
        moderation = cfg.moderate(result) if cfg.moderate is not None else None
        rejected = moderation is not None and moderation.rejects
        images = [] if rejected else stored_images(job, result, held=moderation is not None and moderation.holds)
        try:
            if images:
                await self.ctx.queue.record_writes(job)
            await asyncio.gather(*(
                self.ctx.store.put(image.key, r.data, CONTENT_TYPES[r.format], IMMUTABLE)
                for image, r in zip(images, result.renditions)
            ))
        except Exception as exc:
            if is_db_transient(exc):
                self.ctx.db_unreachable()
            await self.ctx.settle(job, classify(exc, not_found=cfg.not_found_errors, store_errors=cfg.store_errors))
            return
        try:
            published = await self._commit_with_retries(job, images, result, moderation)
        except Exception as exc:
            await self.ctx.settle(job, classify(exc))
            return
        self.ctx.tracker.release(job.id, job)
        if published is None:
            return
        self.ctx.outage_over()
        outcome = published.outcome
        if outcome is Published.PUBLISHED:
            self.ctx.metrics.jobs_succeeded += 1
            self.ctx.observe(self.ctx.config.on_published, published.queued_for_s)  # visible now
            return
        if outcome is Published.HELD:
            self.ctx.metrics.jobs_succeeded += 1
            log.info("post %s is held for review by moderation", job.post_id)
            return
        if outcome is Published.REJECTED:
            self.ctx.metrics.jobs_failed += 1
            log.info("post %s was rejected by moderation", job.post_id)
            return
        if outcome is Published.LOST:
            self.ctx.metrics.jobs_lost += 1
            log.info("job %s was claimed again elsewhere; not publishing claim %s", job.id, job.claim)
        else:
            log.info("post %s was deleted while it was processed; not publishing it", job.post_id)
        await self._remove_own_objects(job)

    async def _remove_own_objects(self, job: ClaimedJob) -> None:
        """Nothing will ever point at what this claim wrote: remove it now rather than at the sweep."""
        try:
            for held in (False, True):
                await self.ctx.store.delete_prefix(claim_prefix(job.post_id, job.claim, held=held))
            await self.ctx.queue.forget_writes(job)
        except Exception as exc:  # the sweep will do it
            log.warning("could not remove the objects of claim %s now (%s); the sweep will", job.claim, exc)

    async def _commit_with_retries(
        self, job: ClaimedJob, images: list[StoredImage], result: Any, moderation: Any = None,
    ) -> PublishOutcome | None:
        """The publish outcome, or None if the database is still down after the retries."""
        for delay in (*COMMIT_RETRY_DELAYS, None):
            try:
                return await self.ctx.queue.publish(job, images, result.width, result.height, post_metadata(result),
                                                    moderation)
            except Exception as exc:
                if not is_db_transient(exc):
                    raise
                self.ctx.db_unreachable()
                if delay is None:
                    log.warning("could not publish job %s (%s); its lease will expire and it will run again", job.id, exc)
                    return None
                self.ctx.outage_started()
                await asyncio.sleep(delay)
        return None
