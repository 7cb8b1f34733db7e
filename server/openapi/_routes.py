"""``GET /api/v1/openapi.json`` and the interactive docs at ``GET /api/docs``.

The docs page is Swagger UI from the ``swagger-ui-bundle-v2`` package (its files, served from the
installed package or the executable's bundle: no CDN, so it works offline); the page and its small
start-up script are ours (``ui/``). Only the files the page needs are served, by name: the asset
route is not a window onto the file system.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from ..http import ApiError
from ._loader import document_json

_UI = resources.files(__package__ or "server.openapi") / "ui"
# name -> (file, Content-Type); the bundle's JavaScript is 1.5 MB, its source maps are not shipped.
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (Path(str(swagger_ui_path / "swagger-ui-bundle.js")), "text/javascript; charset=utf-8"),
    "swagger-ui.css": (Path(str(swagger_ui_path / "swagger-ui.css")), "text/css; charset=utf-8"),
    "favicon-32x32.png": (Path(str(swagger_ui_path / "favicon-32x32.png")), "image/png"),
    "init.js": (Path(str(_UI / "init.js")), "text/javascript; charset=utf-8"),
}
# Revalidate on every load (answered 304 by ETag): an upgrade must not leave a stale page behind.
_REVALIDATE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=document_json(), content_type="application/json", headers=_REVALIDATE)


async def docs_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(Path(str(_UI / "index.html")),
                            headers={**_REVALIDATE, "Content-Type": "text/html; charset=utf-8"})


async def docs_asset(request: web.Request) -> web.StreamResponse:
    found = ASSETS.get(request.match_info["asset"])
    if found is None:
        raise ApiError(404, "not_found", "no such file")
    path, content_type = found
    return web.FileResponse(path, headers={**_REVALIDATE, "Content-Type": content_type})


def add_routes(app: web.Application) -> None:
    document_json()  # a fragment that does not merge stops the start, not the first request
    app.router.add_get("/api/v1/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
    app.router.add_get("/api/docs/{asset}", docs_asset)
