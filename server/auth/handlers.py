"""HTTP endpoints under ``/api/v1/auth``: register, verify-email, resend-verification, login,
refresh, logout, password reset. Thin: parse, rate-limit, call the module that owns the rule,
answer JSON. The pages the mailed links open are in ``pages``."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Awaitable, Callable
from urllib.parse import urlencode

import asyncpg
from aiohttp import web

from .. import appkeys
from ..config import Settings
from ..db import q
from ..http import ApiError, read_json, rfc3339
from . import devices, lockout, mailing, pages, ratelimit, refresh, reset, revocation, signup
from .context import current_claims, require_verified_user
from .passwords import dummy_hash, hash_password, verify_password
from .strength import require_strong
from .tokens import issue_access_token, refused
from .validation import (
    check_email, parse_credentials, parse_registration, parse_token, parse_verification, require_string,
)

log = logging.getLogger(__name__)

async def register(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    form = parse_registration(await read_json(request))
    async with request.app[appkeys.DB].acquire() as conn:
        await ratelimit.enforce(request, settings, conn, "register", form.email)
    await require_strong(form.password, [form.email, form.username], settings.password_min_score)
    # Hashed whatever happens next, so an address with an account costs the same time as a new one.
    password_hash = await hash_password(form.password, settings.bcrypt_rounds)
    async with request.app[appkeys.DB].acquire() as conn:
        outcome = await signup.sign_up(conn, settings, form, password_hash)
    if outcome.mail is not None:
        await mailing.send_now(request.app, outcome.mail, "sign-up")
    log.info("sign-up answered for a new username")
    return web.json_response(outcome.answer, status=201)


async def verify_email(request: web.Request) -> web.Response:
    """The POST the verification page's button makes (or an app): the link's token, plus the
    username and password of the caller's own sign-up."""
    form = parse_verification(await read_json(request))
    async with request.app[appkeys.DB].acquire() as conn:
        await ratelimit.enforce(request, request.app[appkeys.SETTINGS], conn, "verify", form.username)
    user_id = await signup.verify(request.app[appkeys.DB], request.app[appkeys.SETTINGS], form.token, form.username,
                                  form.password)
    log.info("verified email of user %s", user_id)
    return web.json_response({"id": str(user_id), "email_verified": True})


async def verify_email_link(request: web.Request) -> web.Response:
    """Links mailed before verification moved to a page: show the page, spend nothing."""
    raise web.HTTPSeeOther(f"{mailing.VERIFY_PAGE}?{urlencode({'token': request.query.get('token', '')})}")


async def _mail_on_request(request: web.Request, action: str, what: str,
                           build: Callable[[asyncpg.Connection, Settings, str], Awaitable[EmailMessage | None]]) -> web.Response:
    """Always 202, whatever the address: no account enumeration; the mail goes in the background."""
    settings = request.app[appkeys.SETTINGS]
    email = check_email(require_string(await read_json(request), "email"))
    async with request.app[appkeys.DB].acquire() as conn:
        await ratelimit.enforce(request, settings, conn, action, email)
        mail = await build(conn, settings, email)
    if mail is not None:
        mailing.deliver(request.app, mail, what)
    return web.json_response({"status": "accepted"}, status=202)


async def resend_verification(request: web.Request) -> web.Response:
    return await _mail_on_request(request, "resend", "verification", signup.resend)


async def password_reset(request: web.Request) -> web.Response:
    return await _mail_on_request(request, "reset", "password reset", reset.request_link)


async def password_reset_confirm(request: web.Request) -> web.Response:
    body = await read_json(request)
    token, password = parse_token(body), require_string(body, "password")
    async with request.app[appkeys.DB].acquire() as conn:
        await ratelimit.enforce(request, request.app[appkeys.SETTINGS], conn, "reset-confirm", token)
    user_id = await reset.confirm(request.app, token, password)
    log.info("password reset for user %s; every login revoked", user_id)
    return web.Response(status=204)


async def _tokens_response(request: web.Request, login: refresh.Rotated, device_token: str | None = None) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    access, expires_in = issue_access_token(settings, request.app[appkeys.JWT_KEY], login.user_id, login.family_id)
    body = {"access_token": access, "refresh_token": login.refresh_token, "token_type": "Bearer", "expires_in": expires_in}
    if device_token is not None:
        body["device_token"] = device_token
    response = web.json_response(body, headers={"Cache-Control": "no-store"})
    if device_token is not None:  # browsers keep it by themselves; apps send the body field back
        response.set_cookie(DEVICE_COOKIE, device_token, max_age=devices.MAX_AGE_S, path="/api/v1/auth/login",
                            httponly=True, samesite="Strict",
                            secure=settings.effective_public_base_url.startswith("https://"))
    return response


DEVICE_COOKIE = "imagepipe_device"


def _device_of(request: web.Request, body: dict[str, object], user_id: object) -> devices.Device | None:
    """The client's device token for this account (body field or cookie), if it is one."""
    raw = body.get("device_token") or request.cookies.get(DEVICE_COOKIE)
    device = devices.read(request.app[appkeys.JWT_KEY], raw) if isinstance(raw, str) else None
    return device if device is not None and device.user_id == user_id else None


async def login(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    body = await read_json(request)
    creds = parse_credentials(body)
    pool = request.app[appkeys.DB]
    address = ratelimit.client_ip(request, settings)
    async with pool.acquire() as conn:
        user = await conn.fetchrow(q("find_user_by_login"), creds.login, settings.unverified_account_ttl_s)
        await ratelimit.hit(conn, f"login:ip:{address}", settings.rate_limit_ip_per_min)
        # Counted per account, not per spelling: an email and a username of one user share a budget.
        account = str(user["id"]) if user else creds.login.lower()
        attempt = await lockout.begin(conn, settings, account, address, _device_of(request, body, user and user["id"]))
    # Same work whether or not the user exists, so response time does not reveal accounts.
    ok = await verify_password(creds.password, user["password_hash"] if user else dummy_hash(settings.bcrypt_rounds))
    if not (user and ok):
        raise ApiError(401, "invalid_credentials", "login or password is wrong")
    async with pool.acquire() as conn:
        await attempt.give_back(conn)  # the right password is no failure, verified or not
        if user["email_verified_at"] is None:
            raise ApiError(403, "email_not_verified", "verify your email address before logging in")
        started = await refresh.start_family(conn, settings, user["id"])
    log.info("login of user %s", user["id"])
    response = await _tokens_response(request, started, devices.issue(request.app[appkeys.JWT_KEY], user["id"]))
    return response


async def refresh_tokens(request: web.Request) -> web.Response:
    token = parse_token(await read_json(request), "refresh_token")
    async with request.app[appkeys.DB].acquire() as conn:
        try:
            rotated = await refresh.rotate(conn, request.app[appkeys.SETTINGS], token)
        except refresh.TokenReused as exc:
            log.warning("refresh token reuse detected; token family revoked")
            await revocation.settle(request.app, "family", exc.family_id)
            raise
    return await _tokens_response(request, rotated)


async def logout(request: web.Request) -> web.Response:
    """Revokes this access token, and the refresh family of the ``refresh_token`` in the body; without
    one, every refresh family of the user ("log out everywhere"), since we cannot tell which is ours."""
    claims = await current_claims(request)
    token = None
    if request.body_exists:
        body = await read_json(request)
        if body.get("refresh_token") is not None:
            token = parse_token(body, "refresh_token")
    async with request.app[appkeys.DB].acquire() as conn:
        async with conn.transaction():
            await conn.execute(q("revoke_access_token"), claims.jti)
            await refresh.revoke(conn, claims.sub, token)
    await revocation.settle(request.app, "jti", claims.jti)  # its families went in the same commit
    log.info("logout of user %s", claims.sub)
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    """The caller's own account (also a cheap way for a client to check its token)."""
    user_id = await require_verified_user(request)
    async with request.app[appkeys.DB].acquire() as conn:
        user = await conn.fetchrow(q("get_user"), user_id)
    if user is None:  # deleted between the two lookups
        raise refused("invalid_token", "the account no longer exists")
    return web.json_response({
        "id": str(user["id"]), "email": user["email"], "username": user["username"],
        "email_verified": user["email_verified_at"] is not None, "created_at": rfc3339(user["created_at"]),
    })


def add_routes(app: web.Application) -> None:
    mailing.install(app)
    pages.add_routes(app)
    app.router.add_post("/api/v1/auth/register", register)
    app.router.add_post("/api/v1/auth/verify-email", verify_email)
    app.router.add_get("/api/v1/auth/verify-email", verify_email_link)
    app.router.add_post("/api/v1/auth/resend-verification", resend_verification)
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_post("/api/v1/auth/refresh", refresh_tokens)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_post("/api/v1/auth/password-reset", password_reset)
    app.router.add_post("/api/v1/auth/password-reset/confirm", password_reset_confirm)
    app.router.add_get("/api/v1/auth/me", me)
