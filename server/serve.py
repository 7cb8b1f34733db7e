"""``imagepipe serve``: run the app until SIGTERM/SIGINT, then drain and exit 0."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web

from . import appkeys
from .app import create_app
from .config import Settings
from .exit_guard import EXIT_GRACE_S, arm_exit_deadline, leave_when_threads_done
from .http.access_log import runner_kwargs
from .http.protocol import limits_from, run_app
from .startup import EXIT_PORT_BUSY, ListenError, announce_ready, bind_listeners

log = logging.getLogger(__name__)


async def _keep_draining(app: web.Application) -> None:
    """on_shutdown: aiohttp's handlers stay installed until the drain is over, and a second
    SIGTERM/SIGINT would raise GracefulExit in the middle of it (exit 1, leases not released)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, log.warning, "%s received while draining; still draining", sig.name)
    arm_exit_deadline(app[appkeys.SETTINGS].drain_timeout_s + EXIT_GRACE_S)


def serve(settings: Settings) -> int:
    try:
        listeners = bind_listeners(settings)  # first: a busy port costs nothing else
    except ListenError as exc:
        print(f"imagepipe: {exc}", file=sys.stderr)
        return EXIT_PORT_BUSY
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    if listeners.metrics is not None:
        app[appkeys.METRICS_SOCKETS] = listeners.metrics
    exit_code = 0

    def fatal(code: int) -> None:
        """Shut down as SIGTERM would (drain, hand leases back), then exit with ``code``."""
        nonlocal exit_code
        log.error("shutting down with exit code %d", code)
        exit_code = code
        signal.raise_signal(signal.SIGTERM)

    app[appkeys.FATAL] = fatal
    app.on_shutdown.append(_keep_draining)
    # run_app turns SIGTERM/SIGINT into a graceful exit: on_shutdown (readiness false), then the
    # cleanup contexts in reverse (pipeline drain, storage, pool, embedded PostgreSQL). It calls
    # print once, after start-up finished and the sockets listen: that is the "ready" line.
    run_app(  # aiohttp's run_app, with connection limits and quiet parse errors
        app,
        limits=limits_from(settings),
        sock=listeners.api,
        print=announce_ready(settings, listeners),
        shutdown_timeout=min(settings.drain_timeout_s, 10.0),
        handle_signals=True,
        **runner_kwargs(app[appkeys.METRICS]),
    )
    leave_when_threads_done(exit_code)
    return exit_code
