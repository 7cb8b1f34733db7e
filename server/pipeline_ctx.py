"""Server glue for the pipeline: build it from Settings, run it inside the app's lifetime, drain it
on the way out (SIGTERM), and keep ``/readyz`` truthful while the pool is down or draining.

Appended to ``cleanup_ctx`` after the store (so it stops before the store closes) and skipped by
``create_app(..., pipeline=False)``.
"""

from __future__ import annotations

import logging
from typing import AsyncIterator

from aiohttp import web

from actors.pipeline import Pipeline, PipelineConfig
from . import appkeys
from .config import Settings

log = logging.getLogger(__name__)


def pipeline_config(settings: Settings, pool, store) -> PipelineConfig:  # type: ignore[no-untyped-def]
    from actors.transcode import TranscodeOptions, transcode, worker_init

    from .posts import expire_upload_sessions, purge_deleted_posts
    from .storage import ObjectNotFound, StoreUnavailable

    async def expire_uploads() -> None:
        await expire_upload_sessions(pool, store)

    async def purge_deleted() -> None:
        await purge_deleted_posts(pool, store)

    return PipelineConfig(
        workers=settings.workers,
        start_method=settings.worker_start_method,
        recycle_after=settings.worker_recycle_after,
        vips_concurrency=settings.vips_concurrency,
        job_timeout_s=settings.job_timeout_s,
        lease_s=settings.job_lease_s,
        poll_interval_s=settings.poll_interval_s,
        drain_timeout_s=settings.drain_timeout_s,
        mailbox_size=settings.mailbox_size,
        transcode=transcode,
        transcode_options=TranscodeOptions(
            formats=settings.output_formats,
            max_pixels=settings.max_image_pixels,
            max_frames=settings.max_animation_frames,
            min_side=settings.min_image_side,
            store_gps=settings.store_gps,
        ),
        worker_init=worker_init,
        not_found_errors=(ObjectNotFound,),
        store_errors=(StoreUnavailable,),
        housekeeping=(expire_uploads, purge_deleted),
    )


async def pipeline_ctx(app: web.Application) -> AsyncIterator[None]:
    readiness = app[appkeys.READINESS]

    def report(reason: str, blocked: bool) -> None:
        if blocked:
            readiness.block(reason)
        else:
            readiness.clear(reason)

    pool, store = app[appkeys.DB], app[appkeys.STORE]
    pipeline = Pipeline(pool, store, pipeline_config(app[appkeys.SETTINGS], pool, store), readiness=report)
    await pipeline.start()
    app[appkeys.PIPELINE] = pipeline
    try:
        yield
    finally:
        await pipeline.close()
