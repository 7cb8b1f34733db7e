"""Errors as JSON: ``{"error": {"code", "message"}}`` with the right status, always.

Handlers raise ``ApiError``; the middleware turns it, aiohttp's own HTTP exceptions (404, 405, 413)
and anything unexpected into the same shape. An unexpected exception is logged with the request id
and answered with a bland 500: no stack trace reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import traceback

from aiohttp import web

from actors.pipeline.decisions import is_db_transient

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2


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


def _raised_by_the_database_driver(exc: BaseException) -> bool:
    """A refused or reset connection looks the same from any library (OSError); where it was
    raised tells a database outage from, say, a mail server's."""
    return any(
        frame.f_globals.get("__name__", "").startswith("asyncpg")
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


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
    except Exception as exc:
        if is_db_transient(exc):
            # An outage, not a bug: the client may retry, and a traceback per request helps nobody.
            log.warning("unavailable on %s %s: %s: %s", request.method, request.path, exc.__class__.__name__, exc)
            if _raised_by_the_database_driver(exc):
                code, message = "database_unavailable", "the database is unavailable; try again shortly"
            else:
                code, message = "temporarily_unavailable", "a service this call needs is unavailable; try again shortly"
            return error_response(503, code, message, headers={"Retry-After": str(RETRY_AFTER_S)})
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error")
