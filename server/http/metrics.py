"""``GET /metrics``: Prometheus exposition (``prometheus-client``) of ``server.metrics.Metrics``.

Served on the API port by default. With ``metrics_port`` it moves to a listener of its own (a
second, one-route app sharing the main app's state), so a firewall can keep it internal; with
``metrics_token`` it answers only ``Authorization: Bearer <token>``. The format follows the
scraper's ``Accept`` (Prometheus text 0.0.4 by default, OpenMetrics when asked).
"""

from __future__ import annotations

import hmac
import socket
from typing import AsyncIterator

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from ..appkeys import DB, METRICS, METRICS_SOCKETS, PIPELINE, READINESS, SETTINGS
from ..db import q
from ..metrics import Metrics, StateSnapshot
from ..metrics.state import pipeline_numbers
from .errors import ApiError, error_middleware
from .request_id import request_id_middleware


# The metrics listener's app points at the app whose numbers it shows.
SOURCE_APP = web.AppKey("metrics_source_app", web.Application)


def check_token(authorization: str, token: str) -> bool:
    """Whether an Authorization header carries the metrics token; pure, constant-time compare."""
    if not token:
        return True
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics(request: web.Request) -> web.Response:
    app = request.app.get(SOURCE_APP, request.app)
    if not check_token(request.headers.get("Authorization", ""), app[SETTINGS].metrics_token):
        raise ApiError(
            401, "invalid_metrics_token", "metrics need Authorization: Bearer <metrics_token>",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    async with app[DB].acquire(timeout=5) as conn:
        rows = await conn.fetch(q("jobs_counts"), timeout=5)
    pipeline = app.get(PIPELINE)
    registry: Metrics = app[METRICS]
    # No await from here to the encoding: a concurrent scrape cannot swap the snapshot midway.
    registry.state.snapshot = StateSnapshot(
        {r["status"]: r["n"] for r in rows},
        app[READINESS].ready,
        pipeline_numbers(pipeline) if pipeline is not None else None,
    )
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(registry.registry), headers={"Content-Type": content_type})


async def metrics_listener_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (with ``metrics_port``): serve /metrics on its own listener for the app's life.
    ``serve`` binds its sockets before anything starts (a busy port fails fast); tests let it bind."""
    settings = app[SETTINGS]
    # The API port's request ids too: an answer here is tagged like any other (and documented so).
    side = web.Application(middlewares=[request_id_middleware, error_middleware])
    side[SOURCE_APP] = app
    side.router.add_get("/metrics", metrics)
    runner = web.AppRunner(side, access_log=None, handle_signals=False)
    await runner.setup()
    socks: list[socket.socket] | None = app.get(METRICS_SOCKETS)
    sites: list[web.BaseSite] = (
        [web.SockSite(runner, sock) for sock in socks] if socks
        else [web.TCPSite(runner, settings.metrics_host or settings.host, settings.metrics_port)]
    )
    try:
        for site in sites:
            await site.start()
        yield
    finally:
        await runner.cleanup()


def add_routes(app: web.Application) -> None:
    """/metrics on the API port, unless ``metrics_port`` moved it (``metrics_listener_ctx``)."""
    if not app[SETTINGS].metrics_port:
        app.router.add_get("/metrics", metrics)
