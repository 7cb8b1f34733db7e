"""Registration and email verification through the real app on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from helpers_auth import KNOWN_PASSWORD, outbox_mails, verification_token

REGISTER = "/api/v1/auth/register"
VERIFY = "/api/v1/auth/verify-email"


def body(email: str = "Alice@Example.org", username: str = "Alice_1", password: str = KNOWN_PASSWORD) -> dict:
    return {"email": email, "username": username, "password": password}


async def user_count(db_pool) -> int:
    async with db_pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM users")


async def test_register_creates_unverified_user_and_mails_a_link(client, data_dir: Path, db_pool) -> None:
    resp = await client.post(REGISTER, json=body())
    assert resp.status == 201
    data = await resp.json()
    assert data["email"] == "Alice@Example.org"
    assert data["username"] == "alice_1"
    assert data["email_verified"] is False
    assert set(data) == {"id", "email", "username", "email_verified"}
    async with db_pool.acquire() as conn:
        row = await conn.fetchrow("SELECT password_hash FROM users WHERE id = $1::uuid", data["id"])
        stored = await conn.fetchval("SELECT token_hash FROM email_verification_tokens")
    assert row["password_hash"].startswith("$2b$04$"), "bcrypt with the configured rounds"
    assert KNOWN_PASSWORD not in row["password_hash"]
    [mail] = outbox_mails(data_dir)
    assert mail["To"] == "Alice@Example.org"
    token = verification_token(data_dir, "Alice@Example.org")
    assert "/api/v1/auth/verify-email?token=" in mail.get_content()
    assert token.encode() not in stored and len(stored) == 32, "only the SHA-256 is stored"
    assert not list((data_dir / "outbox").glob(".*.tmp")), "no half-written mail left behind"


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"username": "bob_1", "password": KNOWN_PASSWORD}, "missing_field"),
        ({"email": "b@example.org", "password": KNOWN_PASSWORD}, "missing_field"),
        ({"email": "b@example.org", "username": "bob_1"}, "missing_field"),
        ({"email": 5, "username": "bob_1", "password": KNOWN_PASSWORD}, "invalid_type"),
        ({"email": "b@example.org", "username": ["bob"], "password": KNOWN_PASSWORD}, "invalid_type"),
        ({"email": "b@example.org", "username": "bob_1", "password": 1234567890123}, "invalid_type"),
        ({"email": "not-an-email", "username": "bob_1", "password": KNOWN_PASSWORD}, "invalid_email"),
        ({"email": "b@example.org", "username": "bo", "password": KNOWN_PASSWORD}, "invalid_username"),
        ({"email": "b@example.org", "username": "bob-1", "password": KNOWN_PASSWORD}, "invalid_username"),
        ({"email": "b@example.org", "username": "b" * 31, "password": KNOWN_PASSWORD}, "invalid_username"),
        ({"email": "b@example.org", "username": "bob_1", "password": "short"}, "password_too_short"),
        ({"email": "b@example.org", "username": "bob_1", "password": "é" * 37}, "password_too_long"),
        ({"email": "b@example.org", "username": "bob_1", "password": "a" * 73}, "password_too_long"),
    ],
)
async def test_register_rejects_bad_input_and_changes_nothing(client, db_pool, data_dir, payload, code) -> None:
    resp = await client.post(REGISTER, json=payload)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == code
    assert await user_count(db_pool) == 0
    assert outbox_mails(data_dir) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b'"text"', b"\xff\xfe"])
async def test_register_rejects_malformed_json(client, db_pool, raw: bytes) -> None:
    resp = await client.post(REGISTER, data=raw, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_json"
    assert await user_count(db_pool) == 0


async def test_password_of_exactly_72_bytes_is_accepted_and_used_whole(client, data_dir) -> None:
    password = "é" * 36  # 72 bytes, 36 characters
    resp = await client.post(REGISTER, json=body(password=password))
    assert resp.status == 201
    await client.post(VERIFY, json={"token": verification_token(data_dir, "Alice@Example.org")})
    assert (await client.post("/api/v1/auth/login", json={"login": "alice_1", "password": password})).status == 200
    wrong_last = password[:-1] + "e"
    assert (await client.post("/api/v1/auth/login", json={"login": "alice_1", "password": wrong_last})).status == 401


@pytest.mark.parametrize(
    "second, code",
    [
        (body(email="ALICE@example.ORG", username="someone_else"), "email_taken"),
        (body(email="other@example.org", username="ALICE_1"), "username_taken"),
    ],
)
async def test_duplicates_differing_only_in_case_are_refused(client, db_pool, second, code) -> None:
    assert (await client.post(REGISTER, json=body())).status == 201
    resp = await client.post(REGISTER, json=second)
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == code
    assert await user_count(db_pool) == 1


async def test_concurrent_sign_ups_for_one_name_create_one_account(client, db_pool) -> None:
    """Both pass the pre-check; the unique index decides and the loser gets a 409, not a 500."""
    payloads = [body(email=f"racer{i}@example.org", username="Racer") for i in range(4)]
    responses = await asyncio.gather(*(client.post(REGISTER, json=p) for p in payloads))
    statuses = sorted(r.status for r in responses)
    assert statuses == [201, 409, 409, 409]
    for r in responses:
        if r.status == 409:
            assert (await r.json())["error"]["code"] == "username_taken"
    assert await user_count(db_pool) == 1


async def test_verify_token_is_single_use(client, data_dir, db_pool) -> None:
    await client.post(REGISTER, json=body())
    token = verification_token(data_dir, "Alice@Example.org")
    resp = await client.post(VERIFY, json={"token": token})
    assert resp.status == 200
    assert (await resp.json())["email_verified"] is True
    again = await client.post(VERIFY, json={"token": token})
    assert again.status == 400
    assert (await again.json())["error"]["code"] == "invalid_token"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT email_verified_at IS NOT NULL FROM users")


async def test_verify_link_works_with_get(client, data_dir) -> None:
    await client.post(REGISTER, json=body())
    token = verification_token(data_dir, "Alice@Example.org")
    resp = await client.get(VERIFY, params={"token": token})
    assert resp.status == 200
    assert (await client.get(VERIFY, params={"token": token})).status == 400


async def test_expired_verify_token_is_refused(client, data_dir, db_pool) -> None:
    await client.post(REGISTER, json=body())
    token = verification_token(data_dir, "Alice@Example.org")
    async with db_pool.acquire() as conn:
        await conn.execute("UPDATE email_verification_tokens SET expires_at = now() - interval '1 second'")
    resp = await client.post(VERIFY, json={"token": token})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "token_expired"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT email_verified_at IS NULL FROM users")


@pytest.mark.parametrize("payload", [{"token": "nope"}, {"token": ""}, {"token": 7}, {}])
async def test_unknown_or_malformed_verify_token(client, payload) -> None:
    resp = await client.post(VERIFY, json=payload)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] in {"invalid_token", "invalid_type", "missing_field"}


async def test_resend_verification_mails_a_fresh_working_token_without_revealing_accounts(client, data_dir) -> None:
    await client.post(REGISTER, json=body())
    first = verification_token(data_dir, "Alice@Example.org")
    resp = await client.post("/api/v1/auth/resend-verification", json={"email": "alice@example.org"})
    assert resp.status == 202
    second = verification_token(data_dir, "Alice@Example.org")
    assert second != first
    unknown = await client.post("/api/v1/auth/resend-verification", json={"email": "nobody@example.org"})
    assert unknown.status == 202, "same answer for an unknown address"
    assert len(outbox_mails(data_dir)) == 2
    assert (await client.post(VERIFY, json={"token": second})).status == 200
