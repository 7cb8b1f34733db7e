"""Server glue for the pipeline: build it from Settings, run it inside the app's lifetime, drain it
on the way out (SIGTERM), and keep ``/readyz`` truthful while the pool is down or draining.

Appended to ``cleanup_ctx`` after the store (so it stops before the store closes) and skipped by
``create_app(..., pipeline=False)``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import uuid
from pathlib import Path
from typing import AsyncIterator, IO

from aiohttp import web

from actors.pipeline import Pipeline, PipelineConfig
from . import appkeys
from .config import Settings
from .jobs import JobListener, JobQueue

log = logging.getLogger(__name__)

# ``serve``'s exit code when the pipeline gave up after repeated failures (systemd restarts it).
EXIT_PIPELINE_FAILED = 3


def instance_prefix(data_dir: Path) -> str:
    """Lease owners of every life of the instance on this data dir start with this: host and a
    random id kept in ``<data-dir>/instance-id``."""
    path = data_dir / "instance-id"
    if not path.exists():
        path.write_text(uuid.uuid4().hex + "\n")
    return f"{socket.gethostname()}/{path.read_text().strip()}/"


def lock_data_dir(data_dir: Path) -> IO[str] | None:
    """An exclusive lock held for the process's life (the kernel drops it even on SIGKILL). Holding
    it proves no other live process runs a pipeline on this data dir, so leases still held under
    our instance prefix belong to a dead predecessor. None when another process holds it."""
    handle = open(data_dir / "pipeline.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def lease_owner(data_dir: Path, locked: bool) -> str:
    """This process life's lease owner name. Only the holder of the data dir's lock names its
    leases under the data dir's prefix: a successor that takes the lock reaps that prefix as its
    dead predecessor's, and a live sibling on the same data dir (two local-store instances share
    one) that had used it would lose its jobs mid-work. Its leases simply expire if it dies."""
    prefix = instance_prefix(data_dir) if locked else f"{socket.gethostname()}/unlocked-{uuid.uuid4().hex}/"
    return f"{prefix}{os.getpid()}:{uuid.uuid4().hex[:8]}"


def transcode_options(settings: Settings):  # type: ignore[no-untyped-def]
    """The transcode options these settings ask for; the pipeline and ``bench codec`` share them."""
    from actors.transcode import TranscodeOptions, VariantSpec

    from .config import parse_variants

    return TranscodeOptions(
        variants=tuple(VariantSpec(*fields) for fields in parse_variants(settings.variants)),
        quality_floor=settings.quality_floor,
        formats=tuple(settings.output_formats),
        max_pixels=settings.max_image_pixels,
        max_frames=settings.max_animation_frames,
        min_side=settings.min_image_side,
        store_gps=settings.store_gps,
    )


def store_io_timeout_s(settings: Settings) -> float:
    """The longest one object-store call can take before it fails on its own: every attempt
    timing out on connect and on read (the local store answers far sooner)."""
    return settings.s3_max_attempts * (settings.s3_connect_timeout_s + settings.s3_read_timeout_s)


def pipeline_config(settings: Settings, pool, store, owner: str, metrics=None) -> PipelineConfig:  # type: ignore[no-untyped-def]
    from actors.transcode import transcode, worker_init

    from .jobs.housekeeping import prune_succeeded_jobs, sweep_unpublished_writes
    from .posts import expire_upload_sessions, purge_deleted_posts
    from .storage import ObjectNotFound, StoreUnavailable

    queue = JobQueue(pool)
    io_timeout_s = store_io_timeout_s(settings)

    async def expire_uploads() -> None:
        await expire_upload_sessions(pool, store)

    async def purge_deleted() -> None:
        await purge_deleted_posts(pool, store)

    async def sweep_superseded() -> None:
        # A fenced claim removes its own objects as soon as its commit is refused; waiting a lease
        # and a store timeout first leaves it the time to, and to finish a put it had started.
        await sweep_unpublished_writes(queue, store, settings.job_lease_s + io_timeout_s)

    async def prune_jobs() -> None:
        await prune_succeeded_jobs(queue, settings.job_retention_days)

    return PipelineConfig(
        workers=settings.workers,
        start_method=settings.worker_start_method,
        recycle_after=settings.worker_recycle_after,
        vips_concurrency=settings.vips_concurrency,
        job_timeout_s=settings.job_timeout_s,
        lease_s=settings.job_lease_s,
        poll_interval_s=settings.poll_interval_s,
        drain_timeout_s=settings.drain_timeout_s,
        io_timeout_s=io_timeout_s,
        mailbox_size=settings.mailbox_size,
        transcode=transcode,
        transcode_options=transcode_options(settings),
        worker_init=worker_init,
        not_found_errors=(ObjectNotFound,),
        store_errors=(StoreUnavailable,),
        housekeeping=(expire_uploads, purge_deleted, sweep_superseded, prune_jobs),
        owner=owner,
        on_transcoded=metrics.observe_transcode if metrics is not None else None,
        on_published=metrics.observe_published if metrics is not None else None,
    )


async def pipeline_ctx(app: web.Application) -> AsyncIterator[None]:
    readiness = app[appkeys.READINESS]

    def report(reason: str, blocked: bool) -> None:
        if blocked:
            readiness.block(reason)
        else:
            readiness.clear(reason)

    settings = app[appkeys.SETTINGS]
    pool, store = app[appkeys.DB], app[appkeys.STORE]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    prefix = instance_prefix(settings.data_dir)
    lock = lock_data_dir(settings.data_dir)
    owner = lease_owner(settings.data_dir, lock is not None)
    fatal = app.get(appkeys.FATAL)
    config = pipeline_config(settings, pool, store, owner, app.get(appkeys.METRICS))
    pipeline = Pipeline(
        JobQueue(pool), JobListener(pool), store, config, readiness=report,
        on_failed=(lambda: fatal(EXIT_PIPELINE_FAILED)) if fatal is not None else None,
    )
    try:
        if lock is not None:
            # After a crash (SIGKILL, power cut) our old leases would block their jobs until they
            # expire; the lock proves their owner is dead, so they go back to the queue now.
            recovered = await pipeline.queue.reap(prefix)
            if recovered:
                log.info("took back jobs held when this instance last stopped: %s", recovered)
        await pipeline.start()
        app[appkeys.PIPELINE] = pipeline
        try:
            yield
        finally:
            await pipeline.close()
    finally:
        if lock is not None:
            lock.close()


async def stop_claiming(app: web.Application) -> None:
    """on_shutdown: SIGTERM means no new claims right away, not after HTTP has wound down."""
    pipeline = app.get(appkeys.PIPELINE)
    if pipeline is not None:
        pipeline.stop_claiming()
