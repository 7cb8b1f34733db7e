"""What every response says about us: nothing an attacker can match against a CVE list.

aiohttp announces ``Server: Python/3.x aiohttp/3.y.z`` by default; we send a bare product name on
every response the app makes (``install``) and on the protocol's own error answers
(``server.http.protocol``).
"""

from __future__ import annotations

from aiohttp import hdrs, web

SERVER_NAME = "imagepipe"


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[hdrs.SERVER] = SERVER_NAME


def install(app: web.Application) -> None:
    """Hook the app's responses (``on_response_prepare`` runs before aiohttp adds its default)."""
    app.on_response_prepare.append(_server_header)
