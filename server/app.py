"""The aiohttp application factory.

Start-up and clean-up are paired in ``cleanup_ctx`` (aiohttp's way): each context starts one
component and stops it in reverse order, so on SIGTERM the pipeline drains before storage closes,
storage before the pool, and the pool before the embedded PostgreSQL stops.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

import asyncpg
from aiohttp import web

from . import appkeys
from .config import Settings
from .db import create_pool, migrate
from .db.embedded import start_embedded_async
from .http import error_middleware, request_id_middleware
from .http.request_id import stamp_prepared
from .http import cors, hardening, health, metrics
from .metrics import Metrics
from . import auth, mail
from . import moderation, posts
from . import social
from . import feed
from . import openapi
from .storage import media_routes, store_ctx
from . import web as web_app
from .readiness import Readiness
from .secrets_store import load_or_create_jwt_key

log = logging.getLogger(__name__)

# The largest request body aiohttp buffers for handlers; streamed media uploads bypass it.
CLIENT_MAX_SIZE = 1024 * 1024


def _database_ctx(pool: asyncpg.Pool | None):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[appkeys.SETTINGS]
        if pool is not None:  # tests hand in a pool on a prepared database
            app[appkeys.DB] = pool
            app[appkeys.EMBEDDED_PG] = None
            yield
            return
        embedded = None
        dsn = settings.database_url
        if settings.embedded_db:
            embedded = await start_embedded_async(settings.data_dir / "pg")  # SIGTERM-safe
            dsn = embedded.uri
        app[appkeys.EMBEDDED_PG] = embedded
        try:
            own_pool = await create_pool(dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
            try:
                async with own_pool.acquire() as conn:
                    await migrate(conn)
                app[appkeys.DB] = own_pool
                yield
            finally:
                await asyncio.wait_for(own_pool.close(), timeout=10)
        finally:
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)

    return ctx


async def _readiness_ctx(app: web.Application) -> AsyncIterator[None]:
    # Last in, so its exit runs first: readiness goes false before anything drains.
    app[appkeys.READINESS].clear("starting")
    yield
    app[appkeys.READINESS].block("draining")


async def _on_shutdown(app: web.Application) -> None:
    app[appkeys.READINESS].block("draining")


def create_app(settings: Settings, *, pool: asyncpg.Pool | None = None, pipeline: bool = True) -> web.Application:
    """Build the app. ``pool`` skips the embedded/external database start (tests); ``pipeline=False``
    leaves jobs queued for someone else (API-only tests and instances)."""
    app = web.Application(
        middlewares=[request_id_middleware, cors.cors_middleware, error_middleware],
        client_max_size=CLIENT_MAX_SIZE,
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.READINESS] = Readiness()
    app[appkeys.JWT_KEY] = load_or_create_jwt_key(settings)
    app[appkeys.METRICS] = Metrics()
    cors.setup(app)

    app.cleanup_ctx.append(_database_ctx(pool))
    if settings.metrics_port:  # its own listener, up from the database's start to its stop
        app.cleanup_ctx.append(metrics.metrics_listener_ctx)
    # -- feature contexts (mail, storage, pipeline) are appended here, in start order --
    app.cleanup_ctx.append(mail.mail_ctx)
    app.cleanup_ctx.append(auth.auth_ctx)
    app.cleanup_ctx.append(store_ctx)  # after the database, before the pipeline
    app.cleanup_ctx.append(feed.feed_ctx)  # notification streams: LISTEN, announcements, catch-up poll
    if pipeline:
        from .pipeline_ctx import pipeline_ctx, stop_claiming

        app.cleanup_ctx.append(pipeline_ctx)  # drains before the store and database close
        app.on_shutdown.append(stop_claiming)
    app.cleanup_ctx.append(_readiness_ctx)
    app.on_shutdown.append(_on_shutdown)
    app.on_shutdown.append(feed.close_streams)  # streams end with a retry: hint as the drain starts

    hardening.install(app)  # Server header without versions
    app.on_response_prepare.append(stamp_prepared)  # X-Request-Id on answers handlers stream themselves
    health.add_routes(app)
    metrics.add_routes(app)
    # -- feature routes are added here --
    if settings.storage == "local":  # with S3, clients talk to the bucket/CDN directly
        media_routes.add_routes(app)
    auth.add_routes(app)
    posts.add_routes(app)
    social.add_routes(app)
    feed.add_routes(app)
    moderation.add_routes(app)
    openapi.add_routes(app)
    web_app.add_routes(app)  # GET / and /app/...: exact paths, never a catch-all over the API
    return app
