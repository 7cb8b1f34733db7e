"""What only the S3 backend has: signed headers in presigned URLs, key prefixes, URL shapes, and
behaviour when the S3 server goes away (stopped for real, or hanging) and comes back."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import threading
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError

from server.config import load_settings
from server.storage import LocalStore, ObjectNotFound, S3Store, StoreUnavailable, create_store
from server.storage import s3 as s3_module
from server.storage.s3 import _classify

# Generous bound for "fails fast instead of hanging": 3 attempts with standard backoff on loopback.
BOUND_S = 20


def _store(bucket, **kwargs) -> S3Store:
    return S3Store(bucket=bucket.name, region=bucket.region, endpoint_url=bucket.endpoint_url, **kwargs)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_presign_signs_type_length_and_checksum(s3_bucket) -> None:
    # moto checks no signature, size, type or checksum on presigned PUTs (verified: it stores a
    # body with a wrong x-amz-checksum-sha256), so assert that S3 would: all of them are signed.
    store = _store(s3_bucket)
    digest = hashlib.sha256(b"photo").hexdigest()
    up = store.presign_put("uploads/u/p/source", "image/jpeg", 5, digest, 600)
    query = _query(up.url)
    signed = set(query["X-Amz-SignedHeaders"].split(";"))
    assert {"content-type", "content-length", "host", "x-amz-checksum-sha256", "if-none-match"} <= signed
    assert query["X-Amz-Expires"] == "600" and query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert up.headers == {
        "Content-Type": "image/jpeg",
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"photo").digest()).decode(),
        "If-None-Match": "*",  # create-only: bytes, once stored and verified, are never replaced
    }
    plain = store.presign_put("uploads/u/p/source", "image/jpeg", 5, None, 600)
    assert "x-amz-checksum-sha256" not in _query(plain.url)["X-Amz-SignedHeaders"]
    assert "x-amz-checksum-sha256" not in plain.headers
    with pytest.raises(ValueError):
        store.presign_put("uploads/u/p/source", "image/jpeg", 5, "not-hex", 600)
    await store.close()


async def test_prefix_cdn_and_bucket_urls(s3_bucket) -> None:
    store = _store(s3_bucket, prefix="/tenant-a/", cdn_base_url="https://cdn.example.com/")
    await store.put("posts/p1/medium.jpg", b"img", "image/jpeg")
    listed = s3_bucket.client().list_objects_v2(Bucket=s3_bucket.name)["Contents"]
    assert [o["Key"] for o in listed] == ["tenant-a/posts/p1/medium.jpg"]
    assert await store.get("posts/p1/medium.jpg") == b"img"
    assert store.public_url("posts/p1/medium.jpg") == "https://cdn.example.com/tenant-a/posts/p1/medium.jpg"
    assert "/tenant-a/uploads/u/p/source?" in store.presign_put("uploads/u/p/source", "image/png", 1, None, 60).url
    assert await store.delete_prefix("posts/") == 1
    await store.close()
    bare = _store(s3_bucket)
    assert bare.public_url("posts/p/x.jpg") == f"{s3_bucket.endpoint_url}/{s3_bucket.name}/posts/p/x.jpg"
    aws = S3Store(bucket="photos", region="eu-west-1")
    assert aws.public_url("posts/p/x.jpg") == "https://photos.s3.eu-west-1.amazonaws.com/posts/p/x.jpg"


async def test_delete_prefix_pages_and_batches(s3_bucket, monkeypatch) -> None:
    # Shrink S3's 1000-key page and batch limits so several pages and batches run on few objects.
    monkeypatch.setattr(s3_module, "_LIST_PAGE", 3)
    monkeypatch.setattr(s3_module, "_DELETE_BATCH", 2)
    store = _store(s3_bucket)
    await asyncio.gather(*(store.put(f"posts/p/{i:02d}.jpg", b"x", "image/jpeg") for i in range(7)))
    await store.put("posts/q/00.jpg", b"x", "image/jpeg")
    assert await store.delete_prefix("posts/p/") == 7
    assert await store.delete_prefix("posts/q/") == 1
    assert s3_bucket.client().list_objects_v2(Bucket=s3_bucket.name).get("KeyCount") == 0
    await store.close()


@pytest.mark.fault
async def test_stopped_server_is_unavailable_then_recovers(s3_server, s3_bucket) -> None:
    store = _store(s3_bucket, max_attempts=2, connect_timeout=1, read_timeout=2)
    await store.put("posts/p1/medium.jpg", b"before the outage", "image/jpeg")  # pooled connection open
    s3_server.stop()
    try:
        for call in (
            lambda: store.sha256_hex("posts/p1/medium.jpg"),
            lambda: store.put("posts/p1/thumbnail.jpg", b"x", "image/jpeg"),
            lambda: store.delete_prefix("posts/p1/"),
        ):
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(call(), BOUND_S)
    finally:
        s3_server.start()
    assert await store.get("posts/p1/medium.jpg") == b"before the outage"
    assert await store.head("posts/p1/thumbnail.jpg") is None
    await store.close()


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts TCP connections and never answers: an S3 that hangs rather than refuses."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.fault
async def test_hanging_server_times_out_as_unavailable(s3_server, silent_endpoint: str) -> None:
    store = S3Store(bucket="any-bucket", region="us-east-1", endpoint_url=silent_endpoint,
                    max_attempts=2, connect_timeout=0.5, read_timeout=0.5)
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(store.head("posts/p/x.jpg"), BOUND_S)
    await store.close()


def _client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(
    "status, code, expected",
    [(404, "NoSuchKey", ObjectNotFound), (404, "NotFound", ObjectNotFound), (500, "InternalError", StoreUnavailable),
     (503, "SlowDown", StoreUnavailable), (403, "AccessDenied", ClientError), (400, "InvalidRange", ClientError)],
)
def test_error_classification(status: int, code: str, expected: type) -> None:
    assert isinstance(_classify(_client_error(status, code), "k"), expected)


def test_create_store_follows_settings(tmp_path, s3_bucket) -> None:
    local = create_store(load_settings(cli={"data_dir": str(tmp_path)}, environ={}), "j" * 32)
    assert isinstance(local, LocalStore) and local.root == (tmp_path / "objects").resolve()
    assert local.public_url("posts/p/x.jpg") == "http://127.0.0.1:8080/media/posts/p/x.jpg"
    env = {f"IMAGEPIPE_{k.upper()}": v for k, v in s3_bucket.settings_overrides().items()}
    env |= {"IMAGEPIPE_S3_MAX_ATTEMPTS": "5", "IMAGEPIPE_CDN_BASE_URL": "https://cdn.example.com"}
    s3 = create_store(load_settings(cli={"data_dir": str(tmp_path)}, environ=env), "j" * 32)
    assert isinstance(s3, S3Store) and s3.bucket == s3_bucket.name
    assert s3._config.retries == {"mode": "standard", "max_attempts": 5}
    assert s3.public_url("posts/p/x.jpg") == "https://cdn.example.com/posts/p/x.jpg"
