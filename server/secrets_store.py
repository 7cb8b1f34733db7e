"""The JWT signing key: given in config, or generated once into ``<data-dir>/jwt.key`` (0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .config import Settings


def load_or_create_jwt_key(settings: Settings) -> str:
    if settings.jwt_secret:
        return settings.jwt_secret
    path = Path(settings.data_dir) / "jwt.key"
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: of two instances starting at once on one data dir, one writes and the other reads.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return key
