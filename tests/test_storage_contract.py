"""One contract, two backends: every test here runs against the local store (files in a temp dir,
uploads through the real media routes) and the S3 store (moto server over HTTP via aioboto3)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from server import appkeys
from server.http import error_middleware, request_id_middleware
from server.storage import (
    InvalidKey, LocalStore, ObjectNotFound, ObjectStore, S3Store, media_routes,
)
from server.storage.signing import derive_signing_key
from serverproc import free_port


@dataclass
class Backend:
    kind: str
    store: LocalStore | S3Store


async def _local_backend(tmp_path: Path, aiohttp_server) -> Backend:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = LocalStore(
        tmp_path / "objects", public_base_url=base, cdn_base_url=f"{base}/media",
        signing_key=derive_signing_key("k" * 32),
    )
    await store.open()
    # Only what the media routes need: the store and the app's middlewares (answers are checked
    # against the OpenAPI document, X-Request-Id included), no database.
    app = web.Application(middlewares=[request_id_middleware, error_middleware])
    app[appkeys.STORE] = store
    media_routes.add_routes(app)
    await aiohttp_server(app, port=port)
    return Backend("local", store)


@pytest.fixture(params=["local", "s3"])
async def backend(request, tmp_path: Path, aiohttp_server) -> AsyncIterator[Backend]:
    if request.param == "local":
        backend = await _local_backend(tmp_path, aiohttp_server)
    else:
        bucket = request.getfixturevalue("s3_bucket")
        store = S3Store(bucket=bucket.name, region=bucket.region, endpoint_url=bucket.endpoint_url)
        await store.open()
        backend = Backend("s3", store)
    yield backend
    await backend.store.close()


async def test_implements_the_protocol(backend: Backend) -> None:
    assert isinstance(backend.store, ObjectStore)


async def test_put_get_head_prefix_hash(backend: Backend) -> None:
    store = backend.store
    data = b"\xff\xd8\xff\xe0" + os.urandom(5000)
    await store.put("posts/p1/medium.jpg", data, "image/jpeg", cache_control="public, max-age=60")
    assert await store.get("posts/p1/medium.jpg") == data
    info = await store.head("posts/p1/medium.jpg")
    assert info is not None
    assert (info.key, info.size, info.content_type) == ("posts/p1/medium.jpg", len(data), "image/jpeg")
    assert info.etag and not info.etag.startswith('"')
    assert await store.read_prefix("posts/p1/medium.jpg", 4) == b"\xff\xd8\xff\xe0"
    assert await store.read_prefix("posts/p1/medium.jpg", 10_000) == data  # longer than the object
    assert await store.sha256_hex("posts/p1/medium.jpg") == hashlib.sha256(data).hexdigest()


async def test_overwrite_replaces_object_and_etag(backend: Backend) -> None:
    store = backend.store
    await store.put("posts/p1/thumbnail.jpg", b"first version", "image/jpeg")
    before = await store.head("posts/p1/thumbnail.jpg")
    await store.put("posts/p1/thumbnail.jpg", b"second, longer version", "image/webp")
    after = await store.head("posts/p1/thumbnail.jpg")
    assert await store.get("posts/p1/thumbnail.jpg") == b"second, longer version"
    assert before and after and before.etag != after.etag and after.content_type == "image/webp"


async def test_sha256_streams_objects_larger_than_a_chunk(backend: Backend) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    await backend.store.put("uploads/u/p/source", data, "image/jpeg")
    assert await backend.store.sha256_hex("uploads/u/p/source") == hashlib.sha256(data).hexdigest()


async def test_missing_keys(backend: Backend) -> None:
    store = backend.store
    assert await store.head("posts/none/medium.jpg") is None
    for call in (store.get("posts/none/x.jpg"), store.read_prefix("posts/none/x.jpg", 8),
                 store.sha256_hex("posts/none/x.jpg")):
        with pytest.raises(ObjectNotFound):
            await call
    await store.delete("posts/none/x.jpg")  # missing is fine
    assert await store.delete_prefix("posts/none/") == 0


async def test_delete_and_delete_prefix(backend: Backend) -> None:
    store = backend.store
    for key in ("posts/p1/thumbnail.jpg", "posts/p1/medium.jpg", "posts/p1/original.avif",
                "posts/p10/thumbnail.jpg", "uploads/u/p1/source"):
        await store.put(key, key.encode(), "image/jpeg")
    await store.delete("posts/p1/original.avif")
    assert await store.head("posts/p1/original.avif") is None
    # A string prefix, as in S3: "posts/p1/" must not touch "posts/p10/".
    assert await store.delete_prefix("posts/p1/") == 2
    assert await store.head("posts/p1/medium.jpg") is None
    assert await store.get("posts/p10/thumbnail.jpg") == b"posts/p10/thumbnail.jpg"
    assert await store.get("uploads/u/p1/source") == b"uploads/u/p1/source"


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/key", "posts//x", "posts/../x", "posts/.hidden",
                                 "posts/a b", "posts/x/", "", "posts/\u00e9"])
async def test_bad_keys_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(InvalidKey):
        await backend.store.put(key, b"x", "image/jpeg")
    with pytest.raises(InvalidKey):
        backend.store.presign_put(key, "image/jpeg", 1, None, 60)


async def test_presigned_put_through_real_http(backend: Backend) -> None:
    store = backend.store
    data = os.urandom(70_000)
    digest = hashlib.sha256(data).hexdigest()
    upload = store.presign_put("uploads/u/p/source", "image/jpeg", len(data), digest, 300)
    assert upload.method == "PUT" and upload.expires_in == 300
    assert upload.headers["Content-Type"] == "image/jpeg"
    async with aiohttp.ClientSession() as http:
        async with http.put(upload.url, data=data, headers=upload.headers) as resp:
            assert resp.status == 200, await resp.text()
    info = await store.head("uploads/u/p/source")
    assert info is not None and info.size == len(data) and info.content_type == "image/jpeg"
    assert await store.sha256_hex("uploads/u/p/source") == digest


async def test_presigned_put_without_declared_hash(backend: Backend) -> None:
    upload = backend.store.presign_put("uploads/u/p2/source", "image/png", 5, None, 60)
    assert "x-amz-checksum-sha256" not in upload.headers
    async with aiohttp.ClientSession() as http:
        async with http.put(upload.url, data=b"\x89PNG\r", headers=upload.headers) as resp:
            assert resp.status == 200, await resp.text()
    assert await backend.store.read_prefix("uploads/u/p2/source", 4) == b"\x89PNG"


def _raw_put(url: str, size: int, body: bytes) -> socket.socket:
    """Send the request line, headers and ``body`` (maybe less than ``size``) on a raw socket."""
    parts = urlsplit(url)
    head = (f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: image/jpeg\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n").encode()
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(head + body)
    return sock


@pytest.mark.fault
async def test_upload_cut_mid_body_leaves_no_object(backend: Backend) -> None:
    size = 2 * 1024 * 1024
    store = backend.store
    # Control: the same raw request with the whole body does store the object.
    ok_url = store.presign_put("uploads/u/ok/source", "image/jpeg", size, None, 60).url
    sock = await asyncio.to_thread(_raw_put, ok_url, size, os.urandom(size))
    assert (await asyncio.to_thread(sock.recv, 64)).startswith(b"HTTP/1.1 200")
    sock.close()
    assert (await store.head("uploads/u/ok/source")).size == size

    url = store.presign_put("uploads/u/cut/source", "image/jpeg", size, None, 60).url
    sock = await asyncio.to_thread(_raw_put, url, size, os.urandom(size // 2))
    await asyncio.sleep(0.3)  # let the server take in what was sent
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, like lost signal
    sock.close()
    for _ in range(20):
        assert await store.head("uploads/u/cut/source") is None
        await asyncio.sleep(0.05)
