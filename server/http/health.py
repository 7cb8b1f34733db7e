"""Liveness and readiness: alive means the loop answers; ready means every component says so."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import DB, READINESS


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    readiness = request.app[READINESS]
    reasons = readiness.reasons
    if not reasons:
        try:
            async with request.app[DB].acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1", timeout=2)
        except Exception:
            reasons = ["database_unreachable"]
    if reasons:
        return web.json_response({"status": "not_ready", "reasons": reasons}, status=503)
    return web.json_response({"status": "ready"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
