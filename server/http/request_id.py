"""``X-Request-Id``: echo a sane one from the client, otherwise make one; it tags every log line of
the request (``server.logs.request_id_var``) and its access line."""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from ..logs import request_id_var

REQUEST_ID = web.RequestKey("request_id", str)
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _SANE.match(given) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    request_id_var.set(request_id)  # this request's own task: never seen by another request
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-Id"] = request_id
        raise
    response.headers["X-Request-Id"] = request_id
    return response


async def stamp_prepared(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: an answer its handler sends itself (the notification stream) has its
    headers on the wire before the middleware above sees it; it carries the id all the same."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers.setdefault("X-Request-Id", request_id)
