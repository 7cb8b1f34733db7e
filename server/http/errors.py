"""Errors as JSON: ``{"error": {"code", "message"}}`` with the right status, always.

Handlers raise ``ApiError``; the middleware turns it, aiohttp's own HTTP exceptions (404, 405, 413)
and anything unexpected into the same shape. An unexpected exception is logged with the request id
and answered with a bland 500: no stack trace reaches a client.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping

from aiohttp import web

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = dict(details or {})


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = dict(details)
    return {"error": error}


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> web.Response:
    return web.json_response(error_body(code, message, details), status=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    503: "unavailable",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, headers=exc.headers, details=exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, f"http_{exc.status}")
        message = exc.reason if exc.status != 413 else "request body is too large"
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return error_response(exc.status, code, message, headers=headers)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error")


async def read_json(request: web.Request, *, max_bytes: int = 64 * 1024) -> dict[str, Any]:
    """The request's JSON object, or a 400/413/415 ApiError that says what is wrong."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "payload_too_large", f"JSON body is limited to {max_bytes} bytes")
    # read(n) returns what has arrived so far, not n bytes: loop to EOF, stopping once past the limit.
    raw = b""
    while len(raw) <= max_bytes:
        chunk = await request.content.read(max_bytes + 1 - len(raw))
        if not chunk:
            break
        raw += chunk
    if len(raw) > max_bytes:
        raise ApiError(413, "payload_too_large", f"JSON body is limited to {max_bytes} bytes")
    if not raw:
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"malformed JSON: {exc}") from None
    except RecursionError:  # nesting deeper than the decoder's stack allows
        raise ApiError(400, "invalid_json", "JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    try:
        # A \ud800-style escape decodes to a lone surrogate, which no UTF-8 consumer (PostgreSQL,
        # hashing, bcrypt) accepts: refused here once instead of a 500 wherever it lands.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "invalid_json", "JSON strings must be valid Unicode (a lone surrogate escape)") from None
    return data
