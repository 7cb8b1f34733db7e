"""``GET /`` (the page) and ``GET /app/{version}/{name}`` (its files), from memory.

The page is revalidated on every load (``no-cache`` + ETag, a 304 when unchanged) so an upgrade is
picked up at once; its files live under a version hash and are cached for a year. Both carry the
security headers of ``_policy``. Nothing here reads the file system per request, and only the
files of the bundle are served: the route is not a window onto the disk.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from aiohttp import web

from .. import appkeys
from ..http import ApiError
from ._assets import Asset, Bundle, load_bundle, make_asset
from ._policy import page_headers

ASSET_PREFIX = "/app"
CACHE_FOREVER = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
DOCS_PATH = "/api/docs"


@dataclass
class _State:
    bundle: Bundle
    page: Asset | None = None  # rendered on first request, once every route is registered
    headers: dict[str, str] = field(default_factory=dict)


_STATE = web.AppKey("web_app_state", _State)


def render_page(template: str, *, asset_base: str, outbox: str, docs: bool) -> str:
    """The page with its few server-side values; every value is escaped for HTML."""
    values = {
        "app": asset_base,
        "outbox": outbox,
        "docs_hidden": "" if docs else "hidden",
    }
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", html.escape(value))
    if "{{" in template:
        raise ValueError("index.html names a value the server does not fill: " + template[template.index("{{"):][:40])
    return template


def _page(app: web.Application) -> Asset:
    state = app[_STATE]
    if state.page is None:
        settings = app[appkeys.SETTINGS]
        has_docs = any(r.canonical == DOCS_PATH for r in app.router.resources())
        text = render_page(
            state.bundle.page_template,
            asset_base=f"{ASSET_PREFIX}/{state.bundle.version}",
            # In file mode no mail leaves the machine: the page says where to find it.
            outbox=str(settings.data_dir / "outbox") if settings.mail_mode == "file" else "",
            docs=has_docs,
        )
        state.page = make_asset("index.html", text.encode())
    return state.page


def _answer(request: web.Request, asset: Asset, headers: dict[str, str]) -> web.Response:
    headers = {**headers, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if asset.etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = asset.content_type
    if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        return web.Response(body=asset.gzipped, headers={**headers, "Content-Encoding": "gzip"})
    return web.Response(body=asset.body, headers=headers)


async def index(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    return _answer(request, _page(request.app), {**state.headers, "Cache-Control": REVALIDATE})


async def asset(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    found = state.bundle.assets.get(request.match_info["name"])
    if found is None or request.match_info["version"] != state.bundle.version:
        # An old version's URL is not answered with new bytes: a cached page reloads instead.
        raise ApiError(404, "not_found", "no such file of the web app")
    return _answer(request, found, {"Cache-Control": CACHE_FOREVER, "X-Content-Type-Options": "nosniff"})


def add_routes(app: web.Application) -> None:
    app[_STATE] = _State(bundle=load_bundle(), headers=page_headers(app[appkeys.SETTINGS]))
    app.router.add_get("/", index)
    app.router.add_get(ASSET_PREFIX + "/{version}/{name:.+}", asset)
