"""Regression tests for what the schemathesis run (tests/fuzz_api.py) found, one test per finding."""

from __future__ import annotations

import pytest

from helpers_posts import local_api  # noqa: F401  (fixture)
from helpers_social import social  # noqa: F401  (fixture)
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


@pytest.mark.parametrize("path, body", [
    ("/api/v1/auth/login", '{"login": "a\\ud800b", "password": "long enough password"}'),
    ("/api/v1/auth/register", '{"email": "a@example.org", "username": "abc", "password": "\\ud800aaaaaaaaaa"}'),
    ("/api/v1/auth/verify-email", '{"token": "\\udfff"}'),
    ("/api/v1/auth/refresh", '{"refresh_token": "\\ud800"}'),
])
async def test_lone_surrogate_escapes_are_invalid_json(client, db_pool, path: str, body: str) -> None:
    """``"\\ud800"`` is valid JSON syntax but decodes to a string no UTF-8 encoder takes: asyncpg,
    hashlib and bcrypt raised, a 500 with a logged traceback per request."""
    resp = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_json"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users") == 0


async def test_lone_surrogate_in_an_upload_caption_is_invalid_json(local_api) -> None:
    resp = await local_api.client.post(
        "/api/v1/posts/upload/init", headers={**local_api.auth(), "Content-Type": "application/json"},
        data='{"filename": "a.jpg", "content_type": "image/jpeg", "file_size": 10, "caption": "\\ud800"}')
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    assert (await local_api.counts())["posts"] == 0


async def test_nul_in_login_is_invalid_login(client) -> None:
    """PostgreSQL text cannot hold NUL, so the account lookup raised: a 500 for any client."""
    resp = await client.post("/api/v1/auth/login", json={"login": "ali\u0000ce", "password": "long enough password"})
    assert resp.status == 400
    body = await resp.json()
    assert body["error"]["code"] == "invalid_login" and body["error"]["details"]["field"] == "login"


async def test_the_notification_stream_carries_its_request_id(social) -> None:
    """The stream is the one answer its handler sends itself (prepared before it returns), so the
    request-id middleware set X-Request-Id too late: the 200 went out without the header every
    answer carries."""
    alice = await social.account()
    for sent in ({}, {"X-Request-Id": "client-chosen.1"}):
        resp = await social.client.get("/api/v1/notifications/stream", headers={**alice.auth, **sent})
        try:
            assert resp.status == 200 and resp.content_type == "text/event-stream"
            got = resp.headers.get("X-Request-Id")
            assert got and got == sent.get("X-Request-Id", got), dict(resp.headers)
        finally:
            resp.close()
