"""Object storage: the ``ObjectStore`` contract, a local-files backend (the embedded default) and an
S3 backend. ``create_store``/``store_ctx`` are filled in by the implementations."""

from .base import InvalidKey, ObjectInfo, ObjectNotFound, ObjectStore, PresignedUpload, StoreUnavailable

__all__ = ["InvalidKey", "ObjectInfo", "ObjectNotFound", "ObjectStore", "PresignedUpload", "StoreUnavailable"]
