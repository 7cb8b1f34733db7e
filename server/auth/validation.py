"""Input rules for the account endpoints; pure functions, unit-tested without a server.

Each problem becomes a 400 whose ``code`` says which rule failed (``details.field`` names the
field), so clients can show the right message without parsing English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..http import ApiError

PASSWORD_MIN_CHARS = 10
PASSWORD_MAX_BYTES = 72  # bcrypt reads no further; longer would be silently truncated
EMAIL_MAX = 254  # RFC 5321 path limit
LOGIN_MAX = EMAIL_MAX

# Deliberately plain: one @, a dot-atom-ish local part, a domain with at least one dot and no
# empty labels. Deliverability is proven by the verification mail, not by a cleverer regex.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_USERNAME = re.compile(r"^[a-z0-9_]{3,30}$")


@dataclass(frozen=True)
class Registration:
    email: str
    username: str  # lowercase
    password: str


@dataclass(frozen=True)
class Verification:
    token: str
    username: str
    password: str


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str


def _bad(code: str, field: str, message: str) -> ApiError:
    return ApiError(400, code, message, details={"field": field})


def require_string(data: Mapping[str, Any], field: str) -> str:
    if field not in data or data[field] is None:
        raise _bad("missing_field", field, f"{field} is required")
    value = data[field]
    if not isinstance(value, str):
        raise _bad("invalid_type", field, f"{field} must be a string")
    return value


def check_email(raw: str) -> str:
    email = raw.strip()
    if len(email) > EMAIL_MAX or ".." in email or email.startswith(".") or ".@" in email or not _EMAIL.fullmatch(email):
        raise _bad("invalid_email", "email", "email is not a valid address")
    return email


def check_username(raw: str) -> str:
    username = raw.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise _bad("invalid_username", "username", "username must be 3-30 characters of a-z, 0-9 and _")
    return username


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_CHARS:
        raise _bad("password_too_short", "password", f"password must have at least {PASSWORD_MIN_CHARS} characters")
    if len(password.encode("utf-8")) > PASSWORD_MAX_BYTES:
        raise _bad("password_too_long", "password", f"password must be at most {PASSWORD_MAX_BYTES} bytes in UTF-8")
    if "\x00" in password:  # C-string bcrypt implementations stop at NUL; never let two passwords collide
        raise _bad("invalid_password", "password", "password must not contain NUL characters")
    return password


def parse_registration(data: Mapping[str, Any]) -> Registration:
    email, username, password = (require_string(data, f) for f in ("email", "username", "password"))
    return Registration(check_email(email), check_username(username), check_password(password))


def parse_credentials(data: Mapping[str, Any]) -> Credentials:
    login, password = require_string(data, "login").strip(), require_string(data, "password")
    if not login or len(login) > LOGIN_MAX:
        raise _bad("invalid_login", "login", f"login must be an email or username of 1-{LOGIN_MAX} characters")
    return Credentials(login, password)


def parse_token(data: Mapping[str, Any], field: str = "token") -> str:
    token = require_string(data, field).strip()
    if not token or len(token) > 512:
        raise _bad("invalid_token", field, f"{field} is not valid")
    return token


def parse_verification(data: Mapping[str, Any]) -> Verification:
    """The link's token plus the username and password of the sign-up being confirmed."""
    token = parse_token(data)
    username, password = require_string(data, "username").strip().lower(), require_string(data, "password")
    if not username or len(username) > LOGIN_MAX:
        raise _bad("invalid_username", "username", "username is required")
    return Verification(token, username, password)
