"""Pruning keeps the auth tables small without touching anything still in force; a failed mail
does not lose the account."""

from __future__ import annotations

import logging
import time

from helpers_auth import KNOWN_PASSWORD, create_verified_user, verification_token
from server import appkeys
from server.auth.housekeeping import prune_once
from server.auth.mailing import settle_mail
from server.auth.opaque import token_hash


async def test_prune_drops_only_what_has_expired(client, db_pool) -> None:
    for name in ("old", "new"):
        body = {"email": f"{name}@example.org", "username": name, "password": KNOWN_PASSWORD}
        assert (await client.post("/api/v1/auth/register", json=body)).status == 201
    await create_verified_user(db_pool, client.app[appkeys.SETTINGS], client.app[appkeys.JWT_KEY], username="liz")
    logins = [await client.post("/api/v1/auth/login", json={"login": "liz", "password": KNOWN_PASSWORD}) for _ in range(2)]
    kept = (await logins[1].json())["refresh_token"]
    now = int(time.time() // 60 * 60)
    async with db_pool.acquire() as conn:
        await conn.execute("UPDATE email_tokens SET expires_at = now() - interval '1 s' WHERE email = 'old@example.org'")
        await conn.execute("UPDATE users SET created_at = now() - interval '30 days' WHERE username = 'old'")
        await conn.execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 s' WHERE token_hash <> $1", token_hash(kept)
        )
        await conn.execute(
            "INSERT INTO access_revocations VALUES ('jti', gen_random_uuid(), now() - interval '1 day'),"
            " ('jti', gen_random_uuid(), now())"
        )
        await conn.execute(
            "INSERT INTO rate_limit_counters VALUES ('x', to_timestamp($1), 3, to_timestamp($1 + 60)),"
            " ('y', to_timestamp($2), 1, to_timestamp($2 + 3600))",
            now - 120, now - 120,  # same start: a minute window is over, an hour window is not
        )
    await prune_once(client.app)
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT array_agg(email) FROM email_tokens") == ["new@example.org"]
        assert await conn.fetchval("SELECT array_agg(username ORDER BY username) FROM users") == ["liz", "new"]
        assert await conn.fetchval("SELECT count(*) FROM access_revocations WHERE revoked_at > now() - interval '1 hour'") == 1
        assert await conn.fetchval("SELECT count(*) FROM access_revocations WHERE revoked_at < now() - interval '1 hour'") == 0
        assert await conn.fetchval("SELECT count(*) FROM refresh_tokens") == 1
        buckets = await conn.fetchval("SELECT array_agg(bucket) FROM rate_limit_counters")
    assert "x" not in buckets and "y" in buckets
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": kept})).status == 200


async def test_a_mail_that_cannot_be_written_leaves_the_account_and_resend_works(client, data_dir, caplog) -> None:
    (data_dir / "outbox").write_text("a file where the outbox directory should be")
    body = {"email": "kim@example.org", "username": "kim", "password": KNOWN_PASSWORD}
    with caplog.at_level(logging.ERROR):
        assert (await client.post("/api/v1/auth/register", json=body)).status == 201
    assert "sign-up mail not sent" in caplog.text
    assert KNOWN_PASSWORD not in caplog.text and "kim@example.org" not in caplog.text
    (data_dir / "outbox").unlink()
    assert (await client.post("/api/v1/auth/resend-verification", json={"email": "kim@example.org"})).status == 202
    await settle_mail(client.app)
    token = verification_token(data_dir, "kim@example.org")
    verify = {"token": token, "username": "kim", "password": KNOWN_PASSWORD}
    assert (await client.post("/api/v1/auth/verify-email", json=verify)).status == 200
