"""One access line per request, and the HTTP metrics, from aiohttp's access-logger hook.

aiohttp calls the hook once per request after the last byte is sent, including for requests no
handler saw (malformed HTTP) and for streamed files, so the line's status, byte count and duration
are the real ones; a middleware would see a ``FileResponse`` before it is sent. It runs in the
request's own task, so the request and user ids come from the logging context (``server.logs``).

Query strings carry secrets (verification tokens, upload signatures, stream tickets): only a few
paging keys keep their values in the log; every other value is written as ``***``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, unquote

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from ..logs import request_id_var, user_id_var
from ..metrics import Metrics, route_label

ACCESS_LOG = logging.getLogger("imagepipe.access")
SAFE_QUERY_KEYS = frozenset({"limit", "cursor", "status", "unread_only"})
REDACTED = "***"
MAX_TARGET = 512  # a scanner's 8 KB path is not worth 8 KB of log per request
_SAFE_CHARS = "/:@!$&'()*+,;=-._~%?"


def loggable_target(raw_path: str, raw_query: str) -> str:
    """Path and query as they may be logged: query values redacted but for ``SAFE_QUERY_KEYS``,
    anything outside printable ASCII percent-encoded (no forged lines), and the length capped."""
    target = raw_path or "/"
    if raw_query:
        parts = []
        for item in raw_query.split("&"):
            key, sep, _ = item.partition("=")
            parts.append(item if unquote(key) in SAFE_QUERY_KEYS else f"{key}{sep}{REDACTED}" if sep else key)
        target = f"{target}?{'&'.join(parts)}"
    target = quote(target, safe=_SAFE_CHARS)
    return target if len(target) <= MAX_TARGET else target[: MAX_TARGET - 3] + "..."


def body_bytes(method: str, status: int, content_length: str | None, written: int) -> int:
    """Bytes of body sent. aiohttp's own count includes the headers and misses what sendfile
    sent (served media), so the declared length is the better number whenever there is one."""
    if method == "HEAD" or status in (204, 304) or status < 200:
        return 0
    if content_length and content_length.isdigit():
        return int(content_length)
    return written  # a stream without a length (chunked): what went out, framing included


def access_fields(request: BaseRequest, response: StreamResponse, seconds: float) -> dict[str, Any]:
    try:
        raw_path, raw_query = request.rel_url.raw_path, request.rel_url.raw_query_string
    except Exception:  # a request line the parser refused may not make a URL
        raw_path, raw_query = "-", ""
    return {
        "method": request.method,
        "path": loggable_target(raw_path, raw_query),
        "route": route_label(request),
        "status": response.status,
        "duration_ms": round(seconds * 1000, 2),
        "bytes": body_bytes(request.method, response.status, response.headers.get("Content-Length"),
                            response.body_length),
        "request_id": request_id_var.get(),
        "user_id": user_id_var.get(),
    }


def format_access(fields: dict[str, Any]) -> str:
    """The text line's message; the request id is added by the text formatter's bracket."""
    return (
        f"{fields['method']} {fields['path']} {fields['status']} {fields['duration_ms']:.1f}ms "
        f"{fields['bytes']}B user={fields['user_id'] or '-'}"
    )


class AccessLogger(AbstractAccessLogger):
    """Logs to ``imagepipe.access`` at INFO and feeds ``metrics`` (bound by ``access_logger_for``)."""

    metrics: Metrics | None = None

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        fields = access_fields(request, response, time)
        if self.metrics is not None:
            self.metrics.observe_request(fields["method"], fields["route"], fields["status"], time)
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info(format_access(fields), extra=fields)


def access_logger_for(metrics: Metrics | None) -> type[AccessLogger]:
    """An AccessLogger class bound to one app's metrics: aiohttp builds the logger itself, per
    connection, from a class and a logger, so the class is how the registry gets in."""
    return type("BoundAccessLogger", (AccessLogger,), {"metrics": metrics})


def runner_kwargs(metrics: Metrics | None) -> dict[str, Any]:
    """What ``web.run_app`` / ``AppRunner`` / ``TestServer`` need to log and count every request."""
    return {"access_log_class": access_logger_for(metrics), "access_log": ACCESS_LOG}
