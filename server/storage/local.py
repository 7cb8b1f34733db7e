"""The embedded default: objects as files under ``<data-dir>/objects``.

Every write lands in a hidden temp file in the target directory, is fsynced, then renamed over the
key (``os.replace``), so a reader never sees half an object, even after a crash or a cut upload. A
hidden ``.<name>.meta`` sidecar keeps the content type S3 would keep in object metadata. Blocking
file work runs in threads so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import os
import tempfile
import time
from pathlib import Path
from typing import AsyncIterable, BinaryIO, Callable
from urllib.parse import quote, urlencode

from .base import ObjectInfo, ObjectNotFound, PresignedUpload
from .keys import validate_key, validate_prefix
from .signing import UploadGrant, normalize_sha256_hex, sign_query, verify_query

CHUNK = 1024 * 1024
_TEMP_PREFIX = ".tmp-"
STALE_TEMP_S = 3600.0  # no upload streams for an hour; older temp files are crash leftovers
_EXTRA_TYPES = {".avif": "image/avif", ".webp": "image/webp", ".heic": "image/heic"}


class UploadRejected(Exception):
    """A streamed upload that must not become an object; ``code`` is the API error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _guess_type(path: Path) -> str | None:
    return _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]


def file_etag(st: os.stat_result) -> str:
    """Strong validator from mtime+size, the same one aiohttp's FileResponse sends, so ``head`` and
    ``GET /media`` agree. Every write is a rename of a new file, so both change together."""
    return f"{st.st_mtime_ns:x}-{st.st_size:x}"


def _finish_temp(fh: BinaryIO, tail: bytes) -> None:
    """Write the last bytes, fsync and close: data is on disk before any rename makes it visible."""
    with fh:
        fh.write(tail)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore:
    def __init__(self, root: Path, *, public_base_url: str, cdn_base_url: str, signing_key: bytes) -> None:
        self.root = Path(root).resolve()
        self.public_base_url = public_base_url.rstrip("/")
        self.cdn_base_url = cdn_base_url.rstrip("/")
        self._signing_key = signing_key

    # -- paths -----------------------------------------------------------------------------------
    def path_for(self, key: str) -> Path:
        return self.root / validate_key(key)

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.meta")

    # -- lifecycle -------------------------------------------------------------------------------
    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sweep_temp_files(older_than_s=STALE_TEMP_S)

    def sweep_temp_files(self, older_than_s: float) -> int:
        """Remove temp files a crash left behind. Only old ones: a fresh one may be an upload in
        flight in another task."""
        cutoff = time.time() - older_than_s
        removed = 0
        for dirpath, _dirs, filenames in os.walk(self.root):
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    if name.startswith(_TEMP_PREFIX) and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed

    async def close(self) -> None:
        return None

    # -- writes ----------------------------------------------------------------------------------
    def _new_temp(self, path: Path) -> tuple[BinaryIO, Path]:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
        return os.fdopen(fd, "wb"), Path(tmp)

    def _write_temp_then(self, path: Path, data: bytes, then: Callable[[Path], None]) -> None:
        """Write ``data`` durably to a fresh temp file beside ``path``, then hand it to ``then``
        (which renames it); on any failure the temp file is removed."""
        fh, tmp = self._new_temp(path)
        try:
            _finish_temp(fh, data)
            then(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _commit(
        self, path: Path, tmp: Path, content_type: str, cache_control: str | None, *, create_only: bool = False
    ) -> None:
        """Sidecar first, object last: the object's appearance is the commit point. ``create_only``
        refuses to replace an existing object, atomically (a hard link fails if the name exists)."""
        meta = json.dumps({"content_type": content_type, "cache_control": cache_control}).encode()
        self._write_temp_then(path, meta, lambda mtmp: os.replace(mtmp, self._meta_path(path)))
        if create_only:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise UploadRejected(412, "already_uploaded", "this upload already has its bytes; complete it") from None
            tmp.unlink()
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)

    def _put_sync(self, path: Path, data: bytes, content_type: str, cache_control: str | None) -> None:
        self._write_temp_then(path, data, lambda tmp: self._commit(path, tmp, content_type, cache_control))

    async def put(self, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None:
        await asyncio.to_thread(self._put_sync, self.path_for(key), data, content_type, cache_control)

    async def write_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str, size: int, sha256_hex: str | None
    ) -> ObjectInfo:
        """Stream an upload to a temp file, checking size and SHA-256 on the way; only a complete,
        matching body is put in place, and only if nothing is there yet (as S3's ``If-None-Match:
        *``): stored bytes may be verified at any moment and must not change afterwards. Anything
        else (including a cut connection, which ends or breaks ``chunks``) leaves no new object and
        no temp file."""
        path = self.path_for(key)
        fh, tmp = await asyncio.to_thread(self._new_temp, path)
        digest = hashlib.sha256()
        received = 0
        committed = False
        try:
            buffer = bytearray()
            async for chunk in chunks:
                received += len(chunk)
                if received > size:
                    raise UploadRejected(413, "size_mismatch", f"body is larger than the signed {size} bytes")
                digest.update(chunk)
                buffer += chunk
                if len(buffer) >= CHUNK:
                    await asyncio.to_thread(fh.write, bytes(buffer))
                    buffer.clear()
            if received != size:
                raise UploadRejected(400, "size_mismatch", f"body has {received} bytes, signed size is {size}")
            if sha256_hex is not None and digest.hexdigest() != sha256_hex:
                raise UploadRejected(422, "checksum_mismatch", "body does not match the declared SHA-256")

            def finish() -> None:
                _finish_temp(fh, bytes(buffer))
                self._commit(path, tmp, content_type, None, create_only=True)

            await asyncio.to_thread(finish)
            committed = True
        finally:
            if not committed:
                fh.close()
                tmp.unlink(missing_ok=True)
                await asyncio.to_thread(self._prune_empty_dirs, path.parent)
        info = await self.head(key)
        assert info is not None
        return info

    # -- reads -----------------------------------------------------------------------------------
    def _head_sync(self, key: str) -> ObjectInfo | None:
        path = self.path_for(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return ObjectInfo(key=key, size=st.st_size, etag=file_etag(st), content_type=self.meta(path)["content_type"])

    def meta(self, path: Path) -> dict[str, str | None]:
        """Stored content type and cache control; guessed from the name if the sidecar is gone."""
        try:
            return json.loads(self._meta_path(path).read_bytes())
        except (FileNotFoundError, ValueError):
            return {"content_type": _guess_type(path), "cache_control": None}

    async def head(self, key: str) -> ObjectInfo | None:
        return await asyncio.to_thread(self._head_sync, key)

    def _read_sync(self, key: str, length: int | None) -> bytes:
        try:
            with open(self.path_for(key), "rb") as fh:
                return fh.read() if length is None else fh.read(length)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read_sync, key, None)

    async def read_prefix(self, key: str, length: int) -> bytes:
        return await asyncio.to_thread(self._read_sync, key, max(0, length))

    def _sha256_sync(self, key: str) -> str:
        digest = hashlib.sha256()
        try:
            with open(self.path_for(key), "rb") as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        return digest.hexdigest()

    async def sha256_hex(self, key: str) -> str:
        return await asyncio.to_thread(self._sha256_sync, key)

    # -- deletes ---------------------------------------------------------------------------------
    def _delete_path(self, path: Path) -> bool:
        existed = True
        try:
            path.unlink()
        except FileNotFoundError:
            existed = False
        self._meta_path(path).unlink(missing_ok=True)
        return existed

    def _prune_empty_dirs(self, start: Path) -> None:
        for parent in [start, *start.parents]:
            if parent == self.root or self.root not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:  # not empty (or gone): stop climbing
                break

    async def delete(self, key: str) -> None:
        path = self.path_for(key)

        def run() -> None:
            if self._delete_path(path):
                self._prune_empty_dirs(path.parent)

        await asyncio.to_thread(run)

    def _delete_prefix_sync(self, prefix: str) -> int:
        validate_prefix(prefix)
        # S3 semantics: a string prefix, not a directory; start the walk at its directory part.
        top = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        count = 0
        for dirpath, dirnames, filenames in os.walk(top, topdown=False):
            base = Path(dirpath)
            for name in filenames:
                if name.startswith("."):
                    continue
                path = base / name
                if path.relative_to(self.root).as_posix().startswith(prefix) and self._delete_path(path):
                    count += 1
            if base != self.root:
                self._prune_empty_dirs(base)
        return count

    async def delete_prefix(self, prefix: str) -> int:
        return await asyncio.to_thread(self._delete_prefix_sync, prefix)

    # -- URLs ------------------------------------------------------------------------------------
    def presign_put(
        self, key: str, content_type: str, size: int, sha256_hex: str | None, expires_in: int
    ) -> PresignedUpload:
        validate_key(key)
        if size < 0 or expires_in <= 0:
            raise ValueError("size must be >= 0 and expires_in > 0")
        grant = UploadGrant(
            key=key,
            content_type=content_type,
            size=size,
            sha256_hex=normalize_sha256_hex(sha256_hex),
            expires_at=int(time.time()) + expires_in,
        )
        query = urlencode(sign_query(self._signing_key, grant))
        url = f"{self.public_base_url}/media/upload/{quote(key)}?{query}"
        return PresignedUpload(url=url, method="PUT", headers={"Content-Type": content_type}, expires_in=expires_in)

    def verify_upload(self, key: str, query: dict[str, str]) -> UploadGrant:
        """Raises signing.SignatureInvalid / UploadExpired / InvalidKey."""
        validate_key(key)
        return verify_query(self._signing_key, key, query, time.time())

    def public_url(self, key: str) -> str:
        return f"{self.cdn_base_url}/{validate_key(key)}"
