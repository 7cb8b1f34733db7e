"""The app's files, read once into memory with their type, ETag and a gzip copy.

Files are served under ``/app/{version}/...``, where ``version`` is a hash of every file: a release
that changes any file changes every asset URL, so assets can be cached forever (``immutable``) and
the modules' relative imports (``./api.js``) stay inside one version. Only the page itself
(``/``) is revalidated on each load, and it is a few hundred bytes.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}
PAGE = "index.html"  # the template of GET /, not an asset
_MIN_GAIN = 0.9  # keep a gzip copy only when it saves at least a tenth


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


def make_asset(name: str, body: bytes) -> Asset:
    suffix = name[name.rfind("."):] if "." in name else ""
    if suffix not in CONTENT_TYPES:
        raise ValueError(f"server/web/static/{name}: no content type for {suffix or 'a name without suffix'}")
    packed = gzip.compress(body, compresslevel=9, mtime=0)
    return Asset(
        body=body,
        gzipped=packed if len(packed) < len(body) * _MIN_GAIN else None,
        content_type=CONTENT_TYPES[suffix],
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
    )


def _walk(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.update(_walk(entry, f"{name}/"))
        elif not entry.name.startswith("."):
            found[name] = entry.read_bytes()
    return found


@dataclass(frozen=True)
class Bundle:
    version: str
    page_template: str
    assets: dict[str, Asset]


def load_bundle(folder: Traversable | None = None) -> Bundle:
    """Every file under ``static/`` (the package's, unless another folder is given)."""
    files = _walk(folder or resources.files(__package__ or "server.web") / "static")
    template = files.pop(PAGE).decode()
    digest = hashlib.sha256(template.encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return Bundle(
        version=digest.hexdigest()[:12],
        page_template=template,
        assets={name: make_asset(name, body) for name, body in files.items()},
    )
