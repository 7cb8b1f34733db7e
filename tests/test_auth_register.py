"""Registration and email verification through the real app on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from helpers_auth import KNOWN_PASSWORD, create_verified_user, outbox_mails, verification_token
from server import appkeys
from server.auth.mailing import settle_mail

REGISTER = "/api/v1/auth/register"
VERIFY = "/api/v1/auth/verify-email"
LOGIN = "/api/v1/auth/login"
RESEND = "/api/v1/auth/resend-verification"
SQUATTER_PASSWORD = "squatters own secret 42"


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
        stored = await conn.fetchval("SELECT token_hash FROM email_tokens")
    assert row["password_hash"].startswith("$2b$04$"), "bcrypt with the configured rounds"
    assert KNOWN_PASSWORD not in row["password_hash"]
    [mail] = outbox_mails(data_dir)
    assert mail["To"] == "Alice@Example.org"
    token = verification_token(data_dir, "Alice@Example.org")
    assert "/account/verify-email?token=" in mail.get_content()
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
        ({"email": "b@example.org", "username": "bob_1", "password": " " * 10}, "weak_password"),
        ({"email": "b@example.org", "username": "bob_1", "password": "password123"}, "weak_password"),
        ({"email": "b@example.org", "username": "bob_1", "password": "qwertyuiop"}, "weak_password"),
        ({"email": "bobby.tables@example.org", "username": "bobby_tables", "password": "bobby_tables1"}, "weak_password"),
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


# 70 ASCII characters and one two-byte one: exactly bcrypt's 72 bytes, and strong.
PASSWORD_72 = "k3J9-vQz!mW2@pL7#rT5$yH8%nB4^cF6&dG1*sA0(eU-Zx4+Lp9=Wq2~Ty6|Rb3<Nm8>Hj" + "é"


async def verify(client, token: str, username: str = "alice_1", password: str = KNOWN_PASSWORD):
    return await client.post(VERIFY, json={"token": token, "username": username, "password": password})


async def login(client, login: str, password: str = KNOWN_PASSWORD) -> int:
    return (await client.post(LOGIN, json={"login": login, "password": password})).status


def test_the_72_byte_password_is_what_it_says() -> None:
    assert len(PASSWORD_72.encode("utf-8")) == 72


async def test_password_of_exactly_72_bytes_is_accepted_and_used_whole(client, data_dir) -> None:
    resp = await client.post(REGISTER, json=body(password=PASSWORD_72))
    assert resp.status == 201, await resp.text()
    assert (await verify(client, verification_token(data_dir, "Alice@Example.org"), password=PASSWORD_72)).status == 200
    assert await login(client, "alice_1", PASSWORD_72) == 200
    assert await login(client, "alice_1", PASSWORD_72[:-1] + "e") == 401


async def test_usernames_differing_only_in_case_are_one(client, db_pool) -> None:
    assert (await client.post(REGISTER, json=body())).status == 201
    resp = await client.post(REGISTER, json=body(email="other@example.org", username="ALICE_1"))
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "username_taken"
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


# -- squatting and takeover ------------------------------------------------------------------------

async def test_a_squatters_unverified_sign_up_does_not_block_the_owner(client, data_dir, db_pool) -> None:
    """It did: the owner got 409 email_taken for as long as the squatter's row lived."""
    squat = body(email="owner@example.org", username="squatter", password=SQUATTER_PASSWORD)
    assert (await client.post(REGISTER, json=squat)).status == 201
    resp = await client.post(REGISTER, json=body(email="Owner@Example.org", username="owner"))
    assert resp.status == 201, await resp.text()
    token = verification_token(data_dir, "Owner@Example.org")
    assert (await verify(client, token, "owner")).status == 200
    assert await login(client, "owner@example.org") == 200
    assert await login(client, "squatter", SQUATTER_PASSWORD) == 401, "the squatter's sign-up is gone"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT array_agg(username) FROM users") == ["owner"]
    again = body(email="someone@example.org", username="squatter", password=SQUATTER_PASSWORD)
    assert (await client.post(REGISTER, json=again)).status == 201, "its username is free again"


async def test_the_owner_clicking_a_link_never_activates_the_squatters_password(client, data_dir) -> None:
    """It did: the owner asked for another mail, opened the link, and verified an account whose
    password the squatter chose; the squatter then logged in with it."""
    squat = body(email="owner@example.org", username="squatter", password=SQUATTER_PASSWORD)
    assert (await client.post(REGISTER, json=squat)).status == 201
    assert (await client.post(RESEND, json={"email": "owner@example.org"})).status == 202
    await settle_mail(client.app)
    token = verification_token(data_dir, "owner@example.org")
    page = await client.get("/account/verify-email", params={"token": token})  # the owner (or a scanner) opens it
    assert page.status == 200 and "<form" in await page.text()
    old_link = await client.get(VERIFY, params={"token": token}, allow_redirects=True)
    assert old_link.status == 200 and "<form" in await old_link.text()
    refused = [await client.post(VERIFY, json={"token": token}),
               await verify(client, token, "squatter", KNOWN_PASSWORD),
               await verify(client, token, "owner", KNOWN_PASSWORD)]
    assert [r.status for r in refused] == [400, 401, 401]
    assert await login(client, "squatter", SQUATTER_PASSWORD) == 403, "still unverified"
    assert (await verify(client, token, "squatter", SQUATTER_PASSWORD)).status == 200, \
        "only someone holding the mailbox *and* the sign-up's password can verify it"


async def test_signing_up_with_a_verified_address_answers_like_a_new_sign_up(client, data_dir, db_pool, settings) -> None:
    await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], email="taken@example.org",
                               username="owner")
    fresh = await client.post(REGISTER, json=body(email="free@example.org", username="newbie"))
    again = await client.post(REGISTER, json=body(email="TAKEN@example.org", username="intruder",
                                                  password=SQUATTER_PASSWORD))
    assert fresh.status == again.status == 201
    a, b = await fresh.json(), await again.json()
    assert set(a) == set(b) and b["email_verified"] is False and b["username"] == "intruder"
    assert {k: type(v) for k, v in a.items()} == {k: type(v) for k, v in b.items()}
    assert b["id"] != a["id"]
    async with db_pool.acquire() as conn:
        assert not await conn.fetchval("SELECT count(*) FROM users WHERE id = $1::uuid", b["id"])
        assert await user_count(db_pool) == 2
    [notice] = [m for m in outbox_mails(data_dir) if m["To"] == "taken@example.org"]
    assert "already has" in notice.get_content() and "token=" not in notice.get_content()
    assert await login(client, "taken@example.org") == 200, "the owner's password is untouched"
    assert await login(client, "intruder", SQUATTER_PASSWORD) == 401


async def test_an_expired_sign_up_frees_its_username(client, db_pool) -> None:
    assert (await client.post(REGISTER, json=body(email="slow@example.org", username="wanted"))).status == 201
    assert (await client.post(REGISTER, json=body(email="fast@example.org", username="wanted"))).status == 409
    async with db_pool.acquire() as conn:
        await conn.execute("UPDATE users SET created_at = now() - make_interval(secs => $1 + 1)",
                           client.app[appkeys.SETTINGS].unverified_account_ttl_s)
    assert await login(client, "wanted") == 401, "an expired sign-up cannot log in"
    assert (await client.post(REGISTER, json=body(email="fast@example.org", username="wanted"))).status == 201
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT array_agg(email) FROM users") == ["fast@example.org"]


# -- links ---------------------------------------------------------------------------------------

async def test_verify_token_is_single_use(client, data_dir, db_pool) -> None:
    await client.post(REGISTER, json=body())
    token = verification_token(data_dir, "Alice@Example.org")
    resp = await verify(client, token)
    assert resp.status == 200
    assert (await resp.json())["email_verified"] is True
    again = await verify(client, token)
    assert again.status == 400
    assert (await again.json())["error"]["code"] == "invalid_token"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT email_verified_at IS NOT NULL FROM users")


async def test_opening_the_link_spends_nothing_and_its_page_button_verifies(client, data_dir, db_pool) -> None:
    """GET verified the address: a mail scanner opening the link did it for the user."""
    await client.post(REGISTER, json=body())
    token = verification_token(data_dir, "Alice@Example.org")
    for _ in range(2):
        for resp in (await client.get("/account/verify-email", params={"token": token}),
                     await client.get(VERIFY, params={"token": token})):
            text = await resp.text()
            assert resp.status == 200 and 'method="post"' in text and 'action="/account/verify-email"' in text
            assert resp.headers["Referrer-Policy"] == "no-referrer" and resp.headers["Cache-Control"] == "no-store"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT email_verified_at IS NULL FROM users"), "nothing spent by opening"
    form = {"token": token, "username": "alice_1", "password": KNOWN_PASSWORD}
    resp = await client.post("/account/verify-email", data=form)
    assert resp.status == 200 and "confirmed" in await resp.text()
    assert await login(client, "alice_1") == 200
    resp = await client.post("/account/verify-email", data=form)
    assert resp.status == 400 and "<form" not in await resp.text()


async def test_expired_verify_token_is_refused(client, data_dir, db_pool) -> None:
    await client.post(REGISTER, json=body())
    token = verification_token(data_dir, "Alice@Example.org")
    async with db_pool.acquire() as conn:
        await conn.execute("UPDATE email_tokens SET expires_at = now() - interval '1 second'")
    resp = await verify(client, token)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "token_expired"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT email_verified_at IS NULL FROM users")


@pytest.mark.parametrize("payload", [{"token": "nope", "username": "a", "password": "b"}, {"token": ""},
                                     {"token": 7}, {}])
async def test_unknown_or_malformed_verify_token(client, payload) -> None:
    resp = await client.post(VERIFY, json=payload)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] in {"invalid_token", "invalid_type", "missing_field"}


async def test_resend_mails_a_fresh_link_that_replaces_the_old_without_revealing_accounts(client, data_dir) -> None:
    await client.post(REGISTER, json=body())
    first = verification_token(data_dir, "Alice@Example.org")
    resp = await client.post(RESEND, json={"email": "alice@example.org"})
    assert resp.status == 202
    await settle_mail(client.app)
    second = verification_token(data_dir, "Alice@Example.org")
    assert second != first
    unknown = await client.post(RESEND, json={"email": "nobody@example.org"})
    assert unknown.status == 202 and await unknown.json() == await resp.json(), "same answer for an unknown address"
    await settle_mail(client.app)
    assert len(outbox_mails(data_dir)) == 2
    stale = await verify(client, first)
    assert stale.status == 400 and (await stale.json())["error"]["code"] == "invalid_token", "the new link replaced it"
    assert (await verify(client, second)).status == 200


class TestMailFlooding:
    @pytest.fixture
    def settings(self, settings):
        return settings.with_overrides(account_mails_per_hour=3)

    async def test_an_address_gets_a_few_mails_an_hour_however_often_it_is_asked(self, client, data_dir) -> None:
        """Resend mailed on every call: anyone could flood anyone's mailbox."""
        await client.post(REGISTER, json=body())
        for _ in range(6):
            assert (await client.post(RESEND, json={"email": "alice@example.org"})).status == 202
        for i in range(3):
            other = body(email="alice@example.org", username=f"squat_{i}", password=SQUATTER_PASSWORD)
            assert (await client.post(REGISTER, json=other)).status == 201
        await settle_mail(client.app)
        assert len([m for m in outbox_mails(data_dir) if m["To"].lower() == "alice@example.org"]) == 3
        newest = verification_token(data_dir, "Alice@Example.org")
        assert (await verify(client, newest)).status == 200, "the newest mailed link still works for the owner"
