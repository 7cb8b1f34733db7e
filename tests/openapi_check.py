"""Every response the test suite receives from imagepipe is checked against the OpenAPI document.

Hooks, installed for the whole session by ``conftest.py``:
- aiohttp: every ``aiohttp.ClientSession`` (the pytest-aiohttp ``TestClient`` makes one too) gets a
  client middleware (aiohttp's own extension point) that validates each answer;
- urllib: a global opener whose processor validates each answer before ``urlopen`` returns or raises.

Only answers from our own servers are judged: ``serverproc.ServerProcess`` and the aiohttp test
fixtures register their origins, so the S3 server (moto) and anything else is left alone. A path
and method the document does not describe (a 404 for an unknown URL, a 405) has no operation to
check against; that every real route is described is ``test_openapi_document.py``'s job.

A mismatch raises ``OpenApiDrift`` at the call and is also recorded, so a helper that swallows
exceptions still fails its test (``conftest.py`` checks the record after each test).

openapi-core does the validation: it is the python-openapi project's validator of requests and
responses against OpenAPI 3.0/3.1 (the same people keep openapi-spec-validator and
openapi-schema-validator), maintained, with JSON Schema 2020-12 and format checks for 3.1.
"""

from __future__ import annotations

import copy
import io
import re
import threading
import urllib.request
import urllib.response
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from server.openapi import load_document

STREAMING_TYPES = ("text/event-stream",)  # never read to the end: they do not end


class OpenApiDrift(AssertionError):
    """A response that the OpenAPI document does not allow."""


@dataclass
class _Request:
    """The request side openapi-core needs to find the operation (it does not validate it here)."""

    host_url: str
    path: str
    method: str
    query: list[tuple[str, str]]
    body: bytes | None = None
    content_type: str = "application/json"
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = RequestParameters(query=ImmutableMultiDict(self.query))


@dataclass
class _Response:
    status_code: int
    data: bytes
    headers: Headers
    content_type: str


@dataclass
class Record:
    """Origins we judge, and what went wrong; one per session, shared by every hook."""

    origins: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    checked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


RECORD = Record()


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(with_preflights(load_document()))


def with_preflights(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with its ``x-cors-preflight`` as the ``OPTIONS`` operation of every path, so
    the preflights the suite sends are checked like any other answer (the served document keeps
    it in one place: client generators have no use for an OPTIONS method per path)."""
    checked = copy.deepcopy(dict(document))
    template = checked.get("x-cors-preflight")
    for path, item in checked["paths"].items() if template else ():
        preflight = copy.deepcopy(template)
        preflight["operationId"] = f"corsPreflight {path}"
        preflight["parameters"] = [*preflight.get("parameters", []), *(
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{([^}]+)\}", path))]
        item.setdefault("options", preflight)
    return checked


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = "127.0.0.1" if parts.hostname in ("localhost", "::1") else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def register_origin(base_url: str) -> None:
    """Answers from ``base_url``'s scheme, host and port are imagepipe's and are checked."""
    with RECORD.lock:
        RECORD.origins.add(origin_of(base_url))


def forget_origin(base_url: str) -> None:
    """That server has stopped: its port may be reused by another server, which is not ours."""
    with RECORD.lock:
        RECORD.origins.discard(origin_of(base_url))


def problems(method: str, url: str, status: int, headers: Mapping[str, str] | Iterable[tuple[str, str]],
             body: bytes) -> list[str]:
    """What is wrong with this answer according to the document; [] when it conforms or when the
    document has no operation for the method and path."""
    parts = urlsplit(url)
    headers = Headers(headers.items() if isinstance(headers, Mapping) else headers)
    request = _Request(f"{parts.scheme}://{parts.netloc}", parts.path, method.lower(), parse_qsl(parts.query))
    content_type = headers.get("Content-Type", "")
    response = _Response(status, body, headers, content_type)
    try:
        errors = list(openapi().iter_response_errors(request, response))
    except PathError:
        return []
    found = [e for e in errors if not isinstance(e, PathError)]
    return [_describe(e) for e in found]


def _describe(error: Exception) -> str:
    """The error and, for a body that breaks its schema, each JSON Schema complaint."""
    details = [str(e.message)[:300] for e in getattr(error.__cause__, "schema_errors", ()) or ()]
    return f"{type(error).__name__}: {'; '.join(details) if details else str(error)[:300]}"


def judge(method: str, url: str, status: int, headers: Any, body: bytes) -> None:
    """Raise (and record) OpenApiDrift if this answer from one of our servers breaks the document."""
    if origin_of(url) not in RECORD.origins or method.upper() == "HEAD":
        return
    found = problems(method, url, status, headers, body)
    with RECORD.lock:
        RECORD.checked += 1
        if found:
            message = f"{method.upper()} {urlsplit(url).path} -> {status}: " + " | ".join(found)
            RECORD.failures.append(message + f"\nbody: {body[:500]!r}")
    if found:
        raise OpenApiDrift(RECORD.failures[-1])


# -- aiohttp -----------------------------------------------------------------------------------


async def aiohttp_middleware(request: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
    response = await handler(request)
    if origin_of(str(request.url)) in RECORD.origins and response.content_type not in STREAMING_TYPES:
        body = await response.read()  # cached by aiohttp: the caller can still read it
        judge(request.method, str(request.url), response.status, list(response.headers.items()), body)
    return response


def install_aiohttp_hook() -> None:
    """Every ClientSession made from now on validates its answers (our middleware goes last, so it
    sees the final answer of any middleware the test gave)."""
    original = aiohttp.ClientSession.__init__
    if getattr(original, "_openapi_checked", False):
        return

    def __init__(self: aiohttp.ClientSession, *args: Any, middlewares: Any = (), **kwargs: Any) -> None:
        original(self, *args, middlewares=(*middlewares, aiohttp_middleware), **kwargs)

    __init__._openapi_checked = True  # type: ignore[attr-defined]
    aiohttp.ClientSession.__init__ = __init__  # type: ignore[method-assign]


# -- urllib ------------------------------------------------------------------------------------


class UrllibHook(urllib.request.BaseHandler):
    """A response processor run before HTTPErrorProcessor (1000), so error answers are judged too."""

    handler_order = 100

    def http_response(self, request: urllib.request.Request, response: Any) -> Any:
        url = request.full_url
        if origin_of(url) not in RECORD.origins or response.headers.get_content_type() in STREAMING_TYPES:
            return response
        body = response.read()
        replay = urllib.response.addinfourl(io.BytesIO(body), response.headers, response.url, response.status)
        replay.msg = response.reason  # HTTPErrorProcessor reads it
        judge(request.get_method(), url, response.status, list(response.headers.items()), body)
        return replay

    https_response = http_response


def install_urllib_hook() -> None:
    urllib.request.install_opener(urllib.request.build_opener(UrllibHook()))
