"""An attacker hammering an account must not lock its owner out; guessing must still be slowed.

Client addresses come from X-Forwarded-For behind a "trusted proxy", as in production behind a load
balancer, so one test process can be many clients.
"""

from __future__ import annotations

import uuid

import pytest

from helpers_auth import KNOWN_PASSWORD, create_verified_user
from server import appkeys
from server.auth import devices

LOGIN = "/api/v1/auth/login"
WRONG = "not the password 1"


@pytest.fixture
def settings(settings):
    return settings.with_overrides(trust_x_forwarded_for=True, rate_limit_ip_per_min=1000,
                                   login_failures_per_address=5, login_failures_per_device=5,
                                   login_failures_per_account=20)


@pytest.fixture
async def owner(client, settings, db_pool) -> uuid.UUID:
    user_id, _ = await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], username="owner")
    return user_id


async def attempt(client, password: str, address: str, device_token: str | None = None, login: str = "owner"):
    """One client's attempt; the test client's cookie jar is emptied so that clients stay apart
    (a browser would send the device cookie by itself: that path is checked once, below)."""
    client.session.cookie_jar.clear()
    body = {"login": login, "password": password}
    if device_token:
        body["device_token"] = device_token
    return await client.post(LOGIN, json=body, headers={"X-Forwarded-For": address})


async def hammer(client, address: str, times: int) -> list[int]:
    return [(await attempt(client, WRONG, address)).status for _ in range(times)]


async def test_an_attacker_from_one_address_locks_out_only_that_address(client, owner) -> None:
    """It locked out everyone: 11 failures a minute from anywhere and the right password got 429."""
    statuses = await hammer(client, "6.6.6.6", 30)
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    right_but_locked = await attempt(client, KNOWN_PASSWORD, "6.6.6.6")
    assert right_but_locked.status == 429, "the attacking address gets no more guesses, right or wrong"
    assert int(right_but_locked.headers["Retry-After"]) >= 1
    resp = await attempt(client, KNOWN_PASSWORD, "7.7.7.7")
    assert resp.status == 200, "the owner, from an address that is not attacking, logs in"


async def test_a_known_device_logs_in_even_from_the_attackers_address(client, owner) -> None:
    first = await attempt(client, KNOWN_PASSWORD, "10.1.1.1")
    device = (await first.json())["device_token"]
    assert devices.read(client.app[appkeys.JWT_KEY], device).user_id == owner
    assert "imagepipe_device" in first.cookies
    cookie = {"Cookie": f"imagepipe_device={first.cookies['imagepipe_device'].value}", "X-Forwarded-For": "10.1.1.1"}
    await hammer(client, "10.1.1.1", 30)  # the same NAT address as the owner, say
    assert (await attempt(client, KNOWN_PASSWORD, "10.1.1.1")).status == 429
    assert (await attempt(client, KNOWN_PASSWORD, "10.1.1.1", device)).status == 200
    client.session.cookie_jar.clear()
    by_cookie = await client.post(LOGIN, json={"login": "owner", "password": KNOWN_PASSWORD}, headers=cookie)
    assert by_cookie.status == 200, "a browser's device cookie counts like the body field"


async def test_distributed_guessing_is_slowed_but_a_known_device_still_gets_in(client, owner) -> None:
    first = await attempt(client, KNOWN_PASSWORD, "10.9.9.9")
    device = (await first.json())["device_token"]
    statuses = [(await attempt(client, WRONG, f"203.0.113.{i}")).status for i in range(40)]
    assert statuses.count(401) == 20 and statuses[20:] == [429] * 20, "20 guesses per window, from anywhere"
    fresh = await attempt(client, KNOWN_PASSWORD, "198.51.100.7")
    assert fresh.status == 429, "while the account is under attack, unknown clients wait"
    assert (await attempt(client, KNOWN_PASSWORD, "198.51.100.7", device)).status == 200


async def test_a_device_token_is_only_good_for_its_own_account(client, settings, db_pool, owner) -> None:
    await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], username="mallory")
    theirs = (await (await attempt(client, KNOWN_PASSWORD, "10.2.2.2", login="mallory")).json())["device_token"]
    await hammer(client, "10.3.3.3", 10)
    assert (await attempt(client, KNOWN_PASSWORD, "10.3.3.3", theirs)).status == 429
    forged = theirs[:-4] + ("AAAA" if not theirs.endswith("AAAA") else "BBBB")
    assert (await attempt(client, KNOWN_PASSWORD, "10.3.3.3", forged)).status == 429


async def test_a_device_that_guesses_is_locked_out_on_its_own(client, owner) -> None:
    device = (await (await attempt(client, KNOWN_PASSWORD, "10.4.4.4")).json())["device_token"]
    statuses = [(await attempt(client, WRONG, "10.4.4.4", device)).status for _ in range(8)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    assert (await attempt(client, KNOWN_PASSWORD, "10.5.5.5")).status == 200, "other clients are unaffected"


async def test_right_passwords_do_not_use_up_the_budget(client, owner) -> None:
    for _ in range(12):
        assert (await attempt(client, KNOWN_PASSWORD, "10.6.6.6")).status == 200


async def test_unknown_accounts_are_limited_the_same_way(client, owner) -> None:
    statuses = [(await attempt(client, WRONG, "10.7.7.7", login="ghost")).status for _ in range(7)]
    assert statuses == [401] * 5 + [429] * 2, "no difference that would tell which accounts exist"
