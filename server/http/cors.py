"""Cross-origin calls from web apps served elsewhere (``cors_origins``; none by default).

A library such as aiohttp-cors wants every route registered with it one by one, and routes here
are added by many modules; the rules fit in one middleware (preflights) and one response signal
(headers on real answers, streamed ones included, since the signal fires before headers go out).

Answers carry no ``Access-Control-Allow-Credentials``: the API takes Bearer tokens, never cookies,
so another origin gains nothing a script there could not already do with a token it holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Collection

from aiohttp import web

from ..appkeys import SETTINGS
from .errors import error_response

MAX_AGE_S = 600  # browsers cap it anyway (Chromium at 2 h); 10 min keeps config changes quick
EXPOSED = "X-Request-Id, Retry-After, ETag, Location, WWW-Authenticate"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def origin_allowed(origin: str, allowed: Collection[str]) -> bool:
    return bool(origin) and ("*" in allowed or origin.lower() in allowed)


@dataclass(frozen=True)
class Preflight:
    """The answer to one preflight: 204 with the grant, or an error code."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    code: str = ""
    message: str = ""


def decide_preflight(
    origin: str, allowed: Collection[str], method: str, requested_headers: str, route_methods: Collection[str]
) -> Preflight:
    """Pure rules: the origin must be listed, the method one the path has, the headers tokens."""
    if not origin_allowed(origin, allowed):
        return Preflight(403, code="cors_origin_not_allowed", message=f"origin {origin!r} may not call this API")
    methods = sorted(set(route_methods))
    if method.upper() not in methods:
        return Preflight(
            405, {"Allow": ", ".join(methods)}, "cors_method_not_allowed",
            f"{method!r} is not a method of this path (allowed: {', '.join(methods)})",
        )
    headers = [h.strip().lower() for h in requested_headers.split(",") if h.strip()]
    bad = [h for h in headers if not _TOKEN.match(h)]
    if bad:
        return Preflight(400, code="cors_bad_headers", message="Access-Control-Request-Headers is malformed")
    grant = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Max-Age": str(MAX_AGE_S),
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    if headers:  # any header a listed origin asks for: the API's own checks decide what they mean
        grant["Access-Control-Allow-Headers"] = ", ".join(headers)
    return Preflight(204, grant)


@web.middleware
async def cors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    origin = request.headers.get("Origin", "")
    wanted = request.headers.get("Access-Control-Request-Method", "")
    if request.method != "OPTIONS" or not origin or not wanted:
        return await handler(request)
    # No route answers OPTIONS, so a preflight for a real path resolves to "405 method not allowed"
    # carrying the path's methods; an unknown path stays a plain 404.
    refused = request.match_info.http_exception
    if not isinstance(refused, web.HTTPMethodNotAllowed):
        return await handler(request)
    verdict = decide_preflight(
        origin, request.app[SETTINGS].cors_origins, wanted,
        request.headers.get("Access-Control-Request-Headers", ""), refused.allowed_methods,
    )
    if verdict.status == 204:
        return web.Response(status=204, headers=verdict.headers)
    return error_response(verdict.status, verdict.code, verdict.message, headers=verdict.headers)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: let a listed origin read the answer (errors too) and its useful headers."""
    allowed = request.app[SETTINGS].cors_origins
    if not allowed:
        return
    origin = request.headers.get("Origin", "")
    vary = response.headers.get("Vary", "")
    if "origin" not in vary.lower():  # caches must not hand one origin's answer to another
        response.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"
    if origin_allowed(origin, allowed) and "Access-Control-Allow-Origin" not in response.headers:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(add_cors_headers)
