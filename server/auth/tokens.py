"""Access tokens: short-lived HS256 JWTs with every registered claim required and checked.

The algorithm is pinned on decode (never taken from the token header), so ``alg=none`` and
algorithm-confusion tokens are rejected before any claim is looked at. ``iat``/``nbf``/``exp`` are
checked with ``jwt_leeway_s`` of slack, so instances whose clocks differ a little agree. A refusal
says which: ``token_expired`` (refresh and retry) or ``invalid_token`` (log in again). ``fam`` names
the login (refresh-token family) the token belongs to, so revoking a login revokes its access tokens.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from ..config import Settings
from ..http import ApiError

REQUIRED_CLAIMS = ("sub", "exp", "iat", "iss", "aud", "jti", "fam")


@dataclass(frozen=True)
class AccessClaims:
    sub: uuid.UUID  # the user id
    jti: uuid.UUID  # identifies this token for revocation on logout
    exp: int  # unix seconds; a revocation row can be dropped after it
    fam: uuid.UUID  # the login (refresh-token family) that issued it


def issue_access_token(
    settings: Settings, key: str, user_id: uuid.UUID, family_id: uuid.UUID | None = None
) -> tuple[str, int]:
    """A signed access token for ``user_id`` in login ``family_id`` and its lifetime in seconds.

    Without a family (tests, tools) the token gets one of its own that no login shares."""
    now = int(time.time())
    ttl = settings.access_token_ttl_s
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + ttl,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": str(uuid.uuid4()),
        "fam": str(family_id or uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm), ttl


def refused(code: str, message: str) -> ApiError:
    """A 401 for a presented access token; RFC 6750 calls both cases ``invalid_token``."""
    challenge = f'Bearer error="invalid_token", error_description="{message}"'
    return ApiError(401, code, message, headers={"WWW-Authenticate": challenge})


def _invalid(message: str) -> ApiError:
    return refused("invalid_token", message)


def decode_access_token(settings: Settings, key: str, token: str) -> AccessClaims:
    """Verified claims, or ``ApiError(401, "invalid_token")``; the reason never echoes the token."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": list(REQUIRED_CLAIMS)},
            leeway=settings.jwt_leeway_s,
        )
    except jwt.ExpiredSignatureError:
        raise refused("token_expired", "access token has expired; refresh it") from None
    except jwt.PyJWTError as exc:
        raise _invalid(f"access token is not valid ({type(exc).__name__})") from None
    try:
        return AccessClaims(sub=uuid.UUID(str(claims["sub"])), jti=uuid.UUID(str(claims["jti"])),
                            exp=int(claims["exp"]), fam=uuid.UUID(str(claims["fam"])))
    except (ValueError, TypeError):
        raise _invalid("access token has malformed claims") from None
