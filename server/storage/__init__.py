"""Object storage: the ``ObjectStore`` contract, a local-files backend (the embedded default, with
server-signed upload URLs) and an S3 backend; ``create_store`` picks one from the settings and
``store_ctx`` owns its lifetime inside the app."""

from __future__ import annotations

from typing import AsyncIterator

from aiohttp import web

from ..config import Settings
from .base import InvalidKey, ObjectInfo, ObjectNotFound, ObjectStore, PresignedUpload, StoreUnavailable
from .keys import post_variant_prefix, source_key, validate_key
from .local import LocalStore
from .s3 import S3Store
from .signing import derive_signing_key


def create_store(settings: Settings, jwt_key: str | bytes) -> LocalStore | S3Store:
    """An unopened store (call ``await store.open()``; S3 also opens lazily on first use). The local
    store signs upload URLs with a key derived from ``jwt_key``."""
    if settings.storage == "s3":
        return S3Store(
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url or None,
            prefix=settings.s3_prefix,
            cdn_base_url=settings.cdn_base_url or None,
            max_attempts=settings.s3_max_attempts,
            connect_timeout=settings.s3_connect_timeout_s,
            read_timeout=settings.s3_read_timeout_s,
        )
    return LocalStore(
        settings.data_dir / "objects",
        public_base_url=settings.effective_public_base_url,
        cdn_base_url=settings.effective_cdn_base_url,
        signing_key=derive_signing_key(jwt_key),
    )


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the store opens after the database and closes before it."""
    from .. import appkeys

    store = create_store(app[appkeys.SETTINGS], app[appkeys.JWT_KEY])
    await store.open()
    app[appkeys.STORE] = store
    try:
        yield
    finally:
        await store.close()


__all__ = [
    "InvalidKey", "LocalStore", "ObjectInfo", "ObjectNotFound", "ObjectStore", "PresignedUpload", "S3Store",
    "StoreUnavailable", "create_store", "post_variant_prefix", "source_key", "store_ctx", "validate_key",
]
