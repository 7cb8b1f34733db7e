"""A ledger of every variant object the servers write: inotify on ``<data-dir>/objects/posts``.

The local store makes each object appear by a rename (or a link) of a finished temp file, so every
write of a key is one IN_MOVED_TO/IN_CREATE event on its directory; the watcher then hashes what
the key holds. Per-claim keys (``posts/{post}/{claim}/{variant}.jpg``) make "no key written twice
with different bytes" checkable: a key whose hashes differ was overwritten. (Two writes of one key
that both land before the watcher reads it would show as one: a rename race too narrow to matter
for the claim-level rewrites this looks for, and noted in the report.)
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from inotify_simple import INotify, flags

_DIR_EVENTS = flags.CREATE | flags.MOVED_TO | flags.CLOSE_WRITE | flags.ONLYDIR


class ObjectLedger:
    def __init__(self, objects_root: Path) -> None:
        self.root = objects_root
        self.posts = objects_root / "posts"
        self.hashes: dict[str, list[str]] = {}  # key -> distinct hashes, in the order seen
        self.writes = 0
        self._inotify = INotify()
        self._dirs: dict[int, Path] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="object-ledger", daemon=True)

    def start(self) -> None:
        self.posts.mkdir(parents=True, exist_ok=True)
        self._watch_tree(self.posts)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._inotify.close()

    def _watch_tree(self, top: Path) -> None:
        for dirpath, _dirs, files in os.walk(top):
            path = Path(dirpath)
            try:
                wd = self._inotify.add_watch(path, _DIR_EVENTS)
            except OSError:
                continue  # removed meanwhile (a sweep)
            self._dirs[wd] = path
            for name in files:  # written before the watch was in place
                self._saw(path / name)

    def _run(self) -> None:
        while not self._stop.is_set():
            for event in self._inotify.read(timeout=200):
                parent = self._dirs.get(event.wd)
                if parent is None or not event.name:
                    continue
                path = parent / event.name
                if event.mask & flags.ISDIR:
                    self._watch_tree(path)
                else:
                    self._saw(path)

    def _saw(self, path: Path) -> None:
        if path.name.startswith("."):
            return  # temp files and content-type sidecars
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return  # swept before we read it
        key = path.relative_to(self.root).as_posix()
        with self._lock:
            self.writes += 1
            seen = self.hashes.setdefault(key, [])
            if not seen or seen[-1] != digest:
                seen.append(digest)

    def snapshot(self) -> dict[str, list[str]]:
        with self._lock:
            return {k: list(v) for k, v in self.hashes.items()}

    def final_sweep(self) -> None:
        """Hash what is on disk now too: the end state is part of the ledger."""
        for dirpath, _dirs, files in os.walk(self.posts):
            for name in files:
                self._saw(Path(dirpath) / name)
