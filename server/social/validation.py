"""Input rules of the social endpoints; pure, so each is unit-tested without a server.

Each refusal is a 400 whose code names the rule (``invalid_user``, ``invalid_display_name``,
``invalid_bio``, ``invalid_comment``, ``unknown_field``...) with ``details.field``, like the rest of
the API. Text is checked, never rewritten beyond trimming: it is stored and returned as given and
clients must treat it as text, not HTML.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from ..http import ApiError

DISPLAY_NAME_MAX = 50
BIO_MAX = 300
COMMENT_MAX = 2200
PASSWORD_FIELD_MAX = 1024  # far above any real password; only stops a megabyte going to bcrypt

_USERNAME = re.compile(r"[a-z0-9_]{3,30}")  # server/auth/validation.py's rule, after lowercasing
_LINE_BREAKS = frozenset("\n\r\t")
_PROFILE_FIELDS = frozenset({"display_name", "bio"})


@dataclass(frozen=True)
class UserRef:
    """``{user}`` in a path: an account id, or a username (lowercase)."""

    id: uuid.UUID | None = None
    username: str | None = None


@dataclass(frozen=True)
class ProfilePatch:
    """Only the fields the client sent; None in a sent field clears it."""

    fields: Mapping[str, str | None]

    def has(self, name: str) -> bool:
        return name in self.fields


def _bad(code: str, field: str, message: str) -> ApiError:
    return ApiError(400, code, message, details={"field": field})


def parse_user_ref(raw: str) -> UserRef:
    """A UUID (canonical form) or a username; anything else is 400 ``invalid_user``. The two shapes
    cannot collide: a username has no dashes."""
    try:
        parsed = uuid.UUID(raw)
    except ValueError:
        parsed = None
    if parsed is not None and str(parsed) == raw.lower():
        return UserRef(id=parsed)
    name = raw.lower()
    if _USERNAME.fullmatch(name):
        return UserRef(username=name)
    raise _bad("invalid_user", "user", "user must be an account id (UUID) or a username")


def _check_text(value: Any, *, field: str, code: str, max_chars: int, min_chars: int, multiline: bool) -> str:
    """Trimmed text of ``min_chars``..``max_chars`` characters without control characters (line
    breaks and tabs allowed when ``multiline``). Lone surrogates, which JSON can carry but UTF-8
    and PostgreSQL cannot, are refused here rather than failing later as a 500."""
    if not isinstance(value, str):
        raise _bad(code, field, f"{field} must be a string")
    text = value.strip()
    if not min_chars <= len(text) <= max_chars:
        raise _bad(code, field, f"{field} must have {min_chars} to {max_chars} characters (after trimming)")
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs" or (category == "Cc" and not (multiline and ch in _LINE_BREAKS)):
            raise _bad(code, field, f"{field} must not contain control characters")
    return text


def parse_profile_patch(body: Mapping[str, Any]) -> ProfilePatch:
    """``{display_name?, bio?}``; an unknown field is refused (a typo must not look like success),
    null or an empty string clears a field."""
    unknown = sorted(set(body) - _PROFILE_FIELDS)
    if unknown:
        raise _bad("unknown_field", unknown[0], f"{unknown[0]} cannot be changed here (only display_name, bio)")
    fields: dict[str, str | None] = {}
    if "display_name" in body:
        value = body["display_name"]
        fields["display_name"] = None if value is None else (_check_text(
            value, field="display_name", code="invalid_display_name", max_chars=DISPLAY_NAME_MAX, min_chars=0,
            multiline=False) or None)
    if "bio" in body:
        value = body["bio"]
        fields["bio"] = None if value is None else (_check_text(
            value, field="bio", code="invalid_bio", max_chars=BIO_MAX, min_chars=0, multiline=True) or None)
    return ProfilePatch(fields)


def parse_comment(body: Mapping[str, Any]) -> str:
    """``{body}``: 1-2,200 characters after trimming; stored trimmed, otherwise as given."""
    if body.get("body") is None:
        raise _bad("invalid_comment", "body", "body is required")
    return _check_text(body["body"], field="body", code="invalid_comment", max_chars=COMMENT_MAX, min_chars=1,
                       multiline=True)


def parse_password(body: Mapping[str, Any]) -> str:
    """The password that confirms an account deletion."""
    value = body.get("password")
    if not isinstance(value, str) or not value or len(value) > PASSWORD_FIELD_MAX:
        raise _bad("invalid_password", "password", "password (the account's current one) is required")
    return value
