"""Health endpoints and the error shape, through the real app on a real database."""

from __future__ import annotations


async def test_healthz_and_readyz(client) -> None:
    alive = await client.get("/healthz")
    assert alive.status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()
    assert (await ready.json())["status"] == "ready"


async def test_unknown_route_is_json_404_with_request_id(client) -> None:
    resp = await client.get("/nope", headers={"X-Request-Id": "abc-123"})
    assert resp.status == 404
    assert resp.headers["X-Request-Id"] == "abc-123"
    body = await resp.json()
    assert body["error"]["code"] == "not_found"


async def test_wrong_method_is_json_405(client) -> None:
    resp = await client.post("/healthz")
    assert resp.status == 405
    assert (await resp.json())["error"]["code"] == "method_not_allowed"
    assert resp.headers.get("X-Request-Id")
