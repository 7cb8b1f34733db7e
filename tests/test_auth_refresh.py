"""Refresh-token rotation, reuse detection and logout, through the real app."""

from __future__ import annotations

import asyncio

from helpers_auth import KNOWN_PASSWORD, create_verified_user, register_and_login
from server import appkeys

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refresh(client, token: str):
    return await client.post(REFRESH, json={"refresh_token": token})


async def code_of(resp) -> str:
    return (await resp.json())["error"]["code"]


async def login(client, settings, db_pool, username: str = "erin") -> dict:
    await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], username=username)
    resp = await client.post("/api/v1/auth/login", json={"login": username, "password": KNOWN_PASSWORD})
    assert resp.status == 200
    return await resp.json()


async def test_refresh_rotates_within_the_family(client, settings, db_pool) -> None:
    first = await login(client, settings, db_pool)
    resp = await refresh(client, first["refresh_token"])
    assert resp.status == 200
    second = await resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await client.get(ME, headers=bearer(second["access_token"]))).status == 200
    async with db_pool.acquire() as conn:
        families = await conn.fetchval("SELECT count(DISTINCT family_id) FROM refresh_tokens")
        rotated = await conn.fetchval("SELECT count(*) FROM refresh_tokens WHERE rotated_at IS NOT NULL")
        raw = await conn.fetch("SELECT token_hash FROM refresh_tokens")
    assert (families, rotated) == (1, 1)
    assert all(second["refresh_token"].encode() not in r["token_hash"] for r in raw), "only hashes stored"
    third = await refresh(client, second["refresh_token"])
    assert third.status == 200


async def test_reuse_of_a_rotated_token_revokes_the_whole_family(client, settings, db_pool) -> None:
    first = await login(client, settings, db_pool)
    other_login = await (await client.post("/api/v1/auth/login", json={"login": "erin", "password": KNOWN_PASSWORD})).json()
    newest = await (await refresh(client, first["refresh_token"])).json()
    reused = await refresh(client, first["refresh_token"])
    assert reused.status == 401 and await code_of(reused) == "token_reused"
    after = await refresh(client, newest["refresh_token"])
    assert after.status == 401 and await code_of(after) == "invalid_token", "the newest token died with its family"
    assert (await refresh(client, other_login["refresh_token"])).status == 200, "another login is untouched"


async def test_concurrent_refreshes_with_one_token_cannot_both_succeed(client, settings, db_pool) -> None:
    tokens = await login(client, settings, db_pool)
    responses = await asyncio.gather(*(refresh(client, tokens["refresh_token"]) for _ in range(5)))
    statuses = sorted(r.status for r in responses)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 4
    winner = next(r for r in responses if r.status == 200)
    # The losers look like a replay, so the family is revoked: the winner's token is dead too.
    assert (await refresh(client, (await winner.json())["refresh_token"])).status == 401


async def test_expired_refresh_token_is_refused(client, settings, db_pool) -> None:
    tokens = await login(client, settings, db_pool)
    async with db_pool.acquire() as conn:
        await conn.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
    resp = await refresh(client, tokens["refresh_token"])
    assert resp.status == 401 and await code_of(resp) == "token_expired"


async def test_unknown_or_malformed_refresh_token(client) -> None:
    for payload, status, code in [
        ({"refresh_token": "x" * 43}, 401, "invalid_token"),
        ({"refresh_token": 12}, 400, "invalid_type"),
        ({}, 400, "missing_field"),
    ]:
        resp = await client.post(REFRESH, json=payload)
        assert resp.status == status and await code_of(resp) == code, payload


async def test_logout_with_refresh_token_kills_both_tokens_but_not_other_logins(client, settings, db_pool) -> None:
    mine = await login(client, settings, db_pool)
    elsewhere = await (await client.post("/api/v1/auth/login", json={"login": "erin", "password": KNOWN_PASSWORD})).json()
    resp = await client.post(LOGOUT, json={"refresh_token": mine["refresh_token"]}, headers=bearer(mine["access_token"]))
    assert resp.status == 204
    me = await client.get(ME, headers=bearer(mine["access_token"]))
    assert me.status == 401 and await code_of(me) == "invalid_token"
    assert (await refresh(client, mine["refresh_token"])).status == 401
    assert (await refresh(client, elsewhere["refresh_token"])).status == 200
    again = await client.post(LOGOUT, headers=bearer(mine["access_token"]))
    assert again.status == 401, "a revoked access token cannot log out again"


async def test_logout_without_body_revokes_every_login_of_the_user(client, settings, db_pool) -> None:
    one = await login(client, settings, db_pool)
    two = await (await client.post("/api/v1/auth/login", json={"login": "erin", "password": KNOWN_PASSWORD})).json()
    other_user = await login(client, settings, db_pool, username="frank")
    assert (await client.post(LOGOUT, headers=bearer(one["access_token"]))).status == 204
    assert (await refresh(client, one["refresh_token"])).status == 401
    assert (await refresh(client, two["refresh_token"])).status == 401
    assert (await refresh(client, other_user["refresh_token"])).status == 200
    resp = await client.get(ME, headers=bearer(two["access_token"]))
    assert resp.status == 401 and await code_of(resp) == "invalid_token", "every login's access token dies at once"
    assert (await client.get(ME, headers=bearer(other_user["access_token"]))).status == 200


async def test_logout_cannot_revoke_someone_elses_family(client, settings, db_pool) -> None:
    mine = await login(client, settings, db_pool)
    theirs = await login(client, settings, db_pool, username="grace")
    resp = await client.post(LOGOUT, json={"refresh_token": theirs["refresh_token"]}, headers=bearer(mine["access_token"]))
    assert resp.status == 204
    assert (await refresh(client, theirs["refresh_token"])).status == 200


async def test_logout_needs_a_valid_bearer_token(client) -> None:
    resp = await client.post(LOGOUT)
    assert resp.status == 401 and await code_of(resp) == "unauthorized"


async def test_logout_after_the_mail_flow(client, data_dir) -> None:
    tokens = await register_and_login(client, data_dir, username="heidi")
    headers = bearer(tokens["access_token"])
    assert (await client.post(LOGOUT, json={"refresh_token": tokens["refresh_token"]}, headers=headers)).status == 204
    assert (await client.get(ME, headers=headers)).status == 401
