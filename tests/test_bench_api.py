"""The bench's API calls over real HTTP (a tiny aiohttp server): busy answers are waited out,
errors quote the server's code."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from native_bench.api import call
from native_bench.errors import BenchError


async def test_call_waits_out_retry_after_then_quotes_errors(aiohttp_server) -> None:
    hits = {"busy": 0}

    async def busy_twice(request: web.Request) -> web.Response:
        hits["busy"] += 1
        if hits["busy"] == 1:
            return web.json_response({"error": {"code": "rate_limited", "message": "slow down"}}, status=429,
                                     headers={"Retry-After": "0"})
        if hits["busy"] == 2:
            return web.json_response({"error": {"code": "backlog_full", "message": "later"}}, status=503,
                                     headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
        return web.json_response({"ok": True}, status=201)

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "invalid_email", "message": "no"}}, status=400)

    app = web.Application()
    app.router.add_post("/busy", busy_twice)
    app.router.add_post("/refuse", refuse)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        assert await call(session, "POST", str(server.make_url("/busy")), "busy", 201, json={}) == {"ok": True}
        assert hits["busy"] == 3
        with pytest.raises(BenchError, match="register: HTTP 400 invalid_email: no"):
            await call(session, "POST", str(server.make_url("/refuse")), "register", 201, json={})
