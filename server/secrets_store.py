"""The JWT signing key: given in config, or generated once into ``<data-dir>/jwt.key`` (0600)."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from .config import Settings


def load_or_create_jwt_key(settings: Settings) -> str:
    if settings.jwt_secret:
        return settings.jwt_secret
    path = Path(settings.data_dir) / "jwt.key"
    too_short = path.exists()
    if too_short:
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # A fresh private temp file (mkstemp: 0600, never an existing file or symlink), then a hard link
    # as an atomic create-if-absent: of instances starting at once on one data dir, exactly one key
    # lands and every other starter reads that one instead of keeping its own.
    fd, tmp = tempfile.mkstemp(prefix=".jwt.key-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        if too_short:  # a key too weak to keep: replace it
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError:
        return load_or_create_jwt_key(settings)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return key
