"""Reading a JSON request body as a hostile client might send it.

Every way a body can be wrong is a 4xx with its own code, never a 500: the wrong media type (415),
too big (413), too slow (408), not JSON, nested too deeply, or holding a number with thousands of
digits (400 ``invalid_json``). The last one matters because CPython refuses to turn more than 4300
digits into an int with a ValueError (not a JSONDecodeError), and parsing long numbers is quadratic.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, NoReturn

from aiohttp import web

from .. import appkeys
from .errors import ApiError

MAX_JSON_BYTES = 64 * 1024
# No field of ours needs more: the largest number we take is a byte count (< 2**63, 19 digits).
MAX_NUMBER_CHARS = 40
DEFAULT_BODY_TIMEOUT_S = 30.0


class _Refused(ValueError):
    """Raised from inside the decoder by the hooks below; turned into a 400."""


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number has more than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number has more than {MAX_NUMBER_CHARS} characters")
    return float(text)


def _no_constants(name: str) -> NoReturn:
    raise _Refused(f"{name} is not JSON")  # NaN, Infinity: Python extensions, not the standard


def decode_json_object(raw: bytes) -> dict[str, Any]:
    """Pure: bytes to a JSON object, or ``ApiError(400, "invalid_json")`` saying why."""
    if not raw:
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    try:
        data = json.loads(raw, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constants)
    except _Refused as exc:
        raise ApiError(400, "invalid_json", f"malformed JSON: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"malformed JSON: {exc}") from None
    except RecursionError:  # nesting deeper than the decoder's stack allows
        raise ApiError(400, "invalid_json", "JSON is nested too deeply") from None
    except ValueError:  # anything else the decoder refuses (e.g. CPython's int digit limit)
        raise ApiError(400, "invalid_json", "malformed JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    return data


def check_json_content_type(content_type: str, charset: str | None) -> None:
    """415 unless the body is declared as JSON (``application/json`` or ``application/*+json``) in
    UTF-8: a form post or text/plain sent to a JSON endpoint is a confused or cross-site client."""
    main, _, sub = content_type.lower().partition("/")
    if main != "application" or not (sub == "json" or sub.endswith("+json")):
        raise ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json")
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        raise ApiError(415, "unsupported_media_type", "JSON must be encoded in UTF-8")


def _body_timeout(request: web.Request) -> float:
    settings = request.app.get(appkeys.SETTINGS)
    return settings.http_body_timeout_s if settings is not None else DEFAULT_BODY_TIMEOUT_S


async def _read_limited(request: web.Request, max_bytes: int) -> bytes:
    # read(n) returns what has arrived so far, not n bytes: loop to EOF, stopping once past the limit.
    raw = b""
    while len(raw) <= max_bytes:
        chunk = await request.content.read(max_bytes + 1 - len(raw))
        if not chunk:
            break
        raw += chunk
    return raw


async def read_json(request: web.Request, *, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The request's JSON object, or a 400/408/413/415 ApiError that says what is wrong."""
    check_json_content_type(request.content_type, request.charset)
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "payload_too_large", f"JSON body is limited to {max_bytes} bytes")
    timeout = _body_timeout(request)
    try:
        async with asyncio.timeout(timeout):
            raw = await _read_limited(request, max_bytes)
    except TimeoutError:
        raise ApiError(408, "request_timeout", f"the request body did not arrive within {timeout:g} s",
                       headers={"Connection": "close"}) from None
    if len(raw) > max_bytes:
        raise ApiError(413, "payload_too_large", f"JSON body is limited to {max_bytes} bytes")
    return decode_json_object(raw)
