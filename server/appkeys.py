"""Typed application state keys (aiohttp ``web.AppKey``): one place to see what the app holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg
from aiohttp import web

from .config import Settings
from .readiness import Readiness

if TYPE_CHECKING:
    from .db.embedded import EmbeddedPostgres

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", asyncpg.Pool)
EMBEDDED_PG = web.AppKey("embedded_pg", object)  # EmbeddedPostgres | None
READINESS = web.AppKey("readiness", Readiness)
JWT_KEY = web.AppKey("jwt_key", str)
MAILER = web.AppKey("mailer", Any)  # server.mail.Mailer
STORE = web.AppKey("store", Any)  # server.storage.ObjectStore
PIPELINE = web.AppKey("pipeline", Any)  # actors.pipeline handle
METRICS = web.AppKey("metrics", Any)  # server.metrics.Metrics
# Set by `serve` when metrics_port is used: the sockets it bound before starting anything.
METRICS_SOCKETS = web.AppKey("metrics_sockets", list)
# Set by ``serve``: ends the process with this exit code (a failure the process cannot recover from).
# Absent in tests that run the app inside the test process.
FATAL = web.AppKey("fatal", Any)  # Callable[[int], None]

__all__ = [
    "SETTINGS", "DB", "EMBEDDED_PG", "READINESS", "JWT_KEY", "MAILER", "STORE", "PIPELINE", "METRICS", "METRICS_SOCKETS",
    "FATAL",
]
_ = TYPE_CHECKING and EmbeddedPostgres  # for type checkers only
