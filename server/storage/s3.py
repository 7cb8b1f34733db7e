"""S3 (or any S3-compatible endpoint) through aioboto3.

One long-lived async client per store, entered in ``open()`` and closed in ``close()``: a client per
call would redo endpoint/credential resolution and lose the connection pool. Presigning is sync in
the contract and needs no network, so it uses a plain botocore client built once from the same
settings and credential chain (standard AWS variables, config files, instance roles).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
from typing import Any, Iterator

import aioboto3
import aiohttp
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import ObjectInfo, ObjectNotFound, PresignedUpload, StoreUnavailable
from .keys import validate_key, validate_prefix
from .signing import normalize_sha256_hex

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_DELETE_BATCH = 1000  # S3's DeleteObjects limit
_LIST_PAGE = 1000  # S3's ListObjectsV2 maximum


def _classify(exc: Exception, key: str) -> Exception:
    """ObjectNotFound for a missing key, StoreUnavailable for what a later retry may fix; anything
    else (access denied, bad bucket) is a configuration error and is re-raised as is."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if error.get("Code") in _NOT_FOUND or status == 404:
            return ObjectNotFound(key)
        if status >= 500 or error.get("Code") in ("SlowDown", "RequestTimeout", "ServiceUnavailable"):
            return StoreUnavailable(f"S3 error {error.get('Code')} on {key}")
        return exc
    # Connection refused/reset, timeouts, a body cut short: all transient by nature.
    return StoreUnavailable(f"S3 unreachable on {key}: {type(exc).__name__}")


_TRANSIENT = (BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


@contextlib.contextmanager
def _mapped(key: str) -> Iterator[None]:
    """Translate SDK errors into the store's two meaningful ones (see ``_classify``)."""
    try:
        yield
    except (ClientError, *_TRANSIENT) as exc:
        mapped = _classify(exc, key)
        if mapped is exc:
            raise
        raise mapped from exc


class S3Store:
    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        endpoint_url: str | None = None,
        prefix: str = "",
        cdn_base_url: str | None = None,
        max_attempts: int = 3,
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.cdn_base_url = cdn_base_url.rstrip("/") if cdn_base_url else None
        # Path-style for custom endpoints (MinIO, moto, IP addresses); virtual-hosted on AWS.
        self._config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "virtual"},
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # Many S3-compatible servers reject the CRC checksums newer SDKs add by default.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._open_lock = asyncio.Lock()
        self._presigner: Any = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def open(self) -> None:
        async with self._open_lock:
            if self._client is not None:
                return
            stack = contextlib.AsyncExitStack()
            session = aioboto3.Session()
            self._client = await stack.enter_async_context(
                session.client("s3", endpoint_url=self.endpoint_url, config=self._config)
            )
            self._stack = stack
            # Build the presigner (and resolve credentials) now, off the loop, not on the first request.
            await asyncio.to_thread(self._presign_client)

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def _c(self) -> Any:
        if self._client is None:  # lazily, for callers that skip open()
            await self.open()
        return self._client

    def _presign_client(self) -> Any:
        if self._presigner is None:
            session = botocore.session.get_session()
            self._presigner = session.create_client("s3", endpoint_url=self.endpoint_url, config=self._config)
        return self._presigner

    def full_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    # -- operations ------------------------------------------------------------------------------
    async def _call(self, key: str, op: str, **params: Any) -> Any:
        client = await self._c()
        with _mapped(key):
            return await getattr(client, op)(Bucket=self.bucket, **params)

    async def put(self, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None:
        extra = {"CacheControl": cache_control} if cache_control else {}
        await self._call(key, "put_object", Key=self.full_key(key), Body=data, ContentType=content_type, **extra)

    async def _read(self, key: str, **params: Any) -> bytes:
        resp = await self._call(key, "get_object", Key=self.full_key(key), **params)
        body = resp["Body"]
        with _mapped(key), contextlib.closing(body):
            return await body.read()

    async def get(self, key: str) -> bytes:
        return await self._read(key)

    async def read_prefix(self, key: str, length: int) -> bytes:
        if length <= 0:
            await self._call(key, "head_object", Key=self.full_key(key))  # still ObjectNotFound if missing
            return b""
        # A range past the end is fine (S3 returns what exists); only an empty object answers 416.
        try:
            return await self._read(key, Range=f"bytes=0-{length - 1}")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""
            raise

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            resp = await self._call(key, "head_object", Key=self.full_key(key))
        except ObjectNotFound:
            return None
        return ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            etag=str(resp.get("ETag", "")).strip('"'),
            content_type=resp.get("ContentType"),
        )

    async def sha256_hex(self, key: str) -> str:
        resp = await self._call(key, "get_object", Key=self.full_key(key))
        digest = hashlib.sha256()
        body = resp["Body"]
        with _mapped(key), contextlib.closing(body):
            async for chunk in body.iter_chunks(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    async def delete(self, key: str) -> None:
        try:
            await self._call(key, "delete_object", Key=self.full_key(key))
        except ObjectNotFound:
            pass

    async def delete_prefix(self, prefix: str) -> int:
        full = self.prefix + validate_prefix(prefix)
        client = await self._c()
        deleted = 0
        with _mapped(prefix):
            paginator = client.get_paginator("list_objects_v2")
            batch: list[dict[str, str]] = []
            async for page in paginator.paginate(
                Bucket=self.bucket, Prefix=full, PaginationConfig={"PageSize": _LIST_PAGE}
            ):
                for item in page.get("Contents", []):
                    batch.append({"Key": item["Key"]})
                    if len(batch) == _DELETE_BATCH:
                        deleted += await self._delete_batch(client, batch)
                        batch = []
            if batch:
                deleted += await self._delete_batch(client, batch)
        return deleted

    async def _delete_batch(self, client: Any, batch: list[dict[str, str]]) -> int:
        resp = await client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        errors = resp.get("Errors") or []
        if errors:
            raise StoreUnavailable(f"S3 could not delete {len(errors)} objects, e.g. {errors[0].get('Key')}")
        return len(batch)

    # -- URLs ------------------------------------------------------------------------------------
    def presign_put(
        self, key: str, content_type: str, size: int, sha256_hex: str | None, expires_in: int
    ) -> PresignedUpload:
        """Signs Content-Type, Content-Length and (if declared) x-amz-checksum-sha256, so S3 refuses
        any other type, size or bytes. Content-Length is set by every HTTP client from the body, so
        it is not among the headers the client is told to send. ``If-None-Match: *`` makes the PUT
        create-only: once bytes are stored (and later verified), a second PUT on the same URL, such
        as one still in flight when upload/complete ran, is refused (412) instead of replacing them."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.full_key(key),
            "ContentType": content_type,
            "ContentLength": size,
            "IfNoneMatch": "*",
        }
        headers = {"Content-Type": content_type, "If-None-Match": "*"}
        digest = normalize_sha256_hex(sha256_hex)
        if digest is not None:
            checksum = base64.b64encode(bytes.fromhex(digest)).decode()
            params["ChecksumSHA256"] = checksum
            headers["x-amz-checksum-sha256"] = checksum
        url = self._presign_client().generate_presigned_url(
            "put_object", Params=params, ExpiresIn=expires_in, HttpMethod="PUT"
        )
        return PresignedUpload(url=url, method="PUT", headers=headers, expires_in=expires_in)

    def public_url(self, key: str) -> str:
        """The full object key (with any prefix) under the CDN, whose origin is the bucket root."""
        full = self.full_key(key)
        if self.cdn_base_url:
            return f"{self.cdn_base_url}/{full}"
        if self.endpoint_url:
            return f"{self.endpoint_url}/{self.bucket}/{full}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{full}"
