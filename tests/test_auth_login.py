"""Login and the Bearer context, through the real app."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from helpers_auth import KNOWN_PASSWORD, create_verified_user, register_and_login
from server import appkeys

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def error_code(resp) -> str:
    return (await resp.json())["error"]["code"]


async def test_login_by_username_or_email_in_any_case(client, settings, db_pool) -> None:
    key = client.app[appkeys.JWT_KEY]
    user_id, _ = await create_verified_user(db_pool, settings, key, email="Bob@Example.org", username="bob")
    for login in ("bob", "BOB", "bob@example.org", "BOB@EXAMPLE.ORG"):
        resp = await client.post(LOGIN, json={"login": login, "password": KNOWN_PASSWORD})
        assert resp.status == 200, login
        data = await resp.json()
        assert set(data) == {"access_token", "refresh_token", "token_type", "expires_in", "device_token"}
        assert data["token_type"] == "Bearer" and data["expires_in"] == settings.access_token_ttl_s
        assert resp.headers["Cache-Control"] == "no-store"
        me = await client.get(ME, headers=bearer(data["access_token"]))
        assert me.status == 200 and (await me.json())["id"] == str(user_id)


async def test_unknown_user_and_wrong_password_look_the_same(client, settings, db_pool) -> None:
    await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], username="bob")
    wrong = await client.post(LOGIN, json={"login": "bob", "password": "wrong password!"})
    unknown = await client.post(LOGIN, json={"login": "nobody", "password": "wrong password!"})
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()
    assert await error_code(wrong) == "invalid_credentials"


async def test_unverified_account_is_told_only_after_the_password_checks_out(client, settings, db_pool) -> None:
    await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], username="carol", verified=False)
    bad = await client.post(LOGIN, json={"login": "carol", "password": "wrong password!"})
    assert bad.status == 401 and await error_code(bad) == "invalid_credentials"
    good = await client.post(LOGIN, json={"login": "carol", "password": KNOWN_PASSWORD})
    assert good.status == 403 and await error_code(good) == "email_not_verified"


async def test_unverified_token_is_refused_by_require_verified_user(client, settings, db_pool) -> None:
    _, token = await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], verified=False)
    resp = await client.get(ME, headers=bearer(token))
    assert resp.status == 403 and await error_code(resp) == "email_not_verified"


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"password": KNOWN_PASSWORD}, "missing_field"),
        ({"login": "bob"}, "missing_field"),
        ({"login": 3, "password": KNOWN_PASSWORD}, "invalid_type"),
        ({"login": "bob", "password": None}, "missing_field"),
        ({"login": "  ", "password": KNOWN_PASSWORD}, "invalid_login"),
    ],
)
async def test_login_rejects_bad_input(client, payload, code) -> None:
    resp = await client.post(LOGIN, json=payload)
    assert resp.status == 400 and await error_code(resp) == code


async def test_over_long_password_at_login_is_just_wrong(client, settings, db_pool) -> None:
    await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], username="bob")
    resp = await client.post(LOGIN, json={"login": "bob", "password": KNOWN_PASSWORD + "x" * 80})
    assert resp.status == 401 and await error_code(resp) == "invalid_credentials"


def forge(client, settings, sub: uuid.UUID, key: str | None = None, **overrides) -> str:
    now = int(time.time())
    claims = {
        "sub": str(sub), "iat": now, "exp": now + 60, "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience, "jti": str(uuid.uuid4()), "fam": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return jwt.encode(claims, key or client.app[appkeys.JWT_KEY], algorithm="HS256")


def tamper(token: str) -> str:
    """Change whole base64 characters of the signature (the last one alone may be padding bits)."""
    return token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda c, s, u: forge(c, s, u, key="another-key-that-is-long-enough-000"), "invalid_token"),
        (lambda c, s, u: forge(c, s, u, aud="elsewhere"), "invalid_token"),
        (lambda c, s, u: forge(c, s, u, iss="elsewhere"), "invalid_token"),
        (lambda c, s, u: forge(c, s, u, iat=int(time.time()) - 200, exp=int(time.time()) - 100), "token_expired"),
        (lambda c, s, u: forge(c, s, u, fam=None), "invalid_token"),
        (lambda c, s, u: jwt.encode({"sub": str(u), "exp": int(time.time()) + 60}, None, algorithm="none"),
         "invalid_token"),
        (lambda c, s, u: tamper(forge(c, s, u)), "invalid_token"),
    ],
    ids=["wrong-key", "wrong-aud", "wrong-iss", "expired", "no-family", "alg-none", "tampered-signature"],
)
async def test_forged_tokens_for_an_existing_account_are_refused(client, settings, db_pool, make, code) -> None:
    """The forgeries name a real, verified account, so only the token check stands between them and
    the account: with verification switched off, /me would answer 200 (it did, with the old test's
    random user ids, which were refused for not existing)."""
    user_id, genuine = await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY])
    assert (await client.get(ME, headers=bearer(genuine))).status == 200, "the account itself is fine"
    resp = await client.get(ME, headers=bearer(make(client, settings, user_id)))
    assert resp.status == 401 and await error_code(resp) == code
    assert resp.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
async def test_missing_or_wrong_scheme_is_unauthorized(client, header) -> None:
    headers = {} if header is None else {"Authorization": header}
    resp = await client.get(ME, headers=headers)
    assert resp.status == 401 and await error_code(resp) == "unauthorized"


async def test_token_of_a_deleted_user_is_unauthorized(client, settings, db_pool) -> None:
    user_id, token = await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY])
    async with db_pool.acquire() as conn:
        await conn.execute("DELETE FROM users WHERE id = $1", user_id)
    resp = await client.get(ME, headers=bearer(token))
    assert resp.status == 401 and await error_code(resp) == "invalid_token"


class TestDummyHash:
    """An unknown login must cost the same bcrypt work as a wrong password, or response time tells
    which accounts exist. Counting the bcrypt checks (and their cost factor) says so without a timer."""

    @pytest.fixture
    def checks(self, monkeypatch) -> list[int]:
        import bcrypt

        seen: list[int] = []
        real = bcrypt.checkpw

        def counting(password: bytes, hashed: bytes) -> bool:
            seen.append(int(hashed.split(b"$")[2]))  # the cost factor: $2b$<cost>$...
            return real(password, hashed)

        monkeypatch.setattr(bcrypt, "checkpw", counting)
        return seen

    async def test_unknown_user_costs_one_bcrypt_check_at_the_configured_cost(self, client, settings, db_pool,
                                                                              checks) -> None:
        await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], username="bob")
        assert (await client.post(LOGIN, json={"login": "bob", "password": "wrong password!"})).status == 401
        assert checks == [settings.bcrypt_rounds]
        checks.clear()
        assert (await client.post(LOGIN, json={"login": "nobody", "password": "wrong password!"})).status == 401
        assert checks == [settings.bcrypt_rounds], "the unknown user's password was checked against the dummy hash"


async def test_full_flow_through_the_mail(client, data_dir) -> None:
    tokens = await register_and_login(client, data_dir, username="dave")
    me = await client.get(ME, headers=bearer(tokens["access_token"]))
    assert (await me.json())["username"] == "dave"
