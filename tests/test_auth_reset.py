"""Password reset through the real app: always 202, a single-use expiring link whose page only
shows a form, and a new password that revokes every session and access token of the account."""

from __future__ import annotations

import pytest

from helpers_auth import KNOWN_PASSWORD, create_verified_user, outbox_mails, reset_token
from server import appkeys
from server.auth.mailing import settle_mail

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
LOGIN = "/api/v1/auth/login"
NEW_PASSWORD = "a brand new passphrase 9"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client, password: str = KNOWN_PASSWORD):
    return await client.post(LOGIN, json={"login": "rita", "password": password})


@pytest.fixture
async def rita(client, settings, db_pool) -> None:
    await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], email="rita@example.org",
                               username="rita")


async def ask(client, email: str = "rita@example.org"):
    resp = await client.post(RESET, json={"email": email})
    await settle_mail(client.app)
    return resp


async def test_reset_sets_the_password_and_revokes_every_session_and_token(client, rita, data_dir) -> None:
    phone, laptop = await (await login(client)).json(), await (await login(client)).json()
    resp = await ask(client)
    assert resp.status == 202
    token = reset_token(data_dir, "rita@example.org")
    page = await client.get("/account/reset-password", params={"token": token})
    assert page.status == 200 and 'type="password"' in await page.text(), "opening the link shows a form"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    resp = await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    assert resp.status == 204, await resp.text()
    assert (await login(client)).status == 401
    assert (await login(client, NEW_PASSWORD)).status == 200
    for session in (phone, laptop):
        me = await client.get("/api/v1/auth/me", headers=bearer(session["access_token"]))
        assert me.status == 401 and (await me.json())["error"]["code"] == "invalid_token", "at once"
        refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert refresh.status == 401
    again = await client.post(CONFIRM, json={"token": token, "password": "yet another passphrase 7"})
    assert again.status == 400 and (await again.json())["error"]["code"] == "invalid_token", "single use"


async def test_the_answer_never_tells_whether_the_address_has_an_account(client, rita, data_dir) -> None:
    assert (await client.post("/api/v1/auth/register", json={
        "email": "pending@example.org", "username": "pending", "password": KNOWN_PASSWORD})).status == 201
    answers = [await ask(client, e) for e in ("rita@example.org", "nobody@example.org", "pending@example.org")]
    assert [r.status for r in answers] == [202, 202, 202]
    bodies = [await r.json() for r in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    resets = [m["To"] for m in outbox_mails(data_dir) if "reset-password?token=" in m.get_content()]
    assert resets == ["rita@example.org"], "only a verified account gets a link"


async def test_a_weak_password_is_refused_and_the_link_still_works(client, rita, data_dir) -> None:
    await ask(client)
    token = reset_token(data_dir, "rita@example.org")
    for weak, code in ((" " * 12, "weak_password"), ("rita@example.org1", "weak_password"), ("short", "password_too_short")):
        resp = await client.post(CONFIRM, json={"token": token, "password": weak})
        assert resp.status == 400 and (await resp.json())["error"]["code"] == code, weak
    assert (await login(client)).status == 200, "nothing changed"
    assert (await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})).status == 204


async def test_expired_and_superseded_links_are_refused(client, rita, data_dir, db_pool) -> None:
    await ask(client)
    first = reset_token(data_dir, "rita@example.org")
    await ask(client)
    second = reset_token(data_dir, "rita@example.org")
    resp = await client.post(CONFIRM, json={"token": first, "password": NEW_PASSWORD})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_token", "a newer link replaced it"
    async with db_pool.acquire() as conn:
        await conn.execute("UPDATE email_tokens SET expires_at = now() - interval '1 s'")
    resp = await client.post(CONFIRM, json={"token": second, "password": NEW_PASSWORD})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "token_expired"
    assert (await login(client)).status == 200


async def test_the_pages_button_resets_and_other_posts_to_it_are_refused(client, rita, data_dir) -> None:
    await ask(client)
    token = reset_token(data_dir, "rita@example.org")
    json_post = await client.post("/account/reset-password", json={"token": token, "password": NEW_PASSWORD})
    assert json_post.status == 415
    resp = await client.post("/account/reset-password", data={"token": token, "password": NEW_PASSWORD})
    assert resp.status == 200 and "password is changed" in await resp.text()
    assert (await login(client, NEW_PASSWORD)).status == 200
