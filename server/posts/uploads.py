"""Upload init and complete: the two calls around the client's direct PUT to the object store.

init creates the post, its counters and an upload session in one transaction and hands out a
presigned URL; nothing is stored by the server itself. complete checks the stored object really is
what was announced (exists, size, SHA-256, image magic bytes) *before* taking any lock, then in one
short transaction moves the post to ``processing`` and queues its job. The session row lock makes
two concurrent completes queue one job; a verification failure keeps the session open so the client
may PUT again until it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from .. import appkeys
from ..auth import current_user_id, require_verified_user
from ..db import q
from ..http import ApiError, read_json
from ..storage import ObjectNotFound, StoreUnavailable
from ..storage.keys import source_key
from .quota import check_quota, count_upload
from .sniff import SNIFF_BYTES, sniff_image_type
from .validation import CompleteRequest, parse_complete, parse_init

# How long a client should wait before retrying when the pipeline or the store is saturated:
# long enough for a few jobs to drain, short enough that a phone app's retry feels prompt.
RETRY_AFTER_S = 5

INIT_INSTRUCTIONS = (
    "PUT the file's bytes to presigned_url with exactly upload_headers before expires_in seconds pass, "
    "then POST /api/v1/posts/upload/complete with post_id, upload_token, file_hash and file_size."
)
COMPLETE_MESSAGES = {
    "processing": "upload complete; the photo is being processed",
    "published": "upload complete; the photo is published",
    "failed": "upload complete, but processing failed; see the post's error",
}


def hash_token(token: str) -> bytes:
    """Sessions store only the SHA-256 of the upload token: a database leak cannot finish uploads."""
    return hashlib.sha256(token.encode("utf-8")).digest()


async def _check_backlog(conn: asyncpg.Connection, high_water: int) -> None:
    waiting = await conn.fetchval(q("backlog_count"), high_water)
    if waiting >= high_water:
        raise ApiError(
            503, "backlog_full", "too many uploads are waiting to be processed; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )


def _upload_missing() -> ApiError:
    return ApiError(409, "upload_missing", "no uploaded object found; PUT the file to presigned_url first")


def _store_unavailable() -> ApiError:
    return ApiError(503, "storage_unavailable", "object storage is unavailable; try again shortly",
                    headers={"Retry-After": str(RETRY_AFTER_S)})


async def init_upload(request: web.Request) -> web.Response:
    user_id = await require_verified_user(request)
    settings = request.app[appkeys.SETTINGS]
    req = parse_init(await read_json(request), settings.max_upload_bytes)
    post_id = uuid.uuid4()
    key = source_key(user_id, post_id)
    ttl = settings.upload_session_ttl_s
    token = secrets.token_urlsafe(32)
    # Presigning is local signing work; doing it first means a failure here creates nothing.
    presigned = request.app[appkeys.STORE].presign_put(key, req.content_type, req.file_size, req.file_hash, ttl)
    async with request.app[appkeys.DB].acquire() as conn:
        await count_upload(conn, settings, user_id)
        await _check_backlog(conn, settings.backlog_high_water)
        async with conn.transaction():
            await conn.execute(q("lock_user_for_upload"), user_id)
            open_uploads = await conn.fetchval(q("count_open_uploads"), user_id)
            if open_uploads >= settings.max_open_uploads_per_user:
                raise ApiError(
                    429, "too_many_open_uploads",
                    f"{open_uploads} uploads are still open; complete them or wait for them to expire",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            await check_quota(conn, settings, user_id, req.file_size)
            await conn.execute(q("insert_post"), post_id, user_id, req.caption, key, req.content_type,
                               req.file_size, req.file_hash)
            await conn.execute(q("insert_post_metadata"), post_id)
            await conn.execute(q("insert_upload_session"), uuid.uuid4(), post_id, user_id, hash_token(token),
                               key, req.content_type, req.file_size, req.file_hash, float(ttl))
    return web.json_response(
        {
            "post_id": str(post_id),
            "presigned_url": presigned.url,
            "upload_method": presigned.method,
            "upload_headers": presigned.headers,
            "upload_token": token,
            "expires_in": presigned.expires_in or ttl,
            "instructions": INIT_INSTRUCTIONS,  # the seed's clients show it (DESIGN "Compatibility")
        },
        status=201,
    )


def _check_session(session: asyncpg.Record | None, user_id: uuid.UUID, token: str) -> asyncpg.Record:
    """Ownership and token, in that order; a deleted post's session no longer exists."""
    if session is None or session["deleted_at"] is not None:
        raise ApiError(404, "upload_not_found", "no upload session for this post")
    if session["user_id"] != user_id:
        raise ApiError(403, "forbidden", "this upload belongs to another user")
    if not hmac.compare_digest(bytes(session["token_hash"]), hash_token(token)):
        raise ApiError(403, "invalid_upload_token", "upload_token does not match this upload")
    return session


def _check_open(session: asyncpg.Record) -> None:
    if session["expired"] or session["status"] != "pending_upload":
        raise ApiError(410, "upload_expired", "the upload session has expired; start a new upload")


async def _verify_object(store: Any, session: asyncpg.Record, req: CompleteRequest) -> str:
    """The sniffed image type of the stored source, or the 4xx saying what is wrong with it.

    Uploads are create-only (a PUT never replaces stored bytes, so what is verified here is what the
    pipeline will process); bytes that fail a check are therefore removed, so the client can PUT
    the right ones and complete again. (A request that contradicts what init declared is refused
    before the object is looked at, and leaves it alone.)"""
    declared_hash = session["file_hash"]
    if declared_hash is not None and declared_hash != req.file_hash:
        raise ApiError(422, "hash_mismatch", "file_hash differs from the one declared at upload/init")
    if req.file_size != session["file_size"]:
        raise ApiError(422, "size_mismatch",
                       f"file_size {req.file_size} differs from {session['file_size']} declared at upload/init")
    try:
        return await _check_object(store, session, req)
    except ApiError as exc:
        if exc.status == 422:
            try:
                await store.delete(session["object_key"])
            except StoreUnavailable:
                raise _store_unavailable() from None
        raise


async def _check_object(store: Any, session: asyncpg.Record, req: CompleteRequest) -> str:
    """Cheap checks first (HEAD, 64 bytes) so junk never costs a full streamed hash."""
    key = session["object_key"]
    try:
        info = await store.head(key)
        if info is None:
            raise _upload_missing()
        if info.size != session["file_size"]:
            raise ApiError(422, "size_mismatch",
                           f"the stored object has {info.size} bytes, {session['file_size']} were declared")
        kind = sniff_image_type(await store.read_prefix(key, SNIFF_BYTES))
        if kind is None:
            raise ApiError(422, "not_an_image",
                           "the uploaded file is not a JPEG, PNG, WebP, HEIC/HEIF, AVIF or GIF image")
        actual_hash = await store.sha256_hex(key)
    except ObjectNotFound:
        raise _upload_missing() from None
    except StoreUnavailable:
        raise _store_unavailable() from None
    if not hmac.compare_digest(actual_hash.lower(), req.file_hash):
        raise ApiError(422, "hash_mismatch", "the SHA-256 of the stored object differs from file_hash")
    return kind


async def _answer(conn: asyncpg.Connection, session: asyncpg.Record, status: str) -> web.Response:
    job_id = await conn.fetchval(q("transcode_job_id"), session["post_id"])
    return web.json_response({
        "post_id": str(session["post_id"]), "status": status, "job_id": job_id,
        # The seed's clients read these two (DESIGN "Compatibility"): a line to show, and the key
        # the source was stored under.
        "message": COMPLETE_MESSAGES.get(status, f"the post is {status}"),
        "image_key": session["object_key"],
    })


async def complete_upload(request: web.Request) -> web.Response:
    user_id = await current_user_id(request)
    settings = request.app[appkeys.SETTINGS]
    req = parse_complete(await read_json(request), settings.max_upload_bytes)
    pool: asyncpg.Pool = request.app[appkeys.DB]
    async with pool.acquire() as conn:
        session = _check_session(await conn.fetchrow(q("get_upload_session"), req.post_id), user_id,
                                 req.upload_token)
        if session["completed_at"] is not None:  # a repeat: same answer, nothing changes
            return await _answer(conn, session, session["status"])
        _check_open(session)
    # No connection or lock held while the object is streamed through SHA-256.
    kind = await _verify_object(request.app[appkeys.STORE], session, req)
    async with pool.acquire() as conn:
        async with conn.transaction():
            locked = _check_session(await conn.fetchrow(q("lock_upload_session"), req.post_id), user_id,
                                    req.upload_token)
            if locked["completed_at"] is not None:  # a concurrent complete won the lock first
                return await _answer(conn, locked, locked["status"])
            _check_open(locked)
            await conn.execute(q("mark_post_processing"), req.post_id, kind, req.file_hash)
            await conn.execute(q("mark_session_completed"), locked["id"])
            await conn.execute(q("enqueue_transcode"), req.post_id, settings.job_max_attempts)
            return await _answer(conn, locked, "processing")
