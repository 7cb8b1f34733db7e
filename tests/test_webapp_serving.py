"""How the web app is served: the page and its files, their types, caching and security headers,
and that ``GET /`` and ``/app/...`` shadow none of the service's other paths."""

from __future__ import annotations

import gzip
import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from server.app import create_app
from server.config import Settings
from server.web import content_security_policy
from server.web._assets import load_bundle
from server.web._routes import render_page

class _Page(HTMLParser):
    """What a page loads and runs: asset URLs, inline scripts, inline styles and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self.metas: dict[str, str] = {}
        self.hidden_links: dict[str, bool] = {}
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in a:
            if name.startswith("on") or name == "style":
                self.inline.append(f"<{tag} {name}=...>")
        if tag == "script":
            if a.get("src"):
                self.urls.append(a["src"] or "")
            else:
                self._in_script = True
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"] or "")
        if tag == "meta" and a.get("name"):
            self.metas[a["name"] or ""] = a.get("content") or ""
        if tag == "a" and a.get("href"):
            self.hidden_links[a["href"] or ""] = "hidden" in a

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"<script>{data[:40]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


async def test_the_page_is_revalidated_strictly_policed_and_loads_only_its_own_files(client, data_dir: Path) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-cache" and resp.headers["ETag"]
    csp = dict(d.strip().split(" ", 1) for d in resp.headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert "unsafe" not in resp.headers["Content-Security-Policy"]
    assert csp["frame-ancestors"] == "'none'" and csp["require-trusted-types-for"] == "'script'"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"

    page = parse(await resp.text())
    assert page.inline == [], "the policy allows no inline script, style or handler"
    assert page.metas["imagepipe:outbox"] == str(data_dir / "outbox")  # file mail mode: where mail goes
    assert page.urls and all(u.startswith("/app/") for u in page.urls), page.urls
    kinds = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for url in page.urls:
        asset = await client.get(url)
        assert asset.status == 200, url
        assert asset.content_type == kinds[Path(url).suffix], url
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert asset.headers["X-Content-Type-Options"] == "nosniff"


async def test_unchanged_files_answer_304_and_text_goes_gzipped(client) -> None:
    page = await client.get("/")
    again = await client.get("/", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status == 304 and await again.read() == b""
    assert again.headers["Cache-Control"] == "no-cache" and "Content-Security-Policy" in again.headers

    main_js = next(u for u in parse(await page.text()).urls if u.endswith("/js/main.js"))
    plain = await client.get(main_js, headers={"Accept-Encoding": "identity"}, auto_decompress=False)
    body = await plain.read()
    assert "Content-Encoding" not in plain.headers and b"import" in body
    packed = await client.get(main_js, headers={"Accept-Encoding": "gzip, br"}, auto_decompress=False)
    assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(await packed.read()) == body
    cached = await client.get(main_js, headers={"If-None-Match": plain.headers["ETag"]})
    assert cached.status == 304


async def test_only_the_current_versions_files_are_served(client) -> None:
    page = parse(await (await client.get("/")).text())
    url = next(u for u in page.urls if u.endswith("/app.css"))
    version = url.split("/")[2]
    for bad in [
        url.replace(version, "0" * len(version)),  # an older release's URL: not answered with new bytes
        f"/app/{version}/index.html",  # the page's template is not an asset
        f"/app/{version}/js/nothing.js",
        f"/app/{version}/..%2F_routes.py",
        f"/app/{version}/js/..%2F..%2F_assets.py",
    ]:
        resp = await client.get(bad)
        assert resp.status == 404, bad
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_the_app_shadows_no_other_path(client) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status in (200, 503)  # pipeline off here: still its own handler
    metrics = await client.get("/metrics")
    assert metrics.status == 200 and "text/plain" in metrics.headers["Content-Type"]
    for path in ("/api/v1/no-such-thing", "/media/posts/nothing.jpg", "/index.html", "/app", "/app/"):
        resp = await client.get(path)
        assert resp.status == 404 and resp.content_type == "application/json", path
    resp = await client.post("/api/v1/auth/login", json={"login": "nobody", "password": "x" * 12})
    assert resp.status == 401 and resp.content_type == "application/json"
    resp = await client.post("/", data=b"x")
    assert resp.status == 405


async def test_the_page_links_the_docs_the_server_serves(aiohttp_client, settings: Settings, db_pool) -> None:
    """The app links /api/docs only when a route answers there (it does since the API docs landed)."""
    app = create_app(settings, pool=db_pool, pipeline=False)
    assert any(r.canonical == "/api/docs" for r in app.router.resources())
    client = await aiohttp_client(app)
    page = parse(await (await client.get("/")).text())
    assert page.hidden_links["/api/docs"] is False
    assert (await client.get("/api/docs")).status == 200


def test_without_docs_the_link_is_hidden() -> None:
    template = '<a href="/api/docs" {{docs_hidden}}>API docs</a>'
    assert "hidden" in render_page(template, asset_base="/app/x/", outbox="", docs=False)
    assert "hidden" not in render_page(template, asset_base="/app/x/", outbox="", docs=True)


async def test_with_smtp_mail_the_page_names_no_outbox(aiohttp_client, settings: Settings, db_pool) -> None:
    smtp = settings.with_overrides(mail_mode="smtp", smtp_host="127.0.0.1")
    client = await aiohttp_client(create_app(smtp, pool=db_pool, pipeline=False))
    page = parse(await (await client.get("/")).text())
    assert page.metas["imagepipe:outbox"] == ""


# -- pure parts -----------------------------------------------------------------------------------


def _directive(policy: str, name: str) -> list[str]:
    for part in policy.split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"{name} missing from {policy}")


def test_the_policy_lets_the_page_reach_exactly_the_store_and_the_cdn(settings: Settings) -> None:
    local = settings.with_overrides(public_base_url="http://photos.lan:8080")
    policy = content_security_policy(local)
    assert _directive(policy, "connect-src") == ["'self'", "http://photos.lan:8080"]
    assert _directive(policy, "img-src") == ["'self'", "blob:", "http://photos.lan:8080"]

    minio = settings.with_overrides(storage="s3", s3_bucket="b", s3_endpoint_url="https://minio.example:9000/",
                                    cdn_base_url="https://cdn.example/photos")
    policy = content_security_policy(minio)
    assert _directive(policy, "connect-src") == ["'self'", "https://minio.example:9000"]
    assert _directive(policy, "img-src") == ["'self'", "blob:", "https://cdn.example", "https://minio.example:9000"]

    aws = settings.with_overrides(storage="s3", s3_bucket="pics", s3_region="eu-west-1", s3_endpoint_url="",
                                  cdn_base_url="")
    policy = content_security_policy(aws)
    assert _directive(policy, "connect-src") == ["'self'", "https://pics.s3.eu-west-1.amazonaws.com"]
    for name in ("script-src", "style-src"):
        assert _directive(policy, name) == ["'self'"]


def test_page_values_are_escaped() -> None:
    text = render_page('<meta content="{{outbox}}"><link href="{{app}}/a.css"><a {{docs_hidden}}>',
                       asset_base="/app/v1", outbox='/srv/"><script>x</script>', docs=False)
    assert "<script>" not in text and "&quot;&gt;&lt;script&gt;" in text
    assert "<a hidden>" in text
    with pytest.raises(ValueError):
        render_page("{{unknown}}", asset_base="", outbox="", docs=True)


def test_a_file_of_unknown_type_stops_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "notes.txt").write_text("?")
    with pytest.raises(ValueError, match="notes.txt"):
        load_bundle(tmp_path)  # type: ignore[arg-type]


def test_the_version_changes_with_any_file(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text("export const a = 1;")
    first = load_bundle(tmp_path)  # type: ignore[arg-type]
    assert set(first.assets) == {"js/a.js"}
    (tmp_path / "js" / "a.js").write_text("export const a = 2;")
    assert load_bundle(tmp_path).version != first.version  # type: ignore[arg-type]


# -- the JavaScript, read as text -------------------------------------------------------------------

_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'";]*?\bfrom\s+['"]([^'"]+)['"]""", re.MULTILINE)
# What the page's policy refuses at run time; caught here first, with the file's name.
_FORBIDDEN = re.compile(r"\.innerHTML\b|\.outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(")


def test_every_module_import_is_a_file_of_the_bundle_and_no_script_takes_html() -> None:
    bundle = load_bundle()
    modules = [name for name in bundle.assets if name.endswith(".js")]
    assert "js/main.js" in modules
    for name in modules:
        text = bundle.assets[name].body.decode()
        for target in _IMPORT.findall(text):
            assert target.startswith("./") or target.startswith("../"), f"{name} imports {target}: relative files only"
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
            assert resolved in bundle.assets, f"{name} imports {target}, which is not in server/web/static"
        found = _FORBIDDEN.search(text)
        assert not found, f"{name} uses {found.group(0)}: build nodes with dom.js instead"
    css = bundle.assets["app.css"].body.decode()
    assert "url(" not in css and "@import" not in css  # nothing fetched from elsewhere
