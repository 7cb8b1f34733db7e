"""Access tokens: short-lived HS256 JWTs with every registered claim required and checked.

The algorithm is pinned on decode (never taken from the token header), so ``alg=none`` and
algorithm-confusion tokens are rejected before any claim is looked at.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from ..config import Settings
from ..http import ApiError

REQUIRED_CLAIMS = ("sub", "exp", "iat", "iss", "aud", "jti")


@dataclass(frozen=True)
class AccessClaims:
    sub: uuid.UUID  # the user id
    jti: uuid.UUID  # identifies this token for revocation on logout
    exp: int  # unix seconds; a revocation row can be dropped after it


def issue_access_token(settings: Settings, key: str, user_id: uuid.UUID) -> tuple[str, int]:
    """A signed access token for ``user_id`` and its lifetime in seconds."""
    now = int(time.time())
    ttl = settings.access_token_ttl_s
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + ttl,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm), ttl


def _invalid(message: str) -> ApiError:
    return ApiError(401, "invalid_token", message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


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
        )
    except jwt.ExpiredSignatureError:
        raise _invalid("access token has expired") from None
    except jwt.PyJWTError as exc:
        raise _invalid(f"access token is not valid ({type(exc).__name__})") from None
    try:
        return AccessClaims(sub=uuid.UUID(str(claims["sub"])), jti=uuid.UUID(str(claims["jti"])), exp=int(claims["exp"]))
    except (ValueError, TypeError):
        raise _invalid("access token has malformed claims") from None
