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
    api: list[socket.socket]
    metrics: list[socket.socket] | None = None

    def close(self) -> None:
        for sock in [*self.api, *(self.metrics or [])]:
            sock.close()


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(host: str, port: int, what: str) -> list[socket.socket]:
    """Sockets bound to every address of host:port (``localhost`` may be 127.0.0.1 and ::1, "" is
    all interfaces), not yet listening: aiohttp starts listening once the app is up, so while it
    starts, connections are refused rather than left hanging."""
    where = f"{url_host(host)}:{port}"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen for {what} on {where}: unknown address ({exc.strerror})") from None
    addresses = list(dict.fromkeys((family, kind, proto, address) for family, kind, proto, _, address in infos))
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, address in addresses:
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            # As asyncio does: a previous run's connections in TIME_WAIT must not block a restart,
            # and an IPv6 socket beside an IPv4 one must not claim the IPv4 port as well.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and len(addresses) > 1:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # Linux still refuses the bind while another socket listens there: that is "busy".
            sock.bind(address)
            sock.setblocking(False)
    except OSError as exc:
        for sock in bound:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(
                f"cannot listen for {what} on {where}: the port is already in use "
                "(another imagepipe or another program); stop it or choose another port"
            ) from None
        if exc.errno == errno.EACCES:
            raise ListenError(f"cannot listen for {what} on {where}: permission denied") from None
        raise ListenError(f"cannot listen for {what} on {where}: {exc.strerror}") from None
    return bound


def bind_listeners(settings: Settings) -> Listeners:
    api = bind(settings.host, settings.port, "the API")
    if not settings.metrics_port:
        return Listeners(api)
    try:
        return Listeners(api, bind(settings.metrics_host or settings.host, settings.metrics_port, "metrics"))
    except ListenError:
        for sock in api:
            sock.close()
        raise


def ready_line(settings: Settings, listeners: Listeners) -> str:
    """``ready on http://HOST:PORT``, with the metrics listener when it has its own."""
    port = listeners.api[0].getsockname()[1]
    line = f"ready on http://{url_host(settings.host)}:{port}"
    if listeners.metrics is not None:
        metrics_host = settings.metrics_host or settings.host
        line += f" (metrics on http://{url_host(metrics_host)}:{listeners.metrics[0].getsockname()[1]}/metrics)"
    return line


def announce_ready(settings: Settings, listeners: Listeners) -> Callable[..., None]:
    """For ``web.run_app(print=...)``, which calls it once, after start-up and every site started."""

    def announce(*_: object) -> None:
        log.info("%s (data dir %s)", ready_line(settings, listeners), settings.data_dir)

    return announce
