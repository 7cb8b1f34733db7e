"""The two ends of ``serve``'s start-up, as the operator sees them.

Before anything starts, the listening ports are taken (bound, not yet listening): a port someone
else holds is one line and exit code 2, before PostgreSQL or the pool cost seconds and leave
things to clean up. When every part is up and the sockets accept connections, one line says
``ready on http://HOST:PORT``; nothing before it claims the service is reachable.
"""

from __future__ import annotations

import errno
import logging
import socket
from dataclasses import dataclass
from typing import Callable

from .config import Settings

EXIT_PORT_BUSY = 2
log = logging.getLogger("imagepipe")


class ListenError(Exception):
    """A port that cannot be had; the message is the whole story, for one line on stderr."""


@dataclass
class Listeners:
    api: socket.socket
    metrics: socket.socket | None = None

    def close(self) -> None:
        for sock in (self.api, self.metrics):
            if sock is not None:
                sock.close()


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(host: str, port: int, what: str) -> socket.socket:
    """A socket bound to host:port, not yet listening (aiohttp starts listening once the app is up,
    so connections are refused, not left hanging, while it starts)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen for {what} on {host}:{port}: unknown address ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        # As asyncio does: a previous run's connections in TIME_WAIT must not block a restart.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Linux still refuses the bind while another socket listens there: that is "busy".
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(
                f"cannot listen for {what} on {url_host(host)}:{port}: the port is already in use "
                "(another imagepipe or another program); stop it or choose another port"
            ) from None
        if exc.errno == errno.EACCES:
            raise ListenError(f"cannot listen for {what} on {url_host(host)}:{port}: permission denied") from None
        raise ListenError(f"cannot listen for {what} on {url_host(host)}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def bind_listeners(settings: Settings) -> Listeners:
    api = bind(settings.host, settings.port, "the API")
    if not settings.metrics_port:
        return Listeners(api)
    try:
        return Listeners(api, bind(settings.metrics_host or settings.host, settings.metrics_port, "metrics"))
    except ListenError:
        api.close()
        raise


def ready_line(settings: Settings, listeners: Listeners) -> str:
    """``ready on http://HOST:PORT``, with the metrics listener when it has its own."""
    port = listeners.api.getsockname()[1]
    line = f"ready on http://{url_host(settings.host)}:{port}"
    if listeners.metrics is not None:
        metrics_host = settings.metrics_host or settings.host
        line += f" (metrics on http://{url_host(metrics_host)}:{listeners.metrics.getsockname()[1]}/metrics)"
    return line


def announce_ready(settings: Settings, listeners: Listeners) -> Callable[..., None]:
    """For ``web.run_app(print=...)``, which calls it once, after start-up and every site started."""

    def announce(*_: object) -> None:
        log.info("%s (data dir %s)", ready_line(settings, listeners), settings.data_dir)

    return announce
