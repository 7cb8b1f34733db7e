"""HTTP endpoints under ``/api/v1/auth``: register, verify-email, resend-verification, login,
refresh, logout. Thin: parse, rate-limit, call the module that owns the rule, answer JSON."""

from __future__ import annotations

import logging
import uuid

import asyncpg
from aiohttp import web

from .. import appkeys
from ..db import q
from ..http import ApiError, read_json
from ..mail import MailError
from . import ratelimit, refresh, revocation, verification
from .context import current_claims, require_verified_user
from .passwords import dummy_hash, hash_password, verify_password
from .tokens import issue_access_token
from .validation import check_email, parse_credentials, parse_registration, parse_token, require_string

log = logging.getLogger(__name__)

# Unique index name -> (error code, message); the indexes are in 0001_accounts.sql.
_TAKEN = {
    "users_email_lower_idx": ("email_taken", "an account with this email already exists"),
    "users_username_lower_idx": ("username_taken", "this username is taken"),
}


def _conflict(index: str) -> ApiError:
    code, message = _TAKEN[index]
    return ApiError(409, code, message, details={"field": code.split("_")[0]})


async def _send_verification(request: web.Request, email: str, username: str, token: str) -> None:
    """Mail the link; a failure is logged (never the token) and the account stays, so the user can
    ask for another mail instead of finding the name taken on a second sign-up."""
    settings = request.app[appkeys.SETTINGS]
    try:
        await request.app[appkeys.MAILER].send(verification.verification_mail(settings, email, username, token))
    except MailError as exc:
        log.error("verification mail for user %s not sent: %s", username, exc)


async def _count_then_fetch(request: web.Request, action: str, account: str, query: str, *args: object) -> asyncpg.Record | None:
    """Count the attempt against the rate limits (429 when over), then run one lookup."""
    async with request.app[appkeys.DB].acquire() as conn:
        await ratelimit.enforce(request, request.app[appkeys.SETTINGS], conn, action, account)
        return await conn.fetchrow(q(query), *args)


async def register(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    form = parse_registration(await read_json(request))
    pool = request.app[appkeys.DB]
    taken = await _count_then_fetch(request, "register", form.email, "find_taken", form.email, form.username)
    assert taken is not None  # an aggregate always returns a row
    if taken["email_taken"]:
        raise _conflict("users_email_lower_idx")
    if taken["username_taken"]:
        raise _conflict("users_username_lower_idx")
    password_hash = await hash_password(form.password, settings.bcrypt_rounds)
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                user = await conn.fetchrow(q("insert_user"), uuid.uuid4(), form.email, form.username, password_hash)
                token = await verification.create_token(conn, settings, user["id"])
        except asyncpg.UniqueViolationError as exc:  # lost a race with a concurrent sign-up
            if exc.constraint_name in _TAKEN:
                raise _conflict(exc.constraint_name) from None
            raise
    await _send_verification(request, user["email"], user["username"], token)
    log.info("registered user %s", user["id"])
    return web.json_response(
        {"id": str(user["id"]), "email": user["email"], "username": user["username"], "email_verified": False},
        status=201,
    )


async def _verify(request: web.Request, token: str) -> web.Response:
    async with request.app[appkeys.DB].acquire() as conn:
        user_id = await verification.consume(conn, token)
    log.info("verified email of user %s", user_id)
    return web.json_response({"id": str(user_id), "email_verified": True})


async def verify_email(request: web.Request) -> web.Response:
    return await _verify(request, parse_token(await read_json(request)))


async def verify_email_link(request: web.Request) -> web.Response:
    """The link in the mail (GET ?token=...)."""
    return await _verify(request, parse_token(dict(request.query)))


async def resend_verification(request: web.Request) -> web.Response:
    """Always 202, whether or not the address has an unverified account: no account enumeration."""
    settings = request.app[appkeys.SETTINGS]
    email = check_email(require_string(await read_json(request), "email"))
    user = await _count_then_fetch(request, "resend", email, "find_unverified_by_email", email)
    if user is not None:
        async with request.app[appkeys.DB].acquire() as conn:
            token = await verification.create_token(conn, settings, user["id"])
        await _send_verification(request, user["email"], user["username"], token)
    return web.json_response({"status": "accepted"}, status=202)


async def _tokens_response(request: web.Request, login: refresh.Rotated) -> web.Response:
    access, expires_in = issue_access_token(
        request.app[appkeys.SETTINGS], request.app[appkeys.JWT_KEY], login.user_id, login.family_id
    )
    return web.json_response(
        {"access_token": access, "refresh_token": login.refresh_token, "token_type": "Bearer", "expires_in": expires_in},
        headers={"Cache-Control": "no-store"},
    )


async def login(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    creds = parse_credentials(await read_json(request))
    pool = request.app[appkeys.DB]
    async with pool.acquire() as conn:
        user = await conn.fetchrow(q("find_user_by_login"), creds.login)
        # Counted per account, not per spelling: an email and a username of one user share a budget.
        await ratelimit.enforce(request, settings, conn, "login", str(user["id"]) if user else creds.login)
    # Same work whether or not the user exists, so response time does not reveal accounts.
    ok = await verify_password(creds.password, user["password_hash"] if user else dummy_hash(settings.bcrypt_rounds))
    if not (user and ok):
        raise ApiError(401, "invalid_credentials", "login or password is wrong")
    if user["email_verified_at"] is None:
        raise ApiError(403, "email_not_verified", "verify your email address before logging in")
    async with pool.acquire() as conn:
        started = await refresh.start_family(conn, settings, user["id"])
    log.info("login of user %s", user["id"])
    return await _tokens_response(request, started)


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
        raise ApiError(401, "unauthorized", "the account no longer exists")
    return web.json_response({
        "id": str(user["id"]), "email": user["email"], "username": user["username"],
        "email_verified": user["email_verified_at"] is not None, "created_at": user["created_at"].isoformat(),
    })


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/auth/register", register)
    app.router.add_post("/api/v1/auth/verify-email", verify_email)
    app.router.add_get("/api/v1/auth/verify-email", verify_email_link)
    app.router.add_post("/api/v1/auth/resend-verification", resend_verification)
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_post("/api/v1/auth/refresh", refresh_tokens)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_get("/api/v1/auth/me", me)
