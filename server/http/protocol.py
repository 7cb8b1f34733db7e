"""The connection level, where a hostile client never reaches a handler.

aiohttp out of the box answers an oversized header with a 400 and a logged traceback per request,
names its version in ``Server``, has no limit on open connections and no header deadline of its
own. This module serves the app through a request handler that:

- answers unparseable requests as JSON without a traceback: 431 for headers over the size or count
  limits, 414 for an over-long request line, 400 for the rest (one log line each, at INFO);
- caps open connections (``http_max_connections``): at the cap a new connection pushes out the
  connection that has been idle longest (a keep-alive socket or a client still dribbling its
  headers); only when every connection is busy with a request is the newcomer answered 503;
- gives every request ``http_header_timeout_s`` to deliver its request line and headers. aiohttp's
  keep-alive timer does this already: it starts when a connection opens or a response is done and
  fires unless a complete request has been parsed, so a slow-loris client is cut when it fires.

Body deadlines are per body: JSON bodies in ``jsonbody.read_json``.

``run_app`` is ``aiohttp.web.run_app`` for one site, built on ``GuardedAppRunner``: aiohttp offers no
way to choose the request handler class through ``run_app`` itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from aiohttp import hdrs, web
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from ..config import Settings
from .errors import error_body
from .hardening import SERVER_NAME

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 512
    header_timeout_s: float = 10.0


def limits_from(settings: Settings) -> ConnectionLimits:
    return ConnectionLimits(max_connections=settings.http_max_connections,
                            header_timeout_s=settings.http_header_timeout_s)


def classify_parse_error(exc: BaseException | None) -> tuple[int, str, str]:
    """(status, code, message) for a request aiohttp could not parse. Pure; never echoes the input."""
    if isinstance(exc, LineTooLong):
        line = exc.args[0] if exc.args else b""
        if isinstance(line, (bytes, bytearray)) and bytes(line[:8]).startswith((b"/", b"http:", b"https:")):
            return 414, "uri_too_long", "the request line is too long"
        return 431, "headers_too_large", "a request header is too large"
    if isinstance(exc, BadHttpMessage) and "too many headers" in str(exc.message).lower():
        return 431, "headers_too_large", "the request has too many headers"
    return 400, "bad_request", "the request is not valid HTTP"


def _json_response(status: int, code: str, message: str, extra: dict[str, str] | None = None) -> web.Response:
    resp = web.json_response(error_body(code, message), status=status, headers={hdrs.SERVER: SERVER_NAME, **(extra or {})})
    resp.force_close()
    return resp


_BUSY_BODY = json.dumps(error_body("unavailable", "the server has too many open connections; retry shortly")).encode()
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
    + f"Server: {SERVER_NAME}\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {len(_BUSY_BODY)}\r\n\r\n".encode()
    + _BUSY_BODY
)


class GuardedRequestHandler(RequestHandler):
    """aiohttp's protocol plus an idle clock (for eviction) and quiet, JSON parse-error answers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_since: float | None = None  # None while a request is being handled

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.idle_since = self._loop.time()
        super().connection_made(transport)  # registers with the server, which may evict or refuse

    def mark_busy(self) -> None:
        self.idle_since = None

    def log_access(self, request: Any, response: Any, time: float | None) -> None:
        super().log_access(request, response, time)
        self.idle_since = self._loop.time()  # called once per finished response

    def refuse(self) -> None:
        """Answer 503 in one write and close: no request of this connection is read."""
        if self.transport is not None:
            self.transport.write(_BUSY)
        self.force_close()

    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError) or (exc is None and status == 400):
            status, code, text = classify_parse_error(exc)
            log.info("refused an unparseable request from %s: %s %s", request.remote, status, code)
            return _json_response(status, code, text)
        resp = super().handle_error(request, status, exc, message)  # a real 500: logged with its traceback
        resp.headers[hdrs.SERVER] = SERVER_NAME
        return resp


class GuardedServer(web.Server):
    """Hands out GuardedRequestHandlers and keeps the connection count under the cap."""

    def __init__(self, handler: Any, *, limits: ConnectionLimits, request_factory: Callable[..., Any],
                 **kwargs: Any) -> None:
        def factory(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
            if isinstance(protocol, GuardedRequestHandler):
                protocol.mark_busy()  # called when a parsed request starts being handled
            return request_factory(message, payload, protocol, writer, task)

        super().__init__(handler, request_factory=factory, **kwargs)
        self.limits = limits
        self.evicted = 0
        self.refused = 0

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if len(self._connections) <= self.limits.max_connections:
            return
        victim = _longest_idle(self._connections, exclude=handler)
        if victim is not None:
            self.evicted += 1
            victim.force_close()
        elif isinstance(handler, GuardedRequestHandler):
            self.refused += 1
            handler.refuse()


def _longest_idle(connections: dict[RequestHandler, Any], exclude: RequestHandler) -> RequestHandler | None:
    best: RequestHandler | None = None
    best_since = float("inf")
    for conn in connections:
        since = getattr(conn, "idle_since", None)
        if conn is not exclude and since is not None and since < best_since and conn.transport is not None:
            best, best_since = conn, since
    return best


class GuardedAppRunner(web.AppRunner):
    """``web.AppRunner`` whose server is a GuardedServer; its keep-alive timer is the header deadline."""

    def __init__(self, app: web.Application, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        kwargs["keepalive_timeout"] = limits.header_timeout_s
        super().__init__(app, **kwargs)
        self._limits = limits

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # runs the app's start-up; we only swap the class
        return GuardedServer(
            plain.request_handler, limits=self._limits, request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation, loop=plain._loop, **plain._kwargs,
        )


async def _serve(app: web.Application, limits: ConnectionLimits, *, host: str | None, port: int | None,
                 sock: socket.socket | Sequence[socket.socket] | None, print: Callable[..., None] | None, backlog: int,
                 **runner_kwargs: Any) -> None:
    runner = GuardedAppRunner(app, limits=limits, **runner_kwargs)
    await runner.setup()
    try:
        sites: list[web.BaseSite]
        if sock is not None:  # one bound socket or several (every address of the host), as aiohttp takes
            socks = sock if isinstance(sock, (list, tuple)) else [sock]
            sites = [web.SockSite(runner, s, backlog=backlog) for s in socks]
        else:
            sites = [web.TCPSite(runner, host, port, backlog=backlog)]
        for site in sites:
            await site.start()
        if print is not None:
            print(f"======== Running on {', '.join(site.name for site in sites)} ========")
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()


def run_app(app: web.Application, *, limits: ConnectionLimits, host: str | None = None, port: int | None = None,
            sock: socket.socket | Sequence[socket.socket] | None = None, print: Callable[..., None] | None = None,
            backlog: int = 128,
            **runner_kwargs: Any) -> None:
    """Like ``aiohttp.web.run_app`` (same loop, signal and clean-up handling) for one TCP site or an
    already bound socket; ``runner_kwargs`` (``shutdown_timeout``, ``access_log``,
    ``handle_signals``...) go to the runner as they would there."""
    loop = asyncio.new_event_loop()
    main_task = loop.create_task(_serve(app, limits, host=host, port=port, sock=sock, print=print,
                                        backlog=backlog, **runner_kwargs))
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main_task)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main_task.done():  # a signal: clean up (drain) inside the task, as aiohttp does
                main_task.cancel()
                with suppress(asyncio.CancelledError):
                    loop.run_until_complete(main_task)
        finally:
            rest = asyncio.all_tasks(loop)
            for task in rest:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
