"""Revocation is immediate on every instance, and costs no database round trip per request.

Two app instances share one PostgreSQL, as two `serve` processes behind a load balancer would. The
instance that revokes refuses the token at once; another instance hears of it by NOTIFY, which
PostgreSQL sends to every listener at the same commit: within milliseconds, not when the access
token expires 15 minutes later. ``PROPAGATION_S`` bounds that delay generously (it is a test of
the mechanism, not a timing benchmark).
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from helpers_auth import KNOWN_PASSWORD, create_verified_user
from server import appkeys
from server.app import create_app
from server.auth.revocation import REVOCATIONS

ME = "/api/v1/auth/me"
PROPAGATION_S = 0.5
LOGIN = "/api/v1/auth/login"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client, username: str) -> dict:
    resp = await client.post(LOGIN, json={"login": username, "password": KNOWN_PASSWORD})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def wait_live(app, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not app[REVOCATIONS].live:
        assert time.monotonic() < deadline, "the revocation listener never came up"
        await asyncio.sleep(0.02)


async def refused_code(client, token: str) -> str | None:
    resp = await client.get(ME, headers=bearer(token))
    if resp.status == 200:
        return None
    assert resp.status == 401, await resp.text()
    return (await resp.json())["error"]["code"]


async def refused_soon(client, token: str) -> str | None:
    """The refusal code once the other instance has heard; None if it never refuses in time."""
    deadline = time.monotonic() + PROPAGATION_S
    while True:
        code = await refused_code(client, token)
        if code is not None or time.monotonic() > deadline:
            return code
        await asyncio.sleep(0.005)


@pytest.fixture
async def two(aiohttp_client, settings, db_pool):
    """Two instances of the app on one database."""
    clients = []
    for _ in range(2):
        app = create_app(settings, pool=db_pool, pipeline=False)
        clients.append(await aiohttp_client(app))
    for c in clients:
        await wait_live(c.app)
    await create_verified_user(db_pool, settings, clients[0].app[appkeys.JWT_KEY], username="erin")
    await create_verified_user(db_pool, settings, clients[0].app[appkeys.JWT_KEY], username="frank")
    return clients


async def test_log_out_everywhere_kills_every_access_token_on_every_instance_at_once(two) -> None:
    a, b = two
    phone, laptop, other = await login(a, "erin"), await login(b, "erin"), await login(b, "frank")
    for client in (a, b):
        assert await refused_code(client, laptop["access_token"]) is None
    assert (await a.post("/api/v1/auth/logout", headers=bearer(phone["access_token"]))).status == 204
    assert await refused_code(a, laptop["access_token"]) == "invalid_token", "at once where it was revoked"
    assert await refused_soon(b, laptop["access_token"]) == "invalid_token", "b hears it through PostgreSQL"
    for client in (a, b):
        assert await refused_code(client, laptop["access_token"]) == "invalid_token"
        assert await refused_code(client, phone["access_token"]) == "invalid_token"
        assert await refused_code(client, other["access_token"]) is None, "another account is untouched"


async def test_refresh_reuse_kills_that_logins_access_tokens_everywhere(two) -> None:
    a, b = two
    first, elsewhere = await login(a, "erin"), await login(a, "erin")
    newest = await (await a.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    reused = await b.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status == 401 and (await reused.json())["error"]["code"] == "token_reused"
    assert await refused_code(b, newest["access_token"]) == "invalid_token"
    assert await refused_soon(a, newest["access_token"]) == "invalid_token"
    for client in (a, b):
        assert await refused_code(client, newest["access_token"]) == "invalid_token"
        assert await refused_code(client, first["access_token"]) == "invalid_token"
        assert await refused_code(client, elsewhere["access_token"]) is None, "the other login is not the thief's"


async def test_single_logout_kills_only_its_own_login(two) -> None:
    a, b = two
    mine, other_device = await login(a, "erin"), await login(a, "erin")
    resp = await a.post("/api/v1/auth/logout", json={"refresh_token": mine["refresh_token"]},
                        headers=bearer(mine["access_token"]))
    assert resp.status == 204
    assert await refused_soon(b, mine["access_token"]) == "invalid_token"
    assert await refused_code(b, other_device["access_token"]) is None


async def test_a_deleted_accounts_tokens_are_refused_everywhere(two, db_pool) -> None:
    a, b = two
    tokens = await login(a, "erin")
    async with db_pool.acquire() as conn:
        await conn.execute("DELETE FROM users WHERE username = 'erin'")
    deadline = time.monotonic() + PROPAGATION_S
    while True:
        resp = await b.delete("/api/v1/posts/00000000-0000-0000-0000-000000000000",
                              headers=bearer(tokens["access_token"]))
        if resp.status != 404 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.005)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "invalid_token"


class TestHotPath:
    @pytest.fixture
    async def counted(self, aiohttp_client, settings, db_dsn):
        """The app on a pool whose every query is recorded."""
        queries: list[str] = []

        async def init(conn: asyncpg.Connection) -> None:
            conn.add_query_logger(lambda record: queries.append(record.query))

        pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=4, init=init)
        client = await aiohttp_client(create_app(settings, pool=pool, pipeline=False))
        await wait_live(client.app)
        yield client, queries
        await client.close()
        await pool.close()

    async def test_checking_a_token_for_revocation_asks_no_database(self, counted, settings) -> None:
        client, queries = counted
        await create_verified_user(client.app[appkeys.DB], settings, client.app[appkeys.JWT_KEY], username="gina")
        token = (await login(client, "gina"))["access_token"]
        queries.clear()
        for _ in range(20):
            assert (await client.get(ME, headers=bearer(token))).status == 200
        # /me itself reads the account twice (verified?, then the row); nothing else may be asked.
        asked = [sql for sql in queries if not sql.startswith("SELECT pg_advisory_unlock_all")]  # pool reset
        assert len(asked) == 40, asked[:6]
        assert not [sql for sql in queries if "revo" in sql]

    async def test_while_not_listening_tokens_are_checked_in_the_database(self, counted, settings, pg_server) -> None:
        client, queries = counted
        await create_verified_user(client.app[appkeys.DB], settings, client.app[appkeys.JWT_KEY], username="hank")
        first, second = await login(client, "hank"), await login(client, "hank")
        admin = await asyncpg.connect(pg_server.uri)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                "imagepipe-revocations")
        finally:
            await admin.close()
        assert killed == 1
        deadline = time.monotonic() + 5
        while client.app[REVOCATIONS].live:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        async with client.app[appkeys.DB].acquire() as conn:  # as another instance would: no NOTIFY heard
            await conn.execute("UPDATE refresh_token_families SET revoked_at = now() WHERE user_id ="
                               " (SELECT id FROM users WHERE username = 'hank')")
        assert await refused_code(client, first["access_token"]) == "invalid_token"
        await wait_live(client.app)  # it reconnects and reloads on its own
        assert await refused_code(client, second["access_token"]) == "invalid_token"
