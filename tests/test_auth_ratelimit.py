"""Rate limits: the window arithmetic alone, then 429 + Retry-After through the real app."""

from __future__ import annotations

import pytest

from helpers_auth import KNOWN_PASSWORD
from server.auth.ratelimit import account_bucket, over_limit, window_for


@pytest.mark.parametrize(
    "now, start, retry_after",
    [
        (0.0, 0, 60),
        (59.0, 0, 1),
        (59.9, 0, 1),  # never "retry in 0 s"
        (60.0, 60, 60),
        (1_700_000_030.5, 1_699_999_980, 10),
    ],
)
def test_window_for(now: float, start: int, retry_after: int) -> None:
    window = window_for(now, 60)
    assert (window.start, window.retry_after) == (start, retry_after)


def test_window_length_is_respected() -> None:
    assert window_for(125.0, 10).start == 120
    assert window_for(125.0, 10).retry_after == 5


def test_over_limit_allows_exactly_the_limit() -> None:
    assert not over_limit(3, 3)
    assert over_limit(4, 3)


def test_account_bucket_ignores_case_and_hides_the_address() -> None:
    assert account_bucket("login", "Alice@Example.org") == account_bucket("login", " alice@example.org ")
    assert "alice" not in account_bucket("login", "alice@example.org")
    assert account_bucket("login", "a") != account_bucket("register", "a")


@pytest.fixture
def settings(settings):
    return settings.with_overrides(rate_limit_ip_per_min=5, rate_limit_account_per_min=3, login_failures_per_address=3,
                                   login_lockout_window_s=60)


async def assert_limited(resp) -> None:
    assert resp.status == 429, await resp.text()
    assert (await resp.json())["error"]["code"] == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60


async def test_failed_logins_are_limited_per_account_and_address(client, db_pool) -> None:
    for _ in range(3):
        resp = await client.post("/api/v1/auth/login", json={"login": "victim", "password": "wrong password"})
        assert resp.status == 401
    await assert_limited(await client.post("/api/v1/auth/login", json={"login": "VICTIM", "password": "wrong password"}))
    # A different account from the same IP still gets through (IP limit is 5).
    resp = await client.post("/api/v1/auth/login", json={"login": "someone", "password": "wrong password"})
    assert resp.status == 401
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM rate_limit_counters WHERE bucket LIKE '%victim%'") == 0


async def test_login_is_limited_per_ip(client) -> None:
    for i in range(5):
        resp = await client.post("/api/v1/auth/login", json={"login": f"user{i}", "password": "wrong password"})
        assert resp.status == 401
    await assert_limited(await client.post("/api/v1/auth/login", json={"login": "fresh", "password": "wrong password"}))


async def test_register_is_limited_and_the_refused_attempt_creates_nothing(client, db_pool) -> None:
    for i in range(5):
        body = {"email": f"u{i}@example.org", "username": f"user_{i}", "password": KNOWN_PASSWORD}
        assert (await client.post("/api/v1/auth/register", json=body)).status == 201
    body = {"email": "u9@example.org", "username": "user_9", "password": KNOWN_PASSWORD}
    await assert_limited(await client.post("/api/v1/auth/register", json=body))
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users") == 5


async def test_forwarded_for_is_ignored_by_default(client) -> None:
    for i in range(5):
        headers = {"X-Forwarded-For": f"10.0.0.{i}"}
        await client.post("/api/v1/auth/login", json={"login": f"user{i}", "password": "wrong password"}, headers=headers)
    resp = await client.post(
        "/api/v1/auth/login", json={"login": "x", "password": "wrong password"}, headers={"X-Forwarded-For": "10.9.9.9"}
    )
    await assert_limited(resp)


class TestBehindATrustedProxy:
    @pytest.fixture
    def settings(self, settings):
        return settings.with_overrides(trust_x_forwarded_for=True, rate_limit_ip_per_min=2)

    async def test_the_proxys_last_hop_is_the_client(self, client) -> None:
        async def attempt(forwarded: str):
            return await client.post(
                "/api/v1/auth/login", json={"login": forwarded, "password": "wrong password"},
                headers={"X-Forwarded-For": forwarded},
            )

        for _ in range(2):
            assert (await attempt("6.6.6.6, 10.0.0.1")).status == 401
        await assert_limited(await attempt("7.7.7.7, 10.0.0.1"))  # spoofed first hop changes nothing
        assert (await attempt("10.0.0.2")).status == 401, "another client has its own budget"
