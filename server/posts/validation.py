"""Checks on upload and listing input; pure, so every rule is unit-tested without a server.

Each check raises ``ApiError`` with the status and code the HTTP contract promises, so handlers
only call these and never build error answers for bad input themselves.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from ..http import ApiError

ALLOWED_CONTENT_TYPES: frozenset[str] = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/avif", "image/gif"}
)
MAX_FILENAME_CHARS = 255
MAX_CAPTION_CHARS = 2200
MAX_UPLOAD_TOKEN_CHARS = 256
DEFAULT_PAGE_LIMIT = 20
MAX_PAGE_LIMIT = 100

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class InitRequest:
    filename: str
    content_type: str
    file_size: int
    file_hash: str | None
    caption: str


@dataclass(frozen=True)
class CompleteRequest:
    post_id: uuid.UUID
    upload_token: str
    file_hash: str
    file_size: int


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", f"{field}: {message}", details={"field": field})


def _require(body: Mapping[str, Any], field: str) -> Any:
    if body.get(field) is None:
        raise _invalid(field, "is required")
    return body[field]


def check_filename(value: Any) -> str:
    """A bare name: it is only echoed back and never used in a path, but a separator or a control
    character is a sign of a confused or hostile client, so it is refused outright."""
    if not isinstance(value, str):
        raise _invalid("filename", "must be a string")
    if not 1 <= len(value) <= MAX_FILENAME_CHARS:
        raise _invalid("filename", f"must be 1 to {MAX_FILENAME_CHARS} characters")
    if "/" in value or "\\" in value:
        raise _invalid("filename", "must not contain path separators")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise _invalid("filename", "must not contain control characters")
    if value in (".", ".."):
        raise _invalid("filename", "must name a file")
    return value


def check_content_type(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid("content_type", "must be a string")
    # Parameters (e.g. "; charset") mean nothing for an image; the bare type must be one we transcode.
    bare = value.split(";", 1)[0].strip().lower()
    if bare not in ALLOWED_CONTENT_TYPES:
        raise ApiError(
            415, "unsupported_media_type",
            f"content_type must be one of {', '.join(sorted(ALLOWED_CONTENT_TYPES))}",
            details={"field": "content_type"},
        )
    return bare


def check_file_size(value: Any, max_bytes: int) -> int:
    # bool is an int in Python; "true" as a size is a client bug, not 1 byte.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("file_size", "must be an integer number of bytes")
    if value < 1:
        raise _invalid("file_size", "must be at least 1 byte")
    if value > max_bytes:
        raise ApiError(
            413, "file_too_large", f"file_size {value} exceeds the limit of {max_bytes} bytes",
            details={"field": "file_size", "max_bytes": max_bytes},
        )
    return value


def check_file_hash(value: Any, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise _invalid("file_hash", "must be the SHA-256 of the file as 64 hex characters")
    return value.lower()


def check_caption(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid("caption", "must be a string")
    if len(value) > MAX_CAPTION_CHARS:
        raise _invalid("caption", f"must be at most {MAX_CAPTION_CHARS} characters")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise _invalid("caption", "must not contain NUL characters")
    return value


def check_upload_token(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_UPLOAD_TOKEN_CHARS:
        raise _invalid("upload_token", "must be the token returned by upload/init")
    return value


def parse_uuid(value: Any, field: str = "id") -> uuid.UUID:
    """A UUID in its canonical text form; anything else is 400 ``invalid_id``."""
    if isinstance(value, str):
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            pass
        else:
            # uuid.UUID also accepts braces, "urn:uuid:" and no dashes; one spelling keeps URLs canonical.
            if str(parsed) == value.lower():
                return parsed
    raise ApiError(400, "invalid_id", f"{field} must be a UUID", details={"field": field})


def parse_init(body: Mapping[str, Any], max_upload_bytes: int) -> InitRequest:
    return InitRequest(
        filename=check_filename(_require(body, "filename")),
        content_type=check_content_type(_require(body, "content_type")),
        file_size=check_file_size(_require(body, "file_size"), max_upload_bytes),
        file_hash=check_file_hash(body.get("file_hash"), required=False),
        caption=check_caption(body.get("caption")),
    )


def parse_complete(body: Mapping[str, Any], max_upload_bytes: int) -> CompleteRequest:
    return CompleteRequest(
        post_id=parse_uuid(_require(body, "post_id"), "post_id"),
        upload_token=check_upload_token(_require(body, "upload_token")),
        file_hash=check_file_hash(_require(body, "file_hash"), required=True) or "",
        file_size=check_file_size(_require(body, "file_size"), max_upload_bytes),
    )


def parse_limit(raw: str | None) -> int:
    """``limit`` of every keyset-paged list (posts, social lists); 400 ``invalid_limit``."""
    if raw is None or raw == "":
        return DEFAULT_PAGE_LIMIT
    # isdecimal and not isdigit: "²".isdigit() is True and int("²") raises.
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > 3 or not 1 <= int(raw) <= MAX_PAGE_LIMIT:
        raise ApiError(400, "invalid_limit", f"limit: must be an integer from 1 to {MAX_PAGE_LIMIT}",
                       details={"field": "limit"})
    return int(raw)
