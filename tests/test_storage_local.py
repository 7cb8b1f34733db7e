"""Local-store housekeeping that the shared contract does not cover."""

from __future__ import annotations

import os
import time
from pathlib import Path

from server.storage import LocalStore
from server.storage.signing import derive_signing_key


def _store(root: Path) -> LocalStore:
    return LocalStore(root, public_base_url="http://h", cdn_base_url="http://h/media",
                      signing_key=derive_signing_key("k" * 32))


async def test_open_sweeps_only_stale_temp_files(tmp_path: Path) -> None:
    folder = tmp_path / "objects" / "uploads" / "u" / "p"
    folder.mkdir(parents=True)
    stale, fresh, obj = folder / ".tmp-crashed", folder / ".tmp-in-flight", folder / "source"
    for path in (stale, fresh, obj):
        path.write_bytes(b"x")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    os.utime(obj, (hours_ago, hours_ago))
    store = _store(tmp_path / "objects")
    await store.open()
    assert not stale.exists() and fresh.exists() and obj.exists()
    assert await store.get("uploads/u/p/source") == b"x"


async def test_put_leaves_only_the_object_and_its_metadata(tmp_path: Path) -> None:
    store = _store(tmp_path / "objects")
    await store.open()
    await store.put("posts/p/medium.jpg", b"jpeg", "image/jpeg")
    names = sorted(p.name for p in (tmp_path / "objects" / "posts" / "p").iterdir())
    assert names == [".medium.jpg.meta", "medium.jpg"]
    await store.delete("posts/p/medium.jpg")
    assert list((tmp_path / "objects").iterdir()) == []  # empty directories pruned too
