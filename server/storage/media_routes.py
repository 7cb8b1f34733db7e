"""Local mode's stand-in for S3 and a CDN: ``PUT /media/upload/{key}`` takes uploads on URLs the
store signed, ``GET /media/{key}`` serves published variants with immutable cache headers.

Upload bodies are streamed to disk chunk by chunk (``request.content``), never buffered, so they may
exceed the app's ``client_max_size`` (aiohttp only enforces it in read/post/json).
Only ``posts/`` keys are served: sources under ``uploads/`` stay private.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from .. import appkeys
from ..db import q
from ..http import ApiError
from .base import InvalidKey
from .keys import VARIANT_PREFIX, source_post_id, validate_key
from .local import LocalStore, UploadRejected
from .signing import SignatureInvalid, UploadExpired

CACHE_FOREVER = "public, max-age=31536000, immutable"
_READ_CHUNK = 256 * 1024


def _store(request: web.Request) -> LocalStore:
    store = request.app[appkeys.STORE]
    if not isinstance(store, LocalStore):  # routes are only added in local mode; be sure anyway
        raise ApiError(404, "not_found", "no such media")
    return store


async def _require_open_session(request: web.Request, key: str) -> None:
    """A signed URL stays valid until it expires; once its upload is completed (the source was
    verified), expired or deleted, more bytes would replace a checked source or outlive the purge."""
    post_id = source_post_id(key)
    if post_id is None:  # not a post's source: the signature alone decides
        return
    async with request.app[appkeys.DB].acquire() as conn:
        if not await conn.fetchval(q("upload_session_open"), post_id, key):
            raise ApiError(409, "upload_closed", "this upload is already completed, expired or deleted")


async def upload(request: web.Request) -> web.Response:
    store = _store(request)
    key = request.match_info["key"]
    try:
        grant = store.verify_upload(key, dict(request.query))
    except (SignatureInvalid, InvalidKey):
        raise ApiError(403, "invalid_signature", "upload URL is not valid") from None
    except UploadExpired:
        raise ApiError(403, "upload_expired", "upload URL has expired; start the upload again") from None

    length = request.content_length
    if length is None:  # chunked: the size could only be checked after storing
        raise ApiError(411, "length_required", "send the body with a Content-Length header")
    if length != grant.size:
        status = 413 if length > grant.size else 400
        raise ApiError(status, "size_mismatch", f"Content-Length must be the signed size, {grant.size} bytes")
    if request.headers.get("Content-Type", "") != grant.content_type:
        raise ApiError(415, "content_type_mismatch", f"Content-Type must be {grant.content_type!r}")
    await _require_open_session(request, key)

    try:
        info = await store.write_stream(
            key, request.content.iter_chunked(_READ_CHUNK), grant.content_type, grant.size, grant.sha256_hex
        )
    except UploadRejected as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return web.json_response({"key": key, "size": info.size, "etag": info.etag}, headers={"ETag": f'"{info.etag}"'})


async def serve(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    key = request.match_info["key"]
    try:
        validate_key(key)
    except InvalidKey:
        raise ApiError(404, "not_found", "no such media") from None
    if not key.startswith(VARIANT_PREFIX):
        raise ApiError(404, "not_found", "no such media")
    path = store.path_for(key)
    meta = await asyncio.to_thread(lambda: store.meta(path) if path.is_file() else None)
    if meta is None:
        raise ApiError(404, "not_found", "no such media")
    headers = {"Cache-Control": meta.get("cache_control") or CACHE_FOREVER}
    if meta.get("content_type"):
        headers["Content-Type"] = str(meta["content_type"])
    # FileResponse sends a strong mtime+size ETag, answers If-None-Match with 304 and handles Range.
    return web.FileResponse(path, headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_put("/media/upload/{key:.+}", upload)
    # Only posts/ keys, in the route itself: a catch-all GET also matched /media/upload/..., so a
    # wrong method there answered 405 with an Allow header offering a GET that could only 404.
    app.router.add_get("/media/{key:posts/.+}", serve)  # also answers HEAD
