"""Local mode's media routes on the real app (create_app on a real port): signed uploads refuse
anything the signature does not allow and never leave a partial object; variants are served with
immutable cache headers and ETags; sources stay private."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest

from server import appkeys
from server.app import CLIENT_MAX_SIZE, create_app
from server.storage import LocalStore
from server.storage.media_routes import CACHE_FOREVER
from server.storage.signing import UploadGrant, derive_signing_key, sign_query
from serverproc import free_port

SOURCE = "uploads/u1/p1/source"


@dataclass
class Media:
    base: str
    store: LocalStore
    jwt_key: str

    def upload_url(self, key: str, **query: str) -> str:
        return f"{self.base}/media/upload/{key}?{urlencode(query)}"


@pytest.fixture
async def media(aiohttp_server, settings, db_pool) -> Media:
    port = free_port()
    app = create_app(settings.with_overrides(public_base_url=f"http://127.0.0.1:{port}"), pool=db_pool, pipeline=False)
    await aiohttp_server(app, port=port)
    store = app[appkeys.STORE]
    assert isinstance(store, LocalStore)
    return Media(base=f"http://127.0.0.1:{port}", store=store, jwt_key=app[appkeys.JWT_KEY])


async def _put(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.put(url, data=data, headers=headers) as resp:
            return resp.status, await resp.json()


def _leftovers(store: LocalStore) -> list[Path]:
    # os.walk, not rglob: the store prunes emptied folders while we look, and rglob fails on a
    # folder that vanishes between listing and entering it.
    return [Path(d) / name for d, _, names in os.walk(store.root) for name in names]


async def test_signed_upload_stores_exact_bytes(media: Media) -> None:
    data = os.urandom(10_000)
    up = media.store.presign_put(SOURCE, "image/jpeg", len(data), hashlib.sha256(data).hexdigest(), 60)
    assert up.url.startswith(f"{media.base}/media/upload/{SOURCE}?")
    status, body = await _put(up.url, data, up.headers)
    assert status == 200, body
    assert await media.store.get(SOURCE) == data
    assert body["size"] == len(data)


async def test_upload_larger_than_client_max_size_streams(media: Media) -> None:
    data = os.urandom(CLIENT_MAX_SIZE * 3 + 1)
    up = media.store.presign_put(SOURCE, "image/heic", len(data), hashlib.sha256(data).hexdigest(), 60)
    status, body = await _put(up.url, data, up.headers)
    assert status == 200, body
    assert await media.store.sha256_hex(SOURCE) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "mutate, status, code",
    [
        (lambda q: {**q, "sig": "0" * 64}, 403, "invalid_signature"),
        (lambda q: {**q, "size": str(int(q["size"]) + 1)}, 403, "invalid_signature"),
        (lambda q: {**q, "ctype": "image/png"}, 403, "invalid_signature"),
        (lambda q: {**q, "expires": str(int(q["expires"]) + 3600)}, 403, "invalid_signature"),
        (lambda q: {k: v for k, v in q.items() if k != "sha256"}, 403, "invalid_signature"),
        (lambda q: {k: v for k, v in q.items() if k != "sig"}, 403, "invalid_signature"),
    ],
    ids=["forged-sig", "size", "ctype", "expiry", "dropped-hash", "no-sig"],
)
async def test_tampered_urls_are_refused(media: Media, mutate, status: int, code: str) -> None:
    data = b"x" * 100
    up = media.store.presign_put(SOURCE, "image/jpeg", len(data), hashlib.sha256(data).hexdigest(), 60)
    query = {k: v[0] for k, v in parse_qs(urlsplit(up.url).query).items()}
    got, body = await _put(media.upload_url(SOURCE, **mutate(query)), data, up.headers)
    assert (got, body["error"]["code"]) == (status, code)
    assert _leftovers(media.store) == []


async def test_url_for_another_key_is_refused(media: Media) -> None:
    up = media.store.presign_put(SOURCE, "image/jpeg", 3, None, 60)
    other = up.url.replace("/p1/", "/p2/")
    status, body = await _put(other, b"abc", up.headers)
    assert (status, body["error"]["code"]) == (403, "invalid_signature")


async def test_expired_url_is_refused(media: Media) -> None:
    grant = UploadGrant(key=SOURCE, content_type="image/jpeg", size=3, sha256_hex=None,
                        expires_at=int(time.time()) - 1)
    query = sign_query(derive_signing_key(media.jwt_key), grant)  # genuinely signed, just late
    status, body = await _put(media.upload_url(SOURCE, **query), b"abc", {"Content-Type": "image/jpeg"})
    assert (status, body["error"]["code"]) == (403, "upload_expired")
    assert await media.store.head(SOURCE) is None


@pytest.mark.parametrize(
    "body, ctype, status, code",
    [
        (b"abcd", "image/jpeg", 413, "size_mismatch"),
        (b"ab", "image/jpeg", 400, "size_mismatch"),
        (b"abc", "image/png", 415, "content_type_mismatch"),
        (b"abz", "image/jpeg", 422, "checksum_mismatch"),
    ],
    ids=["oversize", "undersize", "wrong-type", "wrong-bytes"],
)
async def test_body_must_match_the_grant(media: Media, body: bytes, ctype: str, status: int, code: str) -> None:
    up = media.store.presign_put(SOURCE, "image/jpeg", 3, hashlib.sha256(b"abc").hexdigest(), 60)
    got, answer = await _put(up.url, body, {"Content-Type": ctype})
    assert (got, answer["error"]["code"]) == (status, code)
    assert await media.store.head(SOURCE) is None
    assert _leftovers(media.store) == []


async def test_chunked_body_is_refused(media: Media) -> None:
    up = media.store.presign_put(SOURCE, "image/jpeg", 3, None, 60)

    async def gen():
        yield b"abc"

    async with aiohttp.ClientSession() as http:
        async with http.put(up.url, data=gen(), headers=up.headers) as resp:
            assert resp.status == 411
            assert (await resp.json())["error"]["code"] == "length_required"
    assert await media.store.head(SOURCE) is None


@pytest.mark.fault
async def test_connection_cut_mid_body_leaves_nothing(media: Media) -> None:
    size = 4 * 1024 * 1024
    up = media.store.presign_put(SOURCE, "image/jpeg", size, None, 60)
    parts = urlsplit(up.url)
    head = (f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: image/jpeg\r\nContent-Length: {size}\r\n\r\n").encode()
    sock = socket.create_connection((parts.hostname, parts.port))
    try:
        sock.sendall(head + os.urandom(size // 2))
        # The handler is streaming once its temp file exists; only then is the cut meaningful.
        deadline = time.monotonic() + 10
        while not any(p.name.startswith(".tmp-") for p in _leftovers(media.store)):
            assert time.monotonic() < deadline, "upload never started streaming"
            await asyncio.sleep(0.02)
        # RST, not FIN: the connection dies mid-body like a phone losing signal.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()
    deadline = time.monotonic() + 10
    while _leftovers(media.store):
        assert time.monotonic() < deadline, f"left behind: {_leftovers(media.store)}"
        await asyncio.sleep(0.02)
    assert await media.store.head(SOURCE) is None


async def test_variants_are_served_with_cache_headers_and_etag(media: Media) -> None:
    key = "posts/p1/medium.jpg"
    data = b"\xff\xd8\xff" + os.urandom(2000)
    await media.store.put(key, data, "image/jpeg")
    url = f"{media.base}/media/{key}"
    assert media.store.public_url(key) == url
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200
            assert await resp.read() == data
            assert resp.headers["Cache-Control"] == CACHE_FOREVER
            assert resp.headers["Content-Type"] == "image/jpeg"
            etag = resp.headers["ETag"]
            assert etag.startswith('"') and not etag.startswith("W/")
        info = await media.store.head(key)
        assert info is not None and etag == f'"{info.etag}"'
        async with http.get(url, headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304
            assert await resp.read() == b""
            assert resp.headers["ETag"] == etag
        await media.store.put(key, data + b"more", "image/jpeg")
        async with http.get(url, headers={"If-None-Match": etag}) as resp:
            assert resp.status == 200 and resp.headers["ETag"] != etag
        async with http.head(url) as resp:
            assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(data) + 4


@pytest.mark.parametrize("path", [SOURCE, "posts/p1/missing.jpg", "posts/../uploads/u1/p1/source",
                                  "posts/p1/.medium.jpg.meta"])
async def test_sources_missing_and_odd_keys_are_404(media: Media, path: str) -> None:
    await media.store.put(SOURCE, b"private original", "image/jpeg")
    await media.store.put("posts/p1/medium.jpg", b"public", "image/jpeg")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{media.base}/media/{path}") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"


async def test_no_media_routes_in_s3_mode(aiohttp_client, settings, db_pool, s3_bucket) -> None:
    app = create_app(settings.with_overrides(**s3_bucket.settings_overrides()), pool=db_pool, pipeline=False)
    client = await aiohttp_client(app)
    resp = await client.get("/media/posts/p1/medium.jpg")
    assert resp.status == 404
    assert app[appkeys.STORE].public_url("posts/p1/medium.jpg").startswith(s3_bucket.endpoint_url)
