"""``imagepipe serve``: run the app until SIGTERM/SIGINT, then drain and exit 0."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from .app import create_app
from .config import Settings
from .http.protocol import limits_from, run_app

log = logging.getLogger(__name__)


async def _keep_draining(app: web.Application) -> None:
    """on_shutdown: aiohttp's handlers stay installed until the drain is over, and a second
    SIGTERM/SIGINT would raise GracefulExit in the middle of it (exit 1, leases not released)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, log.warning, "%s received while draining; still draining", sig.name)


def serve(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    app.on_shutdown.append(_keep_draining)
    log.info("imagepipe listening on http://%s:%s (data dir %s)", settings.host, settings.port, settings.data_dir)
    # run_app turns SIGTERM/SIGINT into a graceful exit: on_shutdown (readiness false), then the
    # cleanup contexts in reverse (pipeline drain, storage, pool, embedded PostgreSQL).
    run_app(  # aiohttp's run_app, with connection limits and quiet parse errors
        app,
        limits=limits_from(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        shutdown_timeout=min(settings.drain_timeout_s, 10.0),
        handle_signals=True,
    )
    return 0
