"""Regression tests for what the schemathesis run (tests/fuzz_api.py) found, one test per finding."""

from __future__ import annotations

import pytest

from server.app import create_app


@pytest.mark.parametrize("method", ["OPTIONS", "PATCH", "GET"])
async def test_upload_urls_advertise_only_put(aiohttp_client, settings, db_pool, method: str) -> None:
    """The catch-all ``GET /media/{key}`` also matched upload URLs, so 405s there listed GET in
    ``Allow`` (and a GET was answered 404 by the image handler) though only PUT exists."""
    client = await aiohttp_client(create_app(settings, pool=db_pool, pipeline=False))
    resp = await client.request(method, "/media/upload/uploads/u1/p1/source")
    assert resp.status == 405
    assert resp.headers["Allow"] == "PUT"
    assert (await resp.json())["error"]["code"] == "method_not_allowed"
