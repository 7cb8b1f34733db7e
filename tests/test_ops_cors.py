"""``cors_origins``: preflights and real answers through the real app, as a browser sends them."""

from __future__ import annotations

import asyncpg
import pytest

from server.app import create_app
from server.config import ConfigError, Settings, load_settings
from server.http.cors import decide_preflight

APP = "https://app.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture
async def cors_client(aiohttp_client, settings: Settings, db_pool: asyncpg.Pool):  # type: ignore[no-untyped-def]
    app = create_app(settings.with_overrides(cors_origins=(APP, "http://localhost:5173")), pool=db_pool, pipeline=False)
    return await aiohttp_client(app)


def preflight(method: str, origin: str = APP, headers: str = "authorization, content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


async def test_preflight_from_a_listed_origin_is_granted(cors_client) -> None:  # type: ignore[no-untyped-def]
    resp = await cors_client.options("/api/v1/posts/upload/init", headers=preflight("POST"))
    assert resp.status == 204, await resp.text()
    h = resp.headers
    assert h["Access-Control-Allow-Origin"] == APP
    assert h["Access-Control-Allow-Methods"] == "POST"
    assert h["Access-Control-Allow-Headers"] == "authorization, content-type"
    assert int(h["Access-Control-Max-Age"]) > 0 and "Origin" in h["Vary"]
    assert "Access-Control-Allow-Credentials" not in h  # Bearer tokens, never cookies


async def test_preflight_for_a_local_mode_upload_put(cors_client) -> None:  # type: ignore[no-untyped-def]
    resp = await cors_client.options("/media/upload/uploads/u/p/source", headers=preflight("PUT", headers="content-type"))
    assert resp.status == 204 and "PUT" in resp.headers["Access-Control-Allow-Methods"].split(", ")
    assert resp.headers["Access-Control-Allow-Headers"] == "content-type"
    resp = await cors_client.options("/api/v1/posts/abc", headers=preflight("DELETE", origin="http://localhost:5173"))
    assert resp.status == 204 and resp.headers["Access-Control-Allow-Methods"] == "DELETE, GET, HEAD"


async def test_preflight_from_another_origin_is_refused(cors_client) -> None:  # type: ignore[no-untyped-def]
    resp = await cors_client.options("/api/v1/auth/login", headers=preflight("POST", origin=OTHER))
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "cors_origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_preflight_for_a_method_the_path_lacks(cors_client) -> None:  # type: ignore[no-untyped-def]
    resp = await cors_client.options("/api/v1/auth/login", headers=preflight("DELETE"))
    assert resp.status == 405 and resp.headers["Allow"] == "POST"
    assert (await resp.json())["error"]["code"] == "cors_method_not_allowed"
    unknown = await cors_client.options("/no/such/path", headers=preflight("GET"))
    assert unknown.status == 404


async def test_real_answers_let_the_listed_origin_read_them(cors_client) -> None:  # type: ignore[no-untyped-def]
    resp = await cors_client.post("/api/v1/auth/login", json={"login": "nobody", "password": "x" * 12},
                                  headers={"Origin": APP})
    assert resp.status == 401  # an error, and the page must still be able to read why
    assert resp.headers["Access-Control-Allow-Origin"] == APP
    assert "X-Request-Id" in resp.headers["Access-Control-Expose-Headers"]
    assert "Origin" in resp.headers["Vary"]
    other = await cors_client.get("/healthz", headers={"Origin": OTHER})
    assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]


async def test_no_origin_is_allowed_by_default(client) -> None:  # type: ignore[no-untyped-def]
    resp = await client.options("/api/v1/auth/login", headers=preflight("POST"))
    assert resp.status == 403 and "Access-Control-Allow-Origin" not in resp.headers
    plain = await client.get("/healthz", headers={"Origin": APP})
    assert "Access-Control-Allow-Origin" not in plain.headers and "Vary" not in plain.headers


async def test_a_refused_preflight_changes_nothing(cors_client, db_pool: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    resp = await cors_client.options("/api/v1/auth/register", headers=preflight("POST", origin=OTHER))
    assert resp.status == 403
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users") == 0


def test_wildcard_and_header_rules() -> None:
    assert decide_preflight(OTHER, ("*",), "GET", "", ["GET", "HEAD"]).status == 204
    assert decide_preflight(APP, (APP,), "GET", "x-ok, bad header", ["GET"]).code == "cors_bad_headers"
    assert decide_preflight(APP.upper(), (APP,), "get", "", ["GET"]).status == 204  # origins are case-blind


def test_origins_are_checked_at_start_up() -> None:
    ok = load_settings(cli={"cors_origins": "https://App.example.com, http://localhost:5173"}, environ={})
    assert ok.cors_origins == ("https://app.example.com", "http://localhost:5173")
    for bad in ("app.example.com", "https://app.example.com/", "https://app.example.com/path", "ftp://x"):
        with pytest.raises(ConfigError, match="cors_origins"):
            load_settings(cli={"cors_origins": bad}, environ={})
