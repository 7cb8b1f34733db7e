"""The OpenAPI document: valid, complete (every route of the app is described, every described
operation exists), served, and the response checks of the test suite really bite."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import validate

import openapi_check
from server.app import create_app
from server.config import Settings
from server.openapi import load_document

SAMPLE_PARAM = "00000000-0000-4000-8000-000000000000"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def test_document_is_valid_openapi_3_1() -> None:
    document = load_document()
    assert document["openapi"].startswith("3.1")
    validate(document)  # openapi-spec-validator: raises on any structural error


def test_every_operation_has_an_id_a_tag_and_only_documented_error_codes() -> None:
    ids = []
    for path, item in load_document()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                assert operation.get("operationId") and operation.get("tags"), f"{method} {path}"
                ids.append(operation["operationId"])
                assert operation["responses"], f"{method} {path} documents no response"
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def _operations() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{method.upper()} {path}", item[method]) for path, item in load_document()["paths"].items()
            for method in HTTP_METHODS if method in item]


def _codes(response: dict[str, Any]) -> set[str]:
    """The error codes a (loader-expanded) response allows; a $ref is followed."""
    if "$ref" in response:
        response = load_document()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    for part in schema.get("allOf", []):
        code = part.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
        if "enum" in code:
            return set(code["enum"])
    return set()


def test_every_json_body_operation_documents_the_body_errors() -> None:
    """What read_json answers for any JSON endpoint, so that no operation forgets one."""
    wanted = {"400": "invalid_json", "408": "request_timeout", "413": "payload_too_large",
              "415": "unsupported_media_type"}
    missing = [f"{label} {status} {code}" for label, operation in _operations()
               if "application/json" in operation.get("requestBody", {}).get("content", {})
               for status, code in wanted.items() if code not in _codes(operation["responses"].get(status, {}))]
    assert not missing, missing


# Operations that use no database, file system or other service: nothing of theirs can be unavailable.
NEEDS_NOTHING = {"healthz", "readyz", "getOpenApi", "getDocsPage", "getDocsAsset", "verifyEmailLink",
                 "verifyEmailPage", "resetPasswordPage", "getWebApp", "getWebAppFile"}


def test_every_operation_that_needs_a_service_documents_the_outage_answer() -> None:
    missing = [label for label, operation in _operations()
               if operation["operationId"] not in NEEDS_NOTHING
               and not {"database_unavailable", "temporarily_unavailable"} <= _codes(operation["responses"].get("503", {}))]
    assert not missing, missing


def test_every_operation_that_takes_a_token_documents_each_refusal() -> None:
    missing = [label for label, operation in _operations()
               if {"bearerAuth": []} in operation.get("security", [])
               and not {"unauthorized", "invalid_token", "token_expired"} <= _codes(operation["responses"].get("401", {}))]
    assert not missing, missing


def test_every_operation_can_be_refused_before_it_runs() -> None:
    for label, operation in _operations():
        assert _codes(operation["responses"]["414"]) == {"uri_too_long"}, label
        assert _codes(operation["responses"]["431"]) == {"headers_too_large"}, label


def _sample(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", SAMPLE_PARAM, path)


async def _resolve(app: web.Application, method: str, path: str) -> Any:
    match = await app.router.resolve(make_mocked_request(method.upper(), path, app=app))
    return match.route if match.http_exception is None else None


async def test_every_route_is_documented_and_every_documented_operation_exists(settings: Settings, db_pool) -> None:
    app = create_app(settings.with_overrides(storage="local"), pool=db_pool, pipeline=False)
    documented: set[int] = set()
    missing = []
    for path, item in load_document()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                route = await _resolve(app, method, _sample(path))
                if route is None or route.method == "*":
                    missing.append(f"{method.upper()} {path}")
                else:
                    documented.add(id(route))
    assert not missing, f"documented but no such route: {missing}"

    get_resources = {id(r.resource) for r in app.router.routes() if id(r) in documented and r.method == "GET"}
    undocumented = [
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if id(route) not in documented
        # HEAD is aiohttp's automatic twin of a GET: the GET's description covers it.
        and not (route.method == "HEAD" and id(route.resource) in get_resources)
    ]
    assert not undocumented, f"routes missing from the OpenAPI fragments in server/openapi/: {undocumented}"


async def test_document_and_docs_page_are_served(client) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert await resp.json() == json.loads(json.dumps(load_document()))

    resp = await client.get("/api/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    assert "/api/docs/swagger-ui-bundle.js" in page and "https://" not in page  # nothing from a CDN
    for asset, kind in [("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css"),
                        ("init.js", "text/javascript"), ("favicon-32x32.png", "image/png")]:
        assert f"/api/docs/{asset}" in page
        resp = await client.get(f"/api/docs/{asset}")
        body = await resp.read()
        assert resp.status == 200 and resp.content_type == kind and len(body) > 100, asset
    assert b"SwaggerUIBundle" in await (await client.get("/api/docs/swagger-ui-bundle.js")).read()
    init = await (await client.get("/api/docs/init.js")).text()
    assert '"/api/v1/openapi.json"' in init and "validatorUrl: null" in init


@pytest.mark.parametrize("asset", ["index.html", "swagger-ui-bundle.js.map", "..%2F..%2Fsetup.cfg", "%2e%2e"])
async def test_docs_serve_only_their_own_files(client, asset: str) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get(f"/api/docs/{asset}")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"


# -- the checks that keep handlers true to the document ------------------------------------------


def _drifting_app() -> web.Application:
    """/healthz answering something the document does not allow."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "sleeping"}, headers={"X-Request-Id": "r1"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    return app


def _take_recorded(marker: str) -> list[str]:
    """Remove (and return) what this test provoked on purpose, so the session record stays clean."""
    record = openapi_check.RECORD
    with record.lock:
        mine = [f for f in record.failures if marker in f]
        record.failures[:] = [f for f in record.failures if marker not in f]
    return mine


async def test_a_drifting_answer_fails_the_aiohttp_client(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(_drifting_app())
    with pytest.raises(openapi_check.OpenApiDrift, match="sleeping"):
        await client.get("/healthz")
    assert _take_recorded("sleeping")


async def test_a_drifting_answer_fails_urllib_callers(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    server = await aiohttp_server(_drifting_app())

    def fetch() -> None:
        with urllib.request.urlopen(str(server.make_url("/healthz")), timeout=10) as resp:
            resp.read()

    with pytest.raises(openapi_check.OpenApiDrift, match="sleeping"):
        await asyncio.to_thread(fetch)
    assert _take_recorded("sleeping")


async def test_an_undocumented_status_or_error_code_is_drift(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    async def register(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "made_up_code", "message": "x"}}, status=400,
                                 headers={"X-Request-Id": "r1"})

    async def me(request: web.Request) -> web.Response:
        return web.json_response({}, status=418, headers={"X-Request-Id": "r1"})

    app = web.Application()
    app.router.add_post("/api/v1/auth/register", register)
    app.router.add_get("/api/v1/auth/me", me)
    server = await aiohttp_server(app)

    def call(method: str, path: str) -> int:
        request = urllib.request.Request(str(server.make_url(path)), method=method, data=b"{}" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    with pytest.raises(openapi_check.OpenApiDrift, match="made_up_code"):
        await asyncio.to_thread(call, "POST", "/api/v1/auth/register")
    with pytest.raises(openapi_check.OpenApiDrift, match="418"):
        await asyncio.to_thread(call, "GET", "/api/v1/auth/me")
    assert _take_recorded("made_up_code") and _take_recorded("418")


async def test_answers_of_other_servers_are_not_judged(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestServer

    server = TestServer(_drifting_app())  # not through the fixture: not registered as ours
    await server.start_server()
    try:
        def fetch() -> bytes:
            with urllib.request.urlopen(str(server.make_url("/healthz")), timeout=10) as resp:
                return resp.read()

        assert b"sleeping" in await asyncio.to_thread(fetch)
    finally:
        await server.close()


async def test_a_drifting_preflight_fails_the_test(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    """Preflights are checked against ``x-cors-preflight``: a grant without its headers is drift."""

    async def preflight(request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"X-Request-Id": "r1"})

    app = web.Application()
    app.router.add_route("OPTIONS", "/api/v1/auth/login", preflight)
    client = await aiohttp_client(app)
    with pytest.raises(openapi_check.OpenApiDrift, match="Access-Control-Allow-Origin"):
        await client.options("/api/v1/auth/login", headers={"Origin": "https://a.example",
                                                            "Access-Control-Request-Method": "POST"})
    assert _take_recorded("Access-Control-Allow-Origin")
